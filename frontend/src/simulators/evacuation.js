// Evacuation runs on the map: a replay on the time slider (buildings turn from red to green at
// their evacuation time, road edges coloured by the cars on them, shelters filling up); the
// evacuation curve with a cursor at the time shown and the shelters' load at that time.

import { get } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { el, fmt } from "../dom.js";
import { extrusion, interpolate, lineBounds, mmss, vectorSource } from "./common.js";

/** How many of the longest queues the bottleneck list names (and the map outlines). */
const TOP_BOTTLENECKS = 10;

const QUEUE_COLORS = ["#fdd49e", "#fc8d59", "#d7301f", "#7f0000"];

function occupancyOf(feature) {
  let occ = feature.properties.occupancy_veh ?? feature.properties.occupancy;
  if (typeof occ === "string") {
    try {
      occ = JSON.parse(occ);
    } catch {
      occ = null;
    }
  }
  return Array.isArray(occ) ? occ : [];
}

/** The edges with `q`: vehicles on the edge at time t (replayed), or its queue while it lasts. */
function withQueue(fc, t, step, hasOcc) {
  return {
    type: "FeatureCollection",
    features: fc.features.map((f) => {
      let q = 0;
      if (hasOcc) {
        const occ = occupancyOf(f);
        // sample k is taken at (k + 1) x step seconds
        const k = Math.floor(t / step) - 1;
        q = k < 0 ? 0 : occ[Math.min(occ.length - 1, k)] || 0;
      } else {
        const p = f.properties;
        q = (p.queue_duration_s || 0) >= t && t > 0 ? p.max_queue_veh || 0 : 0;
      }
      return { type: "Feature", id: f.id, geometry: f.geometry, properties: { q } };
    }),
  };
}

/** Building colour at t seconds: grey nobody, green evacuated, red people still inside. */
const evacColor = (t) => [
  "case",
  ["any", ["!", ["has", "evacuation_time_s"]], ["==", ["get", "evacuation_time_s"], null], ["<=", ["coalesce", ["get", "evacuees"], 0], 0]],
  "#cfcfcf",
  ["<=", ["get", "evacuation_time_s"], t],
  "#2e7d32",
  "#c62828",
];

function shelterLayers({ run, series, prefix, addSource, addLayer }) {
  const shelters = run.meta?.shelters || [];
  if (!shelters.length) return null;
  const loadAt = (name, t) => {
    const s = series[`shelter:${name}`];
    let v = 0;
    for (let i = 0; s && i < s.t_s.length && s.t_s[i] <= t; i++) v = s.values[i];
    return v;
  };
  const data = (t) => ({
    type: "FeatureCollection",
    features: shelters.map((s) => ({
      type: "Feature",
      geometry: { type: "Point", coordinates: [s.lon, s.lat] },
      properties: { name: s.name, capacity: s.capacity, load: loadAt(s.name, t), fill: Math.min(1, loadAt(s.name, t) / Math.max(1, s.capacity)) },
    })),
  });
  addSource(`${prefix}evac-shelters`, { type: "geojson", data: data(0) });
  const layer = addLayer({
    id: `${prefix}evac-shelters`,
    type: "circle",
    source: `${prefix}evac-shelters`,
    paint: {
      "circle-radius": 10,
      "circle-color": interpolate(["get", "fill"], [
        [0, "#ffffff"],
        [0.5, "#fdae61"],
        [1, "#d7191c"],
      ]),
      "circle-stroke-color": "#222",
      "circle-stroke-width": 2,
      "circle-opacity": 1,
    },
  });
  return {
    data,
    entry: {
      id: `${prefix}evac-shelters`,
      title: "Evacuation: shelters filling",
      group: "Results",
      layers: [layer],
      legend: [{ kind: "ramp", colors: ["#ffffff", "#fdae61", "#d7191c"], min: "empty", max: "full", label: "load / capacity" }],
    },
  };
}

