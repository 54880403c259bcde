// Scenarios: create, clone, select; edit on the map (close roads, change lanes, add a building,
// hazard zone, shelter); the list of edits with undo. API contract: docs/scenarios.md.

import { del, get, getAll, post, token } from "./api.js";
import { $, el, escapeHtml, say } from "./dom.js";
import { initDraw, start as startTool, stop as stopTool } from "./draw.js";
import { register, unregister } from "./catalogue.js";
import { set, state } from "./state.js";

const EMPTY = { type: "FeatureCollection", features: [] };

export function initScenarios(app, container) {
  const { map } = app;
  initDraw(map, $("#tool-hint"));
  container.innerHTML = `
    <div class="row"><label>Scenario <select id="scenario-select" aria-label="scenario"></select></label></div>
    <div class="row">
      <input id="scenario-name" placeholder="name of a new scenario" aria-label="new scenario name">
      <button type="button" id="scenario-new">New</button>
      <button type="button" id="scenario-clone">Clone</button>
      <button type="button" id="scenario-delete" title="delete this scenario">Delete</button>
    </div>
    <div id="scenario-status" class="status"></div>
    <h3>Edit on the map</h3>
    <div class="tools" id="edit-tools">
      <button type="button" data-tool="close_road">Close roads</button>
      <button type="button" data-tool="change_road">Change lanes</button>
      <button type="button" data-tool="add_building">Draw a building</button>
      <button type="button" data-tool="hazard_zone">Hazard zone</button>
      <button type="button" data-tool="add_shelter">Place a shelter</button>
      <button type="button" data-tool="stop">Done</button>
    </div>
    <div id="edit-form"></div>
    <h3>Edits <button type="button" id="edit-undo">Undo last</button></h3>
    <ol id="edit-list" class="edit-list"></ol>`;
  const select = $("#scenario-select", container);
  const status = $("#scenario-status", container);
  const form = $("#edit-form", container);
  const list = $("#edit-list", container);
  let scenarios = [];
  let current = null;

  // the edits drawn over the map
  map.addSource("edits", { type: "geojson", data: EMPTY });
  const isType = (t) => ["==", ["get", "type"], t];
  map.addLayer({ id: "edits-zone", type: "fill", source: "edits", filter: isType("hazard_zone"), paint: { "fill-color": "#d50000", "fill-opacity": 0.25 } });
  map.addLayer({ id: "edits-zone-line", type: "line", source: "edits", filter: isType("hazard_zone"), paint: { "line-color": "#d50000", "line-width": 2 } });
  map.addLayer({ id: "edits-building", type: "fill-extrusion", source: "edits", filter: isType("add_building"), paint: { "fill-extrusion-color": "#ff6f00", "fill-extrusion-height": ["coalesce", ["get", "height_m"], 10], "fill-extrusion-opacity": 0.9 } });
  map.addLayer({ id: "edits-road", type: "line", source: "edits", filter: ["==", ["geometry-type"], "LineString"], paint: { "line-color": ["match", ["get", "type"], "close_road", "#b71c1c", "#6a1b9a"], "line-width": 5, "line-dasharray": [1, 1] } });
  map.addLayer({ id: "edits-closed", type: "line", source: "roads", "source-layer": "roads", filter: ["in", ["get", "id"], ["literal", []]], paint: { "line-color": "#b71c1c", "line-width": 5, "line-dasharray": [1, 1] } });
  map.addLayer({ id: "edits-changed", type: "line", source: "roads", "source-layer": "roads", filter: ["in", ["get", "id"], ["literal", []]], paint: { "line-color": "#6a1b9a", "line-width": 5, "line-opacity": 0.8 } });
  map.addLayer({ id: "edits-shelter", type: "circle", source: "edits", filter: isType("add_shelter"), paint: { "circle-radius": 8, "circle-color": "#2e7d32", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
  register({
    id: "edits",
    title: "Scenario edits",
    group: "Scenario",
    layers: ["edits-zone", "edits-zone-line", "edits-building", "edits-road", "edits-closed", "edits-changed", "edits-shelter"],
    legend: [
      { label: "closed road", color: "#b71c1c", kind: "line" },
      { label: "changed road", color: "#6a1b9a", kind: "line" },
      { label: "added building", color: "#ff6f00", kind: "fill" },
      { label: "hazard zone", color: "#d50000", kind: "fill" },
      { label: "shelter", color: "#2e7d32", kind: "circle" },
    ],
  });

  const readOnly = () => !current || current.is_baseline || !token();

  function renderEdits() {
    list.replaceChildren();
    const edits = current?.edits || [];
    edits.forEach((edit, i) => {
      const li = el("li", { "data-index": i, "data-type": edit.type }, el("span", {}, describeEdit(edit)));
      if (!readOnly()) li.append(" ", el("button", { type: "button", class: "link", title: "remove this edit", onclick: () => removeEdit(i) }, "✕"));
      list.append(li);
    });
    if (!edits.length) list.append(el("li", { class: "muted" }, current?.is_baseline ? "The baseline has no edits (it is the city as imported)." : "No edits yet."));
    $("#edit-undo", container).disabled = readOnly() || !edits.length;
    for (const b of container.querySelectorAll("#edit-tools button")) b.disabled = readOnly() && b.dataset.tool !== "stop";
    const ids = (type) => edits.filter((e) => e.type === type).flatMap((e) => e.resolved_edge_ids || e.edge_ids || []);
    map.setFilter("edits-closed", ["in", ["get", "id"], ["literal", ids("close_road")]]);
    map.setFilter("edits-changed", ["in", ["get", "id"], ["literal", ids("change_road")]]);
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
    app.scenario = scenario;
    if (scenario) select.value = String(scenario.id);
    renderEdits();
    loadEditsGeojson();
    app.runs?.scenarioChanged(scenario);
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
    select.replaceChildren(...scenarios.map((s) => new Option(`${s.is_baseline ? "★ " : ""}${s.name} (v${s.version}, ${s.edits?.length ?? 0} edits)`, s.id)));
    const want = scenarios.find((s) => s.id === state.scenario) || scenarios.find((s) => s.is_baseline) || scenarios[0] || null;
    if (want && state.scenario !== want.id) set({ scenario: want.id });
    show(want);
    if (!token()) say(status, "Sign in to create and edit scenarios (the baseline is visible to all).");
  }

  async function refreshCurrent(updated) {
    const scenario = updated || (await get(`/api/scenarios/${current.id}/`));
    const i = scenarios.findIndex((s) => s.id === scenario.id);
    if (i >= 0) scenarios[i] = scenario;
    const opt = [...select.options].find((o) => Number(o.value) === scenario.id);
    if (opt) opt.textContent = `${scenario.is_baseline ? "★ " : ""}${scenario.name} (v${scenario.version}, ${scenario.edits?.length ?? 0} edits)`;
    show(scenario);
  }

  select.addEventListener("change", () => {
    const s = scenarios.find((x) => x.id === Number(select.value));
    set({ scenario: s.id, run: null, base: null, compare: "" });
    show(s);
  });

  async function create(kind) {
    const name = $("#scenario-name", container).value.trim();
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
      select.append(new Option(`${s.name} (v${s.version}, ${s.edits?.length ?? 0} edits)`, s.id));
      set({ scenario: s.id, run: null, base: null, compare: "" });
      show(s);
      $("#scenario-name", container).value = "";
      say(status, `Scenario “${s.name}” ${kind === "new" ? "created" : "cloned"}.`, "ok");
    } catch (err) {
      say(status, `Could not ${kind === "new" ? "create" : "clone"} the scenario: ${err.message}`, "error");
    }
  }
  $("#scenario-new", container).addEventListener("click", () => create("new"));
  $("#scenario-clone", container).addEventListener("click", () => create("clone"));
  $("#scenario-delete", container).addEventListener("click", async () => {
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
  $("#edit-undo", container).addEventListener("click", () => {
    const n = current?.edits?.length || 0;
    if (n) removeEdit(n - 1);
  });

  function paramsForm(title, fields, onSubmit) {
    form.innerHTML = "";
    const f = el("form", { class: "edit-params" }, el("strong", {}, title));
    for (const [name, label, attrs] of fields) {
      if (attrs.options) {
        const s = el("select", { name });
        for (const o of attrs.options) s.append(new Option(o, o));
        f.append(el("label", {}, label, " ", s));
      } else {
        f.append(el("label", {}, label, " ", el("input", { name, ...attrs })));
      }
    }
    f.append(el("button", { type: "submit" }, "Add"), " ", el("button", { type: "button", onclick: () => (form.innerHTML = "") }, "Cancel"));
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const values = Object.fromEntries(new FormData(f));
      if (await onSubmit(values)) form.innerHTML = "";
    });
    form.append(f);
    setTimeout(() => f.querySelector("input,select")?.focus(), 0);
  }

  const roadLayers = ["roads", "edits-closed", "edits-changed"];
  const tools = {
    close_road: (target) =>
      startTool("pick", {
        layers: roadLayers,
        message: "Click roads to close them (each click is one edit; Esc or Done ends).",
        onDone: (f) => addEdit(target, { type: "close_road", edge_ids: [f.properties.id] }),
      }),
    change_road: (target) =>
      startTool("pick", {
        layers: roadLayers,
        message: "Click a road to change its lanes.",
        onDone: (f) =>
          paramsForm(`Road ${f.properties.name || f.properties.id}: ${f.properties.lanes} lane(s) now`, [["lanes", "lanes", { type: "number", min: 1, step: 1, value: Math.max(1, (f.properties.lanes || 1) + 1), required: true }]], (v) => addEdit(target, { type: "change_road", edge_ids: [f.properties.id], lanes: Number(v.lanes) })),
      }),
    add_building: (target) =>
      startTool("polygon", {
        onDone: (polygon) =>
          paramsForm(
            "New building",
            [
              ["height_m", "height (m)", { type: "number", min: 1, step: "any", value: 20, required: true }],
              ["use", "use", { options: ["residential", "commercial", "industrial", "public", "other"] }],
              ["residents", "residents", { type: "number", min: 0, step: "any", placeholder: "estimated" }],
            ],
            (v) => addEdit(target, { type: "add_building", footprint: polygon, height_m: Number(v.height_m), use: v.use, ...(v.residents ? { residents: Number(v.residents) } : {}) }),
          ),
      }),
    hazard_zone: (target) =>
      startTool("polygon", {
        onDone: (polygon) => paramsForm("Hazard zone", [["start_min", "closes at minute", { type: "number", min: 0, step: "any", value: 0 }]], (v) => addEdit(target, { type: "hazard_zone", polygon, start_min: Number(v.start_min || 0) })),
      }),
    add_shelter: (target) =>
      startTool("point", {
        onDone: (point) =>
          paramsForm(
            "Shelter",
            [
              ["capacity", "capacity (people)", { type: "number", min: 1, step: 1, value: 500, required: true }],
              ["name", "name", { placeholder: "optional" }],
            ],
            (v) => addEdit(target, { type: "add_shelter", point, capacity: Number(v.capacity), ...(v.name ? { name: v.name } : {}) }),
          ),
      }),
    stop: () => {
      stopTool();
      form.innerHTML = "";
    },
  };
  for (const b of container.querySelectorAll("#edit-tools button")) {
    b.addEventListener("click", () => {
      if (b.dataset.tool !== "stop" && readOnly()) return say(status, token() ? "The baseline is read-only: clone it or make a new scenario." : "Sign in to edit.", "error");
      // the scenario shown now is the one the edit goes to, whatever happens meanwhile
      tools[b.dataset.tool](current?.id);
    });
  }

  reload();
  return { reload, current: () => current, unregisterEdits: () => unregister("edits") };
}

export function describeEdit(e) {
  const ids = (e.resolved_edge_ids || e.edge_ids || []).length;
  switch (e.type) {
    case "close_road":
      return `close ${ids || "drawn"} road edge(s)`;
    case "change_road":
      return `change ${ids} road edge(s): ${["lanes", "capacity_veh_h", "speed_kph"].filter((k) => e[k] != null).map((k) => `${k} ${e[k]}`).join(", ")}`;
    case "add_road":
      return `add a road (${e.lanes || 1} lane(s), ${e.speed_kph || 50} km/h)`;
    case "add_building":
      return `add a ${e.use || ""} building, ${e.height_m} m high`;
    case "remove_building":
      return `remove ${(e.building_ids || []).length} building(s)`;
    case "heighten_building":
      return `set ${(e.building_ids || []).length} building(s) to ${e.height_m} m`;
    case "add_shelter":
      return `shelter${e.name ? ` “${escapeHtml(e.name)}”` : ""} for ${e.capacity} people`;
    case "hazard_zone":
      return `hazard zone from minute ${e.start_min ?? 0}`;
    case "demand_change":
      return `demand × ${e.factor}${e.zone ? " in a zone" : ""}`;
    case "departure_profile":
      return `departures: ${e.distribution}, scale ${e.scale_min} min`;
    default:
      return e.type;
  }
}

function editsToGeojson(edits) {
  const features = [];
  edits.forEach((e, index) => {
    const geometry = e.footprint || e.polygon || e.point || e.line || e.zone;
    if (geometry) features.push({ type: "Feature", geometry, properties: { index, type: e.type, height_m: e.height_m } });
  });
  return { type: "FeatureCollection", features };
}
