// The account dialog of the top bar: how to get an account (signed out) and changing one's own
// password (signed in; POST /api/auth/password/ answers a new API token, the old one stops working).

import { post, setToken } from "./api.js";
import { $, say } from "./dom.js";

export function initAccount(status) {
  const dialog = $("#account-dialog");
  const helpText = $("#account-help-text");
  const form = $("#password-form");
  const out = $("#password-status");
  const open = (which) => {
    helpText.hidden = which !== "help";
    form.hidden = which !== "password";
    out.textContent = "";
    form.reset();
    dialog.showModal();
  };
  $("#account-help").addEventListener("click", () => open("help"));
  $("#change-password").addEventListener("click", () => open("password"));
  $("#account-close").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    if (data.new_password !== data.repeat) {
      say(out, "The two new passwords differ.", "error");
      return;
    }
    try {
      const res = await post("/api/auth/password/", { old_password: data.old_password, new_password: data.new_password });
      setToken(res.token);
      dialog.close();
      say(status, "Password changed.", "ok");
    } catch (err) {
      // the server names the field and says what is wrong in words
      say(out, err.message.replace(/^(old_password|new_password): /, ""), "error");
    }
  });
}