async function addLayers(ctx) {
  const { map, run, prefix, d3, addSource, addLayer } = ctx;
  const [edges, series] = await Promise.all([get(`/api/runs/${run.id}/edges/`), get(`/api/runs/${run.id}/series/`)]);
  const step = run.meta?.series_step_s || run.params?.series_step_s || 60;
  const hasOcc = edges.features.some((f) => occupancyOf(f).length);
  addSource(`${prefix}evac-edges`, { type: "geojson", data: withQueue(edges, 0, step, hasOcc) });
  const queues = addLayer({
    id: `${prefix}evac-queues`,
    type: "line",
    source: `${prefix}evac-edges`,
    filter: [">", ["get", "q"], 0.5],
    layout: { "line-cap": "round" },
    paint: {
      "line-color": interpolate(["get", "q"], [1, 5, 15, 40].map((q, i) => [q, QUEUE_COLORS[i]])),
      "line-width": interpolate(["get", "q"], [
        [1, 2],
        [40, 9],
      ]),
      "line-opacity": 1,
    },
  });
  // the longest queues of the run, outlined whatever the time shown (the list names them)
  const top = bottlenecks(edges);
  addSource(`${prefix}evac-bottlenecks`, { type: "geojson", data: { type: "FeatureCollection", features: top } });
  const bottleneckLine = addLayer(
    {
      id: `${prefix}evac-bottlenecks`,
      type: "line",
      source: `${prefix}evac-bottlenecks`,
      layout: { "line-cap": "round" },
      paint: {
        "line-color": ["case", ["boolean", ["feature-state", "picked"], false], "#00e5ff", "#6a1b9a"],
        "line-width": ["case", ["boolean", ["feature-state", "picked"], false], 12, 7],
        "line-opacity": 0.85,
      },
    },
    null,
  );
  addSource(`${prefix}evac-buildings`, vectorSource(`/tiles/runs/${run.id}/buildings/{z}/{x}/{y}.pbf`));
  const blds = addLayer(
    {
      id: `${prefix}evac-buildings`,
      type: "fill-extrusion",
      source: `${prefix}evac-buildings`,
      "source-layer": "buildings",
      paint: { "fill-extrusion-color": evacColor(0), "fill-extrusion-height": extrusion(d3), "fill-extrusion-opacity": 0.95 },
    },
    null,
  );
  const entries = [
    {
      id: `${prefix}evac-buildings`,
      title: "Evacuation: buildings emptied",
      group: "Results",
      layers: [blds],
      legend: [
        { kind: "fill", color: "#c62828", label: "people still inside" },
        { kind: "fill", color: "#2e7d32", label: "evacuated (evacuation_time_s ≤ t)" },
        { kind: "fill", color: "#cfcfcf", label: "nobody to evacuate" },
      ],
    },
    {
      id: `${prefix}evac-queues`,
      title: hasOcc ? "Evacuation: vehicles on roads at t" : "Evacuation: queues (max, while not cleared)",
      group: "Results",
      layers: [queues],
      legend: [{ kind: "ramp", colors: QUEUE_COLORS, min: "1", max: "40+", label: "vehicles" }],
    },
  ];
  entries.push({
    id: `${prefix}evac-bottlenecks`,
    title: `Evacuation: the ${TOP_BOTTLENECKS} longest queues`,
    group: "Results",
    layers: [bottleneckLine],
    legend: [
      { kind: "line", color: "#6a1b9a", label: "bottleneck (listed under the key figures)" },
      { kind: "line", color: "#00e5ff", label: "the one picked in the list" },
    ],
  });
  const shelters = shelterLayers({ ...ctx, series });
  if (shelters) entries.push(shelters.entry);
  // the slider: every series step from the alarm to the end of the curve, the queues and t100
  const curve = series.evacuated_share;
  const horizon = Math.max(curve?.t_s?.at(-1) || 0, ...edges.features.map((f) => f.properties.queue_duration_s || 0), (run.kpis?.t100_s || 0) * 1.05, 60);
  const values = [];
  for (let t = 0; t <= horizon + step / 2; t += step) values.push(Math.round(t));
  let last = null;
  return {
    entries,
    data: { series, edges, bottlenecks: top },
    timeline: { values, format: mmss, label: "time since the alarm" },
    setTime: (t) => {
      map.setPaintProperty(blds, "fill-extrusion-color", evacColor(t));
      const key = Math.floor(t / step);
      if (key !== last) {
        last = key;
        map.getSource(`${prefix}evac-edges`)?.setData(withQueue(edges, t, step, hasOcc));
        if (shelters) map.getSource(`${prefix}evac-shelters`)?.setData(shelters.data(t));
      }
      map.getContainer().dataset.evacT = String(t);
    },
    setD3: (on) => map.setPaintProperty(blds, "fill-extrusion-height", extrusion(on)),
  };
}

/** The road edges with the longest queues (vehicles), longest first; ties: longer lasting. */
function bottlenecks(edges) {
  return edges.features
    .filter((f) => (f.properties.max_queue_veh || 0) > 0)
    .sort((a, b) => b.properties.max_queue_veh - a.properties.max_queue_veh || (b.properties.queue_duration_s || 0) - (a.properties.queue_duration_s || 0))
    .slice(0, TOP_BOTTLENECKS)
    .map((f) => ({ type: "Feature", id: f.id, geometry: f.geometry, properties: { edge_id: f.properties.edge_id, name: f.properties.name || "", highway: f.properties.highway || "", max_queue_veh: f.properties.max_queue_veh, queue_duration_s: f.properties.queue_duration_s || 0 } }));
}

const minutes = (s) => `${fmt(Math.round(s / 60))} min`;

