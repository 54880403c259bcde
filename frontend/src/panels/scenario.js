// The Scenario tab: create, clone, select and delete scenarios; edit on the map with the tools of
// edits.js; the list of edits with undo; the edits drawn over the map. The scenario shown goes to
// the store (state.scenarioRecord) for the other panels. API contract: docs/scenarios.md. What is
// particular to an edit type (its tool, its words, its look on the map) is in ../edits.js.

import { del, get, getAll, patch, post, token } from "../api.js";
import { unregister } from "../catalogue.js";
import { $, el, say } from "../dom.js";
import { initDraw, stop as stopTool } from "../draw.js";
import { EDIT_TOOLS, addEditLayers, closeStreet, describeEdit, showEditedRoads } from "../edits.js";
import { FieldError, plainField } from "../runform.js";
import { onChange, set, state } from "../state.js";

const EMPTY = { type: "FeatureCollection", features: [] };

/** The edits as GeoJSON from their own geometry (when the server's edits.geojson fails). */
function editsToGeojson(edits) {
  const features = [];
  edits.forEach((e, index) => {
    const geometry = e.footprint || e.polygon || e.point || e.line || e.zone;
    if (geometry) features.push({ type: "Feature", geometry, properties: { index, type: e.type, height_m: e.height_m } });
  });
  return { type: "FeatureCollection", features };
}

// whose it is and what you may do with it, when it is not simply yours
const ACCESS_WORDS = { read: "read only", edit: "you may edit" };
function optionText(s) {
  const whose = !s.is_baseline && s.access !== "owner" && s.owner ? `${s.owner}'s, ${ACCESS_WORDS[s.access] || s.access}` : "";
  const extra = [whose, s.public && !s.is_baseline ? "public" : ""].filter(Boolean).join(", ");
  return `${s.is_baseline ? "★ " : ""}${s.name} (v${s.version}, ${s.edits?.length ?? 0} edits${extra ? `; ${extra}` : ""})`;
}

// a scenario asked for by a link that this user may not see (yet: signing in may show it)
let askedByLink = null;
let firstLoad = true; // the first list of scenarios is the one the page's link asked for

