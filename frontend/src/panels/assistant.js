// The Assistant tab: ask the twin in plain words (POST /api/assistant/), see what it understood
// in words and on the map (the preview, drawn in its own layers and taken off again), answer a
// clarifying question with one click, confirm (POST /api/assistant/confirm/: the edits go
// through the scenario's own validation, a run starts if one was asked) and follow the run to
// its key figures, with a link to the run and its layers. Nothing changes before Confirm.

import { ApiError, post, token } from "../api.js";
import { el, say } from "../dom.js";
import { kpiTable, quantity } from "../kpis.js";
import { ACTIVE, errorText, followRun } from "../runs.js";
import { onChange, set, state } from "../state.js";

const SOURCE = "assistant-preview";
const LAYERS = ["assistant-preview-fill", "assistant-preview-line", "assistant-preview-point"];
const COLOUR = "#d500f9"; // a colour no other layer uses: the preview stands out
const EMPTY = { type: "FeatureCollection", features: [] };
// the conversation outlives a reload of the page (a link followed) within this tab only
const STORE_KEY = "citytwin.assistant";
const MAX_KEPT = 30;

/** The page's link to a scenario and its run (the results tab shows the run's layers). */
function runHref(scenario, run) {
  const p = new URLSearchParams({ city: state.city, scenario });
  if (run) p.set("run", run);
  return `#${p.toString()}`;
}

/** Follow a link to the page itself: a reload from the link shows exactly what it names. */
function openLink(ev) {
  ev.preventDefault();
  history.replaceState(null, "", ev.currentTarget.getAttribute("href"));
  location.reload();
}

const simulator = (name) => state.simulators?.find((s) => s.name === name);

/** A run request in words: "Traffic (Time of day 17 h)". */
function runWords(run) {
  const spec = simulator(run.simulator);
  const props = spec?.parameters?.properties || {};
  const params = Object.entries(run.params || {}).map(([key, value]) => {
    const prop = props[key];
    const unit = prop?.["x-unit"];
    const shown = typeof value === "number" ? quantity(value, unit) : String(value);
    return `${prop?.title || key.replaceAll("_", " ")} ${shown}`;
  });
  return `${spec?.label || run.simulator}${params.length ? ` (${params.join(", ")})` : ""}`;
}

function boundsOf(geojson) {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === "number") {
      x0 = Math.min(x0, c[0]);
      y0 = Math.min(y0, c[1]);
      x1 = Math.max(x1, c[0]);
      y1 = Math.max(y1, c[1]);
    } else c.forEach(walk);
  };
  for (const f of geojson.features || []) if (f.geometry?.coordinates) walk(f.geometry.coordinates);
  return Number.isFinite(x0) ? [[x0, y0], [x1, y1]] : null;
}

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]");
  } catch {
    return [];
  }
}

