// The Sweeps tab (the Sweeps API of CONTRACT.md, citytwin/sweeps/): start a sweep from the current
// scenario (generator from GET /api/sweeps/generators/, its fields from its JSON Schema), follow
// its progress, cancel or resume it, read its ranking as a sortable table (label in words, value
// with its unit, delta against the base run), see what each variant changes on the map coloured by
// rank (?format=geojson), and download the ranking as CSV or GeoPackage.

import { abs, get, post } from "../api.js";
import { el, fmt, say } from "../dom.js";
import { plainField } from "../runform.js";
import { onChange, state } from "../state.js";

const SOURCE = "sweep-ranking";
const LAYERS = ["sweep-rank-fill", "sweep-rank-line", "sweep-rank-point"];
// rank 1 (most harmful / best) dark red, the last pale yellow
const RAMP = ["#7f0000", "#d7301f", "#fc8d59", "#fdcc8a", "#fef0d9"];
const POLL_MS = 1500;

/** One input per generator field: the run form's plain inputs, JSON text for lists/objects. */
function generatorFields(schema) {
  const props = schema?.properties || {};
  const fields = [];
  for (const [name, spec] of Object.entries(props)) {
    if (name === "kind") continue;
    const plain = plainField(name, spec);
    if (plain) {
      fields.push({ name, ...plain });
      continue;
    }
    const input = el("input", { type: "text", name, placeholder: spec.default != null ? JSON.stringify(spec.default) : "JSON" });
    const read = () => {
      const v = input.value.trim();
      if (!v) return undefined;
      try {
        return JSON.parse(v);
      } catch {
        throw new Error(`${name} must be JSON (e.g. [1, 2] or {"a": [1, 2]})`);
      }
    };
    fields.push({ name, input, read, label: el("label", { title: spec.description || false }, spec.title || name, " (JSON) ", input) });
  }
  return fields;
}

function colourExpression(n) {
  const stops = RAMP.map((c, i) => [1 + ((Math.max(n, 2) - 1) * i) / (RAMP.length - 1), c]);
  return ["interpolate", ["linear"], ["coalesce", ["get", "rank"], n], ...stops.flat()];
}