/** The bottleneck list: street, longest queue (vehicles), how long it lasted; a row flies there. */
function bottleneckTable(top, map, layerId) {
  const wrap = el("div", { class: "bottlenecks" }, el("h4", {}, "Bottlenecks: the longest queues"));
  if (!top.length) {
    wrap.append(el("p", { class: "muted" }, "No road had a queue."));
    return wrap;
  }
  let picked = null;
  const pick = (f, row) => {
    if (picked != null && map.getSource(layerId)) map.setFeatureState({ source: layerId, id: picked }, { picked: false });
    picked = f.id;
    if (map.getSource(layerId)) map.setFeatureState({ source: layerId, id: f.id }, { picked: true });
    for (const r of wrap.querySelectorAll("tr.picked")) r.classList.remove("picked");
    row.classList.add("picked");
    map.fitBounds(lineBounds(f.geometry), { padding: 80, maxZoom: 17, duration: 0 });
  };
  const rows = top.map((f, i) => {
    const p = f.properties;
    const street = p.name || `unnamed ${p.highway || "road"}`;
    const row = el(
      "tr",
      { "data-edge": p.edge_id ?? "", tabindex: "0", title: "show it on the map" },
      el("td", {}, String(i + 1)),
      el("th", {}, street),
      el("td", {}, `${fmt(Math.round(p.max_queue_veh))} veh`),
      el("td", {}, minutes(p.queue_duration_s)),
    );
    row.addEventListener("click", () => pick(f, row));
    row.addEventListener("keydown", (e) => e.key === "Enter" && pick(f, row));
    return row;
  });
  wrap.append(el("table", { class: "kv bottleneck-list" }, el("tr", {}, el("th", {}, "#"), el("th", {}, "street"), el("th", {}, "longest queue"), el("th", {}, "queue lasted")), ...rows));
  return wrap;
}

/** First time (s) a share series reaches `share`, or null: to the step of the series (60 s). */
function reaches(s, share) {
  const i = s.values.findIndex((v) => v != null && v >= share - 1e-9);
  return i < 0 ? null : s.t_s[i];
}

/** Clearance per hazard zone: when 90 % and all of its evacuees were out (minutes). */
function zoneTable(series) {
  const zones = Object.entries(series).filter(([name]) => name.startsWith("zone:"));
  if (!zones.length) return null;
  const label = (name) => {
    const z = name.slice(5);
    const m = /^zone(\d+)$/.exec(z);
    return m ? `Zone ${Number(m[1]) + 1}` : z;
  };
  const rows = zones.map(([name, s]) => {
    const t90 = reaches(s, 0.9);
    const t100 = reaches(s, 1);
    return el("tr", { "data-zone": name.slice(5) }, el("th", {}, label(name)), el("td", { "data-t90-s": t90 ?? "" }, t90 == null ? "not reached" : minutes(t90)), el("td", { "data-t100-s": t100 ?? "" }, t100 == null ? "not all out" : minutes(t100)));
  });
  return el(
    "div",
    { class: "zone-clearance" },
    el("h4", {}, "Clearance per hazard zone"),
    el("table", { class: "kv" }, el("tr", {}, el("th", {}, "zone"), el("th", {}, "90 % out after"), el("th", {}, "all out after")), ...rows),
    el("p", { class: "muted" }, "Minutes since the alarm, to the minute of the evacuation curve."),
  );
}

/** The evacuation curve and the shelters' load, redrawn at each time of the slider; the
 * bottleneck list and the clearance per zone under them. */
function charts(root, { layers, t, map, prefix = "result:" }) {
  const series = layers.data.series || {};
  const node = el("div", { class: "evac-charts" });
  root.replaceChildren(node);
  const zones = zoneTable(series);
  if (zones) root.append(zones);
  root.append(bottleneckTable(layers.data.bottlenecks || [], map, `${prefix}evac-bottlenecks`));
  const curve = series.evacuated_share;
  const shelters = Object.entries(series).filter(([name]) => name.startsWith("shelter:"));
  const draw = (time) => {
    let html = curve
      ? lineChart("Evacuated share", [{ name: "evacuated", x: curve.t_s.map((s) => s / 60), y: curve.values, color: "#2e7d32" }], { xLabel: "minutes", cursor: time / 60, xFormat: (v) => fmt(v, 0), yMax: Math.max(1, ...curve.values.filter((v) => v != null)) })
      : "<p>No evacuation curve in the results.</p>";
    if (shelters.length) {
      const items = shelters.map(([name, s]) => {
        let i = s.t_s.findIndex((x) => x > time) - 1;
        if (i < -1) i = s.t_s.length - 1;
        const v = i >= 0 ? s.values[i] || 0 : 0;
        const full = s.capacity ? v / s.capacity : null;
        return { label: name.slice(8), value: Math.round(v), capacity: s.capacity || null, color: full != null && full >= 1 ? "#c62828" : "#2e7d32" };
      });
      html += barChart(`Shelters at ${mmss(time)}`, items, { unit: "people", digits: 0 });
    }
    node.innerHTML = html;
  };
  draw(t);
  return draw;
}

export default {
  name: "evacuation",
  addLayers,
  diff: { kind: "edges", field: "delta_max_queue_veh", span: 20 },
  charts,
};
