// Sign-in in the top bar: an API token kept in local storage; the user's name goes to the store
// (state.user), where the panels hear it.

import { post, setToken, token } from "./api.js";
import { initAccount } from "./account.js";
import { $, say } from "./dom.js";
import { onChange, set } from "./state.js";

export function initLogin(status) {
  const form = $("#login");
  const who = $("#whoami");
  const out = $("#logout");
  const help = $("#account-help");
  const change = $("#change-password");
  const show = (name) => {
    form.hidden = help.hidden = !!name;
    who.hidden = out.hidden = change.hidden = !name;
    who.textContent = name ? `signed in as ${name}` : "";
    document.body.dataset.user = name || "";
  };
  onChange((changes, meta) => {
    if (!("user" in changes)) return;
    show(changes.user);
    // the API dropped a stale token: offer the sign-in form again
    if (meta.reason === "expired") say(status, "Your sign-in has expired: please sign in again.", "info");
  });
  set({ user: token() ? localStorage.getItem("citytwin.user") || "you" : "" });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    try {
      const res = await post("/api/auth/token/", data);
      setToken(res.token);
      localStorage.setItem("citytwin.user", data.username);
      set({ user: data.username });
      say(status, "Signed in.", "ok");
    } catch (err) {
      say(status, `Sign-in failed: ${err.status === 400 ? "wrong user name or password" : err.message}`, "error");
    }
  });
  initAccount(status);
  out.addEventListener("click", () => {
    setToken("");
    localStorage.removeItem("citytwin.user");
    set({ user: "" });
  });
}