function init(section) {
  const { map } = state;
  initDraw(map, $("#tool-hint"));
  section.innerHTML = `
    <div id="scenario-panel">
    <div class="row"><label>Scenario <select id="scenario-select" aria-label="scenario"></select></label></div>
    <div class="row">
      <input id="scenario-name" placeholder="name of a new scenario" aria-label="new scenario name">
      <button type="button" id="scenario-new">New</button>
      <button type="button" id="scenario-clone">Clone</button>
      <button type="button" id="scenario-delete" title="delete this scenario">Delete</button>
      <button type="button" id="scenario-share" title="share this scenario with named people, or with everyone">Share…</button>
    </div>
    <dialog id="share-dialog" class="account-dialog">
      <h3>Share “<span id="share-name"></span>”</h3>
      <label><input type="checkbox" id="share-public"> Public: everyone can see it and its runs (read only), signed in or not</label>
      <ul id="share-list" class="edit-list"></ul>
      <form id="share-form" method="dialog">
        <label>User name <input name="user" required autocomplete="off"></label>
        <label>May <select name="access"><option value="read">look and run</option><option value="edit">also change the edits</option></select></label>
        <button type="submit">Share</button>
      </form>
      <p id="share-status" class="status"></p>
      <button type="button" id="share-close">Close</button>
    </dialog>
    <div id="scenario-status" class="status"></div>
    <h3>Edit on the map</h3>
    <div class="tools" id="edit-tools"></div>
    <form id="close-street" class="row" autocomplete="off">
      <label>Close a whole street <input name="street" list="street-names" placeholder="street name" aria-label="street to close" required></label>
      <datalist id="street-names"></datalist>
      <button type="submit">Close it</button>
    </form>
    <div id="edit-form"></div>
    <h3>Edits <button type="button" id="edit-undo">Undo last</button> <button type="button" id="edit-redo">Redo</button></h3>
    <ol id="edit-list" class="edit-list"></ol>
    </div>`;
  const select = $("#scenario-select", section);
  const status = $("#scenario-status", section);
  const form = $("#edit-form", section);
  const list = $("#edit-list", section);
  const toolBox = $("#edit-tools", section);
  let scenarios = [];
  let current = null;
  let undone = []; // edits taken back by undo, for redo (of the scenario undoneFor only)
  let undoneFor = null;

  addEditLayers(map);

  const readOnly = () => !current || current.is_baseline || !token() || current.access === "read";

  function renderEdits() {
    list.replaceChildren();
    const edits = current?.edits || [];
    edits.forEach((edit, i) => {
      // the server's words name the streets and buildings an edit touches
      const li = el("li", { "data-index": i, "data-type": edit.type }, el("span", {}, current.edit_labels?.[i] || describeEdit(edit)));
      if (!readOnly()) li.append(" ", el("button", { type: "button", class: "link", title: "remove this edit", onclick: () => removeEdit(i) }, "✕"));
      list.append(li);
    });
    if (!edits.length) list.append(el("li", { class: "muted" }, current?.is_baseline ? "The baseline has no edits (it is the city as imported)." : "No edits yet."));
    $("#edit-undo", section).disabled = readOnly() || !edits.length;
    $("#edit-redo", section).disabled = readOnly() || !undone.length || undoneFor !== current?.id;
    for (const b of toolBox.querySelectorAll("button")) b.disabled = readOnly() && b.dataset.tool !== "stop";
    showEditedRoads(map, edits);
  }

  async function loadEditsGeojson() {
    if (!current) return map.getSource("edits").setData(EMPTY);
    try {
      map.getSource("edits").setData(await get(`/api/scenarios/${current.id}/edits.geojson`));
    } catch {
      // the edits list still shows them; draw what we can from the edits themselves
      map.getSource("edits").setData(editsToGeojson(current.edits || []));
    }
  }

  // an edit under way belongs to the scenario it was started on: another scenario ends it
  function endEditing() {
    stopTool();
    form.innerHTML = "";
  }

  let generation = 0; // counts the scenarios shown: a reload started earlier must not undo a later choice

  function show(scenario) {
    generation++;
    if (scenario?.id !== current?.id) endEditing();
    current = scenario;
    if (scenario) select.value = String(scenario.id);
    renderEdits();
    loadEditsGeojson();
    set({ scenarioRecord: scenario });
  }

  async function reload() {
    endEditing();
    if (!state.city) return;
    const gen = generation;
    try {
      // make sure the baseline exists (created on demand), then list
      const baseline = await get(`/api/cities/${state.city}/baseline/`).catch(() => null);
      scenarios = await getAll(`/api/scenarios/?city=${state.city}`);
      if (baseline && !scenarios.some((s) => s.id === baseline.id)) scenarios.unshift(baseline);
    } catch (err) {
      say(status, `Scenarios are not available: ${err.message}`, "error");
      scenarios = [];
    }
    if (gen !== generation) return; // a scenario was chosen or made meanwhile: that choice stands
    select.replaceChildren(...scenarios.map((s) => new Option(optionText(s), s.id)));
    const asked = askedByLink ?? state.scenario;
    const found = scenarios.find((s) => s.id === asked);
    // only a link says "you may not see this": after signing out, the private scenario one was
    // on simply gives way to the baseline
    const fromLink = firstLoad || askedByLink != null;
    firstLoad = false;
    if (asked != null && !found && fromLink) {
      // say so, never fall back silently: the link may be private, shared with others, or gone
      askedByLink = asked;
      const how = token() ? "Ask its owner to share it with you." : "Sign in: it may be shared with you.";
      const words = `This link points to a scenario you may not see (it is private or was deleted). ${how} Showing the baseline.`;
      say(status, words, "error");
      say($("#map-status"), words, "error");
    } else if (found && askedByLink != null) {
      askedByLink = null;
      say($("#map-status"), `Showing “${found.name}” from the link.`, "ok");
    }
    const want = found || scenarios.find((s) => s.is_baseline) || scenarios[0] || null;
    if (want && state.scenario !== want.id) set({ scenario: want.id });
    show(want);
    if (!token() && !(asked != null && !found)) say(status, "Sign in to create and edit scenarios (the baseline is visible to all).");
  }

  async function refreshCurrent(updated) {
    const scenario = updated || (await get(`/api/scenarios/${current.id}/`));
    const i = scenarios.findIndex((s) => s.id === scenario.id);
    if (i >= 0) scenarios[i] = scenario;
    const opt = [...select.options].find((o) => Number(o.value) === scenario.id);
    if (opt) opt.textContent = optionText(scenario);
    show(scenario);
  }

  select.addEventListener("change", () => {
    const s = scenarios.find((x) => x.id === Number(select.value));
    set({ scenario: s.id, run: null, base: null, compare: "" });
    show(s);
  });

  async function create(kind) {
    const name = $("#scenario-name", section).value.trim();
    try {
      let s;
      if (kind === "new") {
        if (!name) return say(status, "Give the new scenario a name.", "error");
        s = await post("/api/scenarios/", { city: state.city, name });
      } else {
        if (!current) return;
        s = await post(`/api/scenarios/${current.id}/clone/`, name ? { name } : {});
      }
      scenarios.push(s);
      select.append(new Option(optionText(s), s.id));
      set({ scenario: s.id, run: null, base: null, compare: "" });
      show(s);
      $("#scenario-name", section).value = "";
      say(status, `Scenario “${s.name}” ${kind === "new" ? "created" : "cloned"}.`, "ok");
    } catch (err) {
      say(status, `Could not ${kind === "new" ? "create" : "clone"} the scenario: ${err.message}`, "error");
    }
  }
  $("#scenario-new", section).addEventListener("click", () => create("new"));
  $("#scenario-clone", section).addEventListener("click", () => create("clone"));
  $("#scenario-delete", section).addEventListener("click", async () => {
    if (readOnly() || !confirm(`Delete the scenario “${current.name}” and its runs?`)) return;
    try {
      await del(`/api/scenarios/${current.id}/`);
      set({ scenario: null, run: null, base: null });
      await reload();
    } catch (err) {
      say(status, `Could not delete: ${err.message}`, "error");
    }
  });

  async function addEdit(target, edit) {
    if (target == null) return false;
    try {
      const updated = await post(`/api/scenarios/${target}/edits/`, edit);
      if (current?.id !== target) return true; // another scenario is shown now: leave it be
      await refreshCurrent(updated && updated.edits ? updated : null);
      say(status, `Added: ${describeEdit(edit)}.`, "ok");
      return true;
    } catch (err) {
      say(status, `The edit was refused: ${err.message}`, "error");
      return false;
    }
  }

  async function removeEdit(index) {
    try {
      const updated = await del(`/api/scenarios/${current.id}/edits/${index}/`);
      await refreshCurrent(updated && updated.edits ? updated : null);
      say(status, "Edit removed.", "ok");
    } catch (err) {
      say(status, `Could not remove the edit: ${err.message}`, "error");
    }
  }
  $("#edit-undo", section).addEventListener("click", async () => {
    const n = current?.edits?.length || 0;
    if (!n) return;
    // what undo takes back, redo puts back (the server checks it again)
    const last = current.edits[n - 1];
    if (undoneFor !== current.id) undone = [];
    undoneFor = current.id;
    await removeEdit(n - 1);
    undone.push(last);
    renderEdits();
  });
  $("#edit-redo", section).addEventListener("click", async () => {
    if (undoneFor !== current?.id || !undone.length) return;
    const edit = undone.pop();
    if (!(await addEdit(current.id, edit))) undone.push(edit);
    renderEdits();
  });

  /**
   * The parameters of an edit being drawn, from its type's schema (GET /api/edit-types/): the
   * same ranges as the server's, checked here before anything is sent. `initial`: {field: value
   * or undefined}, in display order; onSubmit(values) -> true when the edit was added.
   */
  function paramsForm(title, type, initial, onSubmit) {
    form.innerHTML = "";
    const schema = state.editTypes?.find((k) => k.type === type)?.schema;
    if (!schema) return say(status, "The edit types are not available from the server: reload the page.", "error");
    const f = el("form", { class: "edit-params", novalidate: true }, el("strong", {}, title));
    const fields = Object.entries(initial).map(([name, value]) => ({ name, ...plainField(name, schema.properties?.[name] || { type: "string" }, { value }) }));
    for (const field of fields) f.append(field.label);
    f.append(el("button", { type: "submit" }, "Add"), " ", el("button", { type: "button", onclick: () => (form.innerHTML = "") }, "Cancel"));
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const field of fields) {
        field.input.removeAttribute("aria-invalid");
        try {
          const v = field.read();
          if (v === undefined && schema.required?.includes(field.name)) throw new FieldError(field.name, "is required");
          if (v !== undefined) values[field.name] = v;
        } catch (err) {
          if (!(err instanceof FieldError)) throw err;
          field.input.setAttribute("aria-invalid", "true");
          field.input.focus();
          return say(status, `The edit was refused before it was sent: ${err.message}.`, "error");
        }
      }
      if (await onSubmit(values)) form.innerHTML = "";
    });
    form.append(f);
    setTimeout(() => f.querySelector("input,select")?.focus(), 0);
  }

  // the tool buttons, from the edit types of edits.js, and Done
  for (const tool of EDIT_TOOLS) {
    toolBox.append(
      el("button", {
        type: "button",
        "data-tool": tool.id || tool.type,
        onclick: () => {
          if (readOnly()) return say(status, token() ? "The baseline is read-only: clone it or make a new scenario." : "Sign in to edit.", "error");
          // the scenario shown now is the one the edit goes to, whatever happens meanwhile
          // a new edit ends what redo could put back
          const fresh = (target, edit) => {
            undone = [];
            return addEdit(target, edit);
          };
          tool.start(current?.id, { addEdit: fresh, paramsForm });
        },
      }, tool.button),
    );
  }
  toolBox.append(el("button", { type: "button", "data-tool": "stop", onclick: endEditing }, "Done"));

  // -- a whole street by name: every segment, both ways (the server resolves the name) ---------
  const streetForm = $("#close-street", section);
  const streetInput = streetForm.querySelector("input");
  let lookup = null;
  streetInput.addEventListener("input", () => {
    clearTimeout(lookup);
    const q = streetInput.value.trim();
    if (q.length < 2 || !state.city) return;
    lookup = setTimeout(async () => {
      try {
        const found = await get(`/api/cities/${state.city}/search/?kind=street&q=${encodeURIComponent(q)}`);
        $("#street-names", section).replaceChildren(...found.results.map((p) => el("option", { value: p.name }, p.label)));
      } catch {
        /* suggestions are a help, not a must */
      }
    }, 200);
  });
  streetForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (readOnly()) return say(status, token() ? "This scenario is read-only for you: clone it to edit." : "Sign in to edit.", "error");
    if (await addEdit(current.id, closeStreet(streetInput.value.trim()))) streetForm.reset();
  });

  // -- sharing (owner only): named people to read or edit, or public --------------------------
  const shareDialog = $("#share-dialog", section);
  const shareStatus = $("#share-status", section);
  function renderShares(shares) {
    const ul = $("#share-list", section);
    ul.replaceChildren(
      ...shares.map((s) =>
        el("li", { "data-user": s.user }, `${s.user}: ${s.access === "edit" ? "may edit" : "may look and run"} `, el("button", { type: "button", class: "link", title: `stop sharing with ${s.user}`, onclick: () => unshare(s.user) }, "✕")),
      ),
    );
    if (!shares.length) ul.append(el("li", { class: "muted" }, "Not shared with anyone by name."));
  }
  async function unshare(user) {
    try {
      await del(`/api/scenarios/${current.id}/shares/${encodeURIComponent(user)}/`);
      renderShares(await get(`/api/scenarios/${current.id}/shares/`));
    } catch (err) {
      say(shareStatus, err.message, "error");
    }
  }
  $("#scenario-share", section).addEventListener("click", () => {
    if (!current || current.is_baseline || current.access !== "owner") {
      return say(status, current?.is_baseline ? "The baseline is visible to everyone already." : "Only the scenario's owner can share it.", "error");
    }
    $("#share-name", section).textContent = current.name;
    $("#share-public", section).checked = !!current.public;
    shareStatus.textContent = "";
    renderShares(current.shares || []);
    shareDialog.showModal();
  });
  $("#share-close", section).addEventListener("click", () => {
    shareDialog.close();
    refreshCurrent().catch(() => {});
  });
  $("#share-public", section).addEventListener("change", async (ev) => {
    try {
      await patch(`/api/scenarios/${current.id}/`, { public: ev.target.checked });
      say(shareStatus, ev.target.checked ? "Public: anyone with the link can see it." : "No longer public.", "ok");
    } catch (err) {
      ev.target.checked = !ev.target.checked;
      say(shareStatus, err.message, "error");
    }
  });
  $("#share-form", section).addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(ev.target));
    try {
      renderShares(await post(`/api/scenarios/${current.id}/shares/`, data));
      say(shareStatus, `Shared with ${data.user}. Send them the page's link.`, "ok");
      ev.target.reset();
    } catch (err) {
      say(shareStatus, err.message, "error");
    }
  });

  const stop = onChange((changes, meta) => {
    // another city, or another user (whose scenarios differ): the list again
    if ("city" in changes || ("user" in changes && meta.reason !== "expired")) reload();
    // another panel opens a scenario (the assistant's confirmed edits): the list again, showing it
    else if (meta.reason === "open" && "scenario" in changes) reload();
  });

  get("/api/edit-types/")
    .then((doc) => set({ editTypes: doc.edit_types || [] }))
    .catch((err) => say(status, `The edit types are not available: ${err.message}`, "error"));
  reload();
  return {
    dispose() {
      stop();
      endEditing();
      unregister("edits");
    },
  };
}

export default { id: "scenario", title: "Scenario", init };