function init(section) {
  const map = state.map;
  const history_ = el("ol", { id: "assistant-history", "aria-live": "polite" });
  const text = el("textarea", { id: "assistant-text", name: "text", rows: 3, placeholder: "e.g. close Mannerheimintie and run traffic at 17:00", "aria-label": "Ask the twin" });
  const ask = el("button", { type: "submit", id: "assistant-ask" }, "Ask");
  const form = el("form", { id: "assistant-form" }, text, ask);
  const message = el("p", { id: "assistant-status" });
  const clear = el("button", { type: "button", id: "assistant-clear", class: "link" }, "Clear the conversation");
  section.append(
    el("p", { class: "hint" }, "Ask in plain words: close or change a street, add a building or a shelter, a hazard zone, run a simulator, or ask about the city and its runs. What the twin understood is listed and drawn on the map; nothing changes until you confirm."),
    history_,
    form,
    message,
    clear,
  );

  let kept = load(); // [{text, reply, result, error}] as shown, newest last
  let pending = null; // the exchange awaiting confirmation: {token, node}
  let follow = null; // AbortController of the run followed
  let disposed = false;

  const save = () => {
    kept = kept.slice(-MAX_KEPT);
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(kept));
    } catch {
      /* storage full or off: the conversation lives as long as the page */
    }
  };

  // -- the preview on the map -------------------------------------------------------------------
  function ensureLayers() {
    if (map.getSource(SOURCE)) return;
    map.addSource(SOURCE, { type: "geojson", data: EMPTY });
    const kind = (...types) => ["in", ["geometry-type"], ["literal", types]];
    map.addLayer({ id: LAYERS[0], type: "fill", source: SOURCE, filter: kind("Polygon", "MultiPolygon"), paint: { "fill-color": COLOUR, "fill-opacity": 0.35 } });
    map.addLayer({ id: LAYERS[1], type: "line", source: SOURCE, filter: kind("LineString", "MultiLineString", "Polygon", "MultiPolygon"), paint: { "line-color": COLOUR, "line-width": 6, "line-opacity": 0.9 } });
    map.addLayer({ id: LAYERS[2], type: "circle", source: SOURCE, filter: kind("Point", "MultiPoint"), paint: { "circle-radius": 9, "circle-color": COLOUR, "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
  }

  function showPreview(geojson) {
    const features = geojson?.features || [];
    if (!features.length) return clearPreview();
    ensureLayers();
    map.getSource(SOURCE).setData(geojson);
    const b = boundsOf(geojson);
    if (b) map.fitBounds(b, { padding: 60, maxZoom: 17, duration: 0 });
  }

  function clearPreview() {
    for (const id of LAYERS) if (map.getLayer(id)) map.removeLayer(id);
    if (map.getSource(SOURCE)) map.removeSource(SOURCE);
  }

  // -- one exchange in the history ----------------------------------------------------------------
  function replyNodes(reply) {
    const out = [];
    if (reply.understood?.length) {
      out.push(el("p", { class: "muted" }, "Understood:"), el("ul", { class: "understood" }, ...reply.understood.map((u) => el("li", {}, u))));
    }
    if (reply.run) out.push(el("p", { class: "run-request" }, `Then run: ${runWords(reply.run)}`));
    if (reply.answer) out.push(el("p", { class: "answer" }, reply.answer));
    if (reply.clarify) {
      out.push(el("p", { class: "clarify-question" }, reply.clarify.question));
      const box = el("div", { class: "candidates" });
      for (const c of reply.clarify.candidates || []) {
        box.append(el("button", { type: "button", "data-text": c.text, onclick: () => send(c.text) }, c.label));
      }
      out.push(box);
    }
    if (!out.length) out.push(el("p", { class: "muted" }, "The twin found nothing to do in that."));
    return out;
  }

  function resultNodes(result) {
    const links = el("p", { class: "result-links" }, el("a", { href: runHref(result.scenario), "data-link": "scenario", onclick: openLink }, `Scenario #${result.scenario}`));
    if (result.run) links.append(" · ", el("a", { href: runHref(result.scenario, result.run), "data-link": "run", onclick: openLink }, "the run and its layers"));
    return [el("p", { class: "answer confirmed" }, result.answer || "Done."), links];
  }

  function exchangeNode(entry) {
    const li = el("li", { class: "exchange" }, el("p", { class: "question" }, entry.text));
    const reply = el("div", { class: "reply" });
    if (entry.error) reply.append(el("p", { class: "status status-error" }, entry.error));
    if (entry.reply) reply.append(...replyNodes(entry.reply));
    if (entry.result) reply.append(...resultNodes(entry.result));
    li.append(reply);
    return li;
  }

  function render() {
    history_.replaceChildren(...kept.map(exchangeNode));
  }

  // -- asking -----------------------------------------------------------------------------------
  function endPending() {
    pending?.node.querySelector(".confirm-box")?.remove();
    pending = null;
    clearPreview();
  }

  async function send(words) {
    const value = (words ?? text.value).trim();
    if (!value) return say(message, "Type a question or a change first.", "error");
    if (!state.city) return say(message, "Choose a city first.", "error");
    endPending();
    const entry = { text: value };
    kept.push(entry);
    const node = exchangeNode(entry);
    history_.append(node);
    ask.disabled = true;
    say(message, "Reading…");
    const body = { city: state.city, text: value };
    if (state.scenario != null) body.scenario = state.scenario;
    try {
      const reply = await post("/api/assistant/", body);
      if (disposed) return;
      // kept without the preview and the token: both are for this page only
      entry.reply = { understood: reply.understood || [], run: reply.run || null, answer: reply.answer || null, clarify: reply.clarify || null };
      const fresh = exchangeNode(entry);
      node.replaceWith(fresh);
      if (reply.confirm_token) offerConfirm(fresh, reply);
      showPreview(reply.preview);
      say(message, reply.confirm_token ? "Check what the twin understood (drawn on the map), then confirm." : "", "info");
      if (words == null) text.value = "";
    } catch (err) {
      entry.error = err instanceof ApiError ? err.message : `The assistant failed: ${err.message}`;
      node.replaceWith(exchangeNode(entry));
      say(message, entry.error, "error");
    } finally {
      ask.disabled = false;
      save();
      history_.lastElementChild?.scrollIntoView({ block: "nearest" });
    }
  }

  /** Where Confirm puts the edits: the scenario shown when the user may edit it, else a new one. */
  function target() {
    const s = state.scenarioRecord;
    return s && s.id === state.scenario && !s.is_baseline && s.access !== "read" ? s : null;
  }

  function offerConfirm(node, reply) {
    const into = target();
    const where = reply.edits?.length ? (into ? `adds the edits to “${into.name}”` : "creates a new scenario with the edits") : "starts the run";
    const confirm = el("button", { type: "button", id: "assistant-confirm", class: "primary" }, "Confirm");
    const discard = el("button", { type: "button", id: "assistant-discard" }, "Discard");
    const box = el("div", { class: "confirm-box" }, el("p", { class: "muted" }, `Confirm ${where}${reply.run ? (reply.edits?.length ? " and starts the run" : "") : ""}.`), confirm, " ", discard);
    node.querySelector(".reply").append(box);
    pending = { token: reply.confirm_token, node };
    discard.addEventListener("click", () => {
      endPending();
      say(message, "Discarded: nothing was changed.", "info");
    });
    confirm.addEventListener("click", () => doConfirm(node, reply, into));
  }

  async function doConfirm(node, reply, into) {
    if (!token()) return say(message, "Sign in to confirm: changes are made in your own scenarios.", "error");
    const entry = kept[kept.length - 1];
    const body = { confirm_token: pending.token };
    if (into) body.scenario = into.id;
    for (const b of node.querySelectorAll(".confirm-box button")) b.disabled = true;
    say(message, "Applying…");
    let result;
    try {
      result = await post("/api/assistant/confirm/", body);
    } catch (err) {
      for (const b of node.querySelectorAll(".confirm-box button")) b.disabled = false;
      return say(message, `Not applied: ${err.message}`, "error");
    }
    endPending();
    entry.result = { scenario: result.scenario, run: result.run || null, answer: result.answer || "" };
    save();
    const reply_ = node.querySelector(".reply");
    reply_.append(...resultNodes(entry.result));
    say(message, result.run ? "Applied; the run is under way." : "Applied.", "ok");
    // the page switches to the scenario (the scenario panel reads it again) and its run
    set({ scenario: result.scenario, run: result.run || null, base: null, compare: "", t: null }, { reason: "open" });
    if (result.run) followTo(reply_, result.run, reply.run?.simulator);
  }

  /** The run's progress, then its key figures with units, in the exchange. */
  async function followTo(node, runId, simulatorName) {
    follow?.abort();
    follow = new AbortController();
    const line = el("p", { class: "run-progress", "data-run": runId }, "The run is queued…");
    const figures = el("div", { class: "run-figures" });
    node.append(line, figures);
    let last;
    try {
      last = await followRun({ id: runId, status: "queued" }, {
        signal: follow.signal,
        onUpdate: (r) => {
          const pct = r.progress_percent != null ? ` ${Math.round(r.progress_percent)} %` : "";
          line.textContent = ACTIVE.includes(r.status) ? `The run is ${r.status}${pct}${r.stage ? ` (${r.stage})` : ""}…` : `The run ${r.status}.`;
        },
      });
    } catch (err) {
      line.textContent = `The run cannot be followed: ${err.message}`;
      return;
    }
    if (!last) return;
    line.dataset.status = last.status;
    if (last.status === "succeeded") {
      const spec = simulator(last.simulator || simulatorName);
      figures.replaceChildren(kpiTable(last, spec?.kpis || []));
    } else {
      line.textContent = `The run ${last.status}: ${errorText(last.error)}`;
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    send();
  });
  text.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      send();
    }
  });
  clear.addEventListener("click", () => {
    endPending();
    kept = [];
    save();
    render();
    say(message, "");
  });

  render();
  const stop = onChange((changes, meta) => {
    if ("city" in changes) endPending(); // the preview belongs to the city it was asked about
    if ("user" in changes && meta.reason !== "expired") {
      // another person at this page: the conversation was the previous one's
      endPending();
      kept = [];
      save();
      render();
    }
  });
  return {
    dispose() {
      disposed = true;
      follow?.abort();
      stop();
      clearPreview();
    },
  };
}

export default { id: "assistant", title: "Assistant", init };