function init(section, { status }) {
  const map = state.map;
  const intro = el("p", { class: "muted" }, "Run many variants of the current scenario and rank them.");
  const simSelect = el("select", { name: "sweep-simulator" });
  const genSelect = el("select", { name: "sweep-generator" });
  const genDescription = el("p", { class: "muted" });
  const genBox = el("div", { class: "sweep-fields" });
  const nameInput = el("input", { type: "text", name: "sweep-name", placeholder: "optional" });
  const start = el("button", { type: "submit" }, "Start sweep");
  const form = el(
    "form",
    { class: "sweep-form" },
    el("label", {}, "Simulator ", simSelect),
    el("label", {}, "Variants ", genSelect),
    genDescription,
    genBox,
    el("label", {}, "Name ", nameInput),
    start,
  );
  const message = el("p", { class: "sweep-message", role: "status" });
  const list = el("select", { name: "sweep-list", "aria-label": "Sweeps of this city" });
  const progress = el("progress", { max: 1, value: 0, class: "sweep-progress" });
  const progressText = el("span", { class: "sweep-progress-text" });
  const cancel = el("button", { type: "button", disabled: true }, "Cancel");
  const resume = el("button", { type: "button", disabled: true }, "Resume");
  const downloads = el("p", { class: "sweep-downloads" });
  const table = el("table", { class: "sweep-ranking" });
  section.append(intro, form, message, el("h3", {}, "Sweeps"), list, el("div", {}, progress, " ", progressText, " ", cancel, " ", resume), downloads, table);

  let generators = [];
  let fields = [];
  let current = null; // the sweep shown
  let rows = [];
  let sortKey = "rank";
  let sortUp = true;
  let timer = null;
  let disposed = false;

  function renderGenerator() {
    const g = generators.find((x) => x.kind === genSelect.value);
    genDescription.textContent = g ? `${g.description || ""} Ranked ${g.ranks}.` : "";
    fields = g ? generatorFields(g.schema) : [];
    genBox.replaceChildren(...fields.map((f) => f.label));
  }
  genSelect.addEventListener("change", renderGenerator);

  async function loadChoices() {
    try {
      const [gens, sims] = await Promise.all([get("/api/sweeps/generators/"), state.simulators ? { simulators: state.simulators } : get("/api/simulators/")]);
      generators = gens.generators || [];
      genSelect.replaceChildren(...generators.map((g) => new Option(g.label || g.kind, g.kind)));
      simSelect.replaceChildren(...(sims.simulators || []).map((s) => new Option(s.label || s.name, s.name)));
      renderGenerator();
    } catch (err) {
      say(message, `Sweeps are not available: ${err.message}`, "error");
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (state.scenario == null) {
      say(message, "Choose or save a scenario first (Scenario tab): a sweep varies it.", "error");
      return;
    }
    const generator = { kind: genSelect.value };
    try {
      for (const f of fields) {
        const v = f.read();
        if (v !== undefined) generator[f.name] = v;
      }
    } catch (err) {
      say(message, err.message, "error");
      return;
    }
    const body = { scenario: state.scenario, simulator: simSelect.value, params: {}, generator };
    if (nameInput.value.trim()) body.name = nameInput.value.trim();
    start.disabled = true;
    try {
      const sweep = await post("/api/sweeps/", body);
      say(message, `Sweep ${sweep.id} started: ${sweep.variants_total} variants.`);
      await loadList(sweep.id);
    } catch (err) {
      say(message, `The sweep was refused: ${err.message}`, "error");
    } finally {
      start.disabled = false;
    }
  });

  async function loadList(select) {
    if (state.city == null) return;
    try {
      const doc = await get(`/api/sweeps/?city=${state.city}`);
      const sweeps = doc.sweeps || [];
      list.replaceChildren(new Option(sweeps.length ? "choose a sweep" : "no sweep yet", ""), ...sweeps.map((s) => new Option(`${s.name || `sweep ${s.id}`} (${s.status})`, String(s.id))));
      if (select != null) {
        list.value = String(select);
        await show(select);
      }
    } catch (err) {
      say(status, `Sweeps: ${err.message}`, "error");
    }
  }
  list.addEventListener("change", () => (list.value ? show(Number(list.value)) : clear()));

  function clear() {
    current = null;
    rows = [];
    clearTimeout(timer);
    table.replaceChildren();
    downloads.replaceChildren();
    progress.value = 0;
    progressText.textContent = "";
    cancel.disabled = resume.disabled = true;
    removeLayers();
  }

  async function show(id) {
    clearTimeout(timer);
    if (disposed) return;
    try {
      current = await get(`/api/sweeps/${id}/`);
    } catch (err) {
      say(message, err.message, "error");
      return;
    }
    const p = current.progress || { done: 0, total: current.variants_total || 0, failed: 0 };
    progress.max = Math.max(1, p.total);
    progress.value = p.done;
    progressText.textContent = `${p.done} of ${p.total} variants done${p.failed ? `, ${p.failed} failed` : ""} (${current.status})`;
    const active = current.status === "queued" || current.status === "running";
    cancel.disabled = !active;
    resume.disabled = !(current.status === "cancelled" || current.status === "failed");
    const base = `/api/sweeps/${id}/ranking/`;
    downloads.replaceChildren("Download the ranking: ", el("a", { href: abs(`${base}?format=csv`), download: "" }, "CSV"), " · ", el("a", { href: abs(`${base}?format=gpkg`), download: "" }, "GeoPackage"));
    await loadRanking(id);
    if (active) timer = setTimeout(() => show(id), POLL_MS);
    else if (list.selectedOptions[0]) list.selectedOptions[0].textContent = `${current.name || `sweep ${current.id}`} (${current.status})`;
  }

  cancel.addEventListener("click", async () => {
    if (!current) return;
    try {
      await post(`/api/sweeps/${current.id}/cancel/`, {});
      await show(current.id);
    } catch (err) {
      say(message, err.message, "error");
    }
  });
  resume.addEventListener("click", async () => {
    if (!current) return;
    try {
      await post(`/api/sweeps/${current.id}/resume/`, {});
      await show(current.id);
    } catch (err) {
      say(message, err.message, "error");
    }
  });

  async function loadRanking(id) {
    try {
      const doc = await get(`/api/sweeps/${id}/ranking/`);
      rows = doc.rows || [];
      drawTable(doc.metric || current.metric || {});
      const fc = await get(`/api/sweeps/${id}/ranking/?format=geojson`);
      drawLayers(fc, rows.length);
    } catch (err) {
      say(message, `Ranking: ${err.message}`, "error");
    }
  }

  function drawTable(metric) {
    const unit = metric.unit && metric.unit !== "1" ? ` (${metric.unit})` : "";
    const columns = [
      ["rank", "Rank"],
      ["label", "Variant"],
      ["value", `${metric.label || "Value"}${unit}`],
      ["delta", `Change vs base${unit}`],
    ];
    const sorted = [...rows].sort((a, b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      const c = x == null ? 1 : y == null ? -1 : typeof x === "string" ? x.localeCompare(y) : x - y;
      return sortUp ? c : -c;
    });
    const head = el(
      "tr",
      {},
      ...columns.map(([key, words]) =>
        el("th", { scope: "col", "data-key": key, "aria-sort": key === sortKey ? (sortUp ? "ascending" : "descending") : "none", onclick: () => ((sortUp = key === sortKey ? !sortUp : true), (sortKey = key), drawTable(metric)) }, words, key === sortKey ? (sortUp ? " ▲" : " ▼") : ""),
      ),
    );
    const body = sorted.map((r) =>
      el(
        "tr",
        { "data-variant": String(r.variant) },
        el("td", {}, r.rank == null ? "–" : String(r.rank)),
        el("td", {}, r.label, r.error ? el("span", { class: "muted" }, ` (failed: ${r.error})`) : ""),
        el("td", { class: "num" }, r.value == null ? "–" : fmt(r.value, 2)),
        el("td", { class: "num" }, r.delta == null ? "–" : `${r.delta > 0 ? "+" : ""}${fmt(r.delta, 2)}`),
      ),
    );
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
  }

  function removeLayers() {
    for (const id of LAYERS) if (map?.getLayer(id)) map.removeLayer(id);
    if (map?.getSource(SOURCE)) map.removeSource(SOURCE);
  }

  function drawLayers(fc, n) {
    if (!map) return;
    const data = { type: "FeatureCollection", features: (fc.features || []).filter((f) => f.geometry) };
    if (map.getSource(SOURCE)) {
      map.getSource(SOURCE).setData(data);
    } else {
      map.addSource(SOURCE, { type: "geojson", data });
    }
    const colour = colourExpression(n);
    if (!map.getLayer(LAYERS[0])) {
      map.addLayer({ id: LAYERS[0], type: "fill", source: SOURCE, filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": colour, "fill-opacity": 0.6 } });
      map.addLayer({ id: LAYERS[1], type: "line", source: SOURCE, filter: ["==", ["geometry-type"], "LineString"], layout: { "line-cap": "round" }, paint: { "line-color": colour, "line-width": 5 } });
      map.addLayer({ id: LAYERS[2], type: "circle", source: SOURCE, filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": colour, "circle-radius": 7, "circle-stroke-color": "#222", "circle-stroke-width": 1 } });
    } else {
      for (const id of LAYERS) map.setPaintProperty(id, id.endsWith("fill") ? "fill-color" : id.endsWith("line") ? "line-color" : "circle-color", colour);
    }
    section.dataset.features = String(data.features.length);
  }

  loadChoices();
  loadList();
  const stop = onChange((changes) => {
    if ("city" in changes || "user" in changes) {
      clear();
      loadList();
    }
    if ("simulators" in changes && state.simulators) {
      simSelect.replaceChildren(...state.simulators.map((s) => new Option(s.label || s.name, s.name)));
    }
  });
  return {
    dispose() {
      disposed = true;
      clearTimeout(timer);
      stop();
      removeLayers();
    },
  };
}

export default { id: "sweeps", title: "Sweeps", init };
