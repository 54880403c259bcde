// Traffic runs on the map: road edges coloured by volume/capacity, wider for more vehicles per
// hour, closed roads dashed black; a vehicle-hours chart.

import { get } from "../api.js";
import { barChart } from "../charts.js";
import { interpolate, lineKm, vectorSource } from "./common.js";

/** v/c bands of the distribution (the colours of the map's ramp). */
const VC_BANDS = [
  [0, 0.5, "under 0.5", "#1a9850"],
  [0.5, 0.75, "0.5–0.75", "#91cf60"],
  [0.75, 0.9, "0.75–0.9", "#fee08b"],
  [0.9, 1.0, "0.9–1.0", "#fc8d59"],
  [1.0, 1.3, "1.0–1.3", "#d73027"],
  [1.3, Infinity, "1.3 and over", "#7f0000"],
];
/** Bands of the delay per vehicle on a road (s). */
const DELAY_BANDS = [
  [0, 10, "under 10 s"],
  [10, 30, "10–30 s"],
  [30, 60, "30 s–1 min"],
  [60, 120, "1–2 min"],
  [120, 300, "2–5 min"],
  [300, Infinity, "5 min and over"],
];

const bandOf = (bands, v) => bands.findIndex(([lo, hi]) => v >= lo && v < hi);

/**
 * The distributions of a traffic run's roads: vehicle-km (volume × length, veh·km in the peak
 * hour) by v/c band, and vehicle-hours of delay (volume × delay per vehicle) by band of the
 * delay per vehicle. `edges`: the run's GeoJSON edges (closed roads carry nothing).
 */
export function distributions(edges) {
  const vkm = VC_BANDS.map(() => 0);
  const delayH = DELAY_BANDS.map(() => 0);
  for (const f of edges.features) {
    const p = f.properties;
    const volume = p.volume_veh_h || 0;
    if (p.closed || volume <= 0) continue;
    const i = bandOf(VC_BANDS, p.vc_ratio || 0);
    if (i >= 0) vkm[i] += volume * lineKm(f.geometry);
    const j = bandOf(DELAY_BANDS, Math.max(0, p.delay_s || 0));
    if (j >= 0) delayH[j] += (volume * Math.max(0, p.delay_s || 0)) / 3600;
  }
  return { vkm, delayH };
}

export const VC_RAMP = [
  [0, "#1a9850"],
  [0.5, "#91cf60"],
  [0.75, "#fee08b"],
  [0.9, "#fc8d59"],
  [1.0, "#d73027"],
  [1.3, "#7f0000"],
];

/** The layers of a finished traffic run (see registry.js for what a view returns). */
async function addLayers({ run, prefix, addSource, addLayer }) {
  addSource(`${prefix}edges`, vectorSource(`/tiles/runs/${run.id}/edges/{z}/{x}/{y}.pbf`));
  const width = ["interpolate", ["linear"], ["coalesce", ["get", "volume_veh_h"], 0], 0, 2.5, 200, 4, 1000, 7, 2500, 11];
  const line = addLayer({
    id: `${prefix}traffic-vc`,
    type: "line",
    source: `${prefix}edges`,
    "source-layer": "edges",
    filter: ["!=", ["get", "closed"], true],
    layout: { "line-cap": "round", "line-join": "round" },
    paint: {
      "line-color": interpolate(["coalesce", ["get", "vc_ratio"], 0], VC_RAMP),
      "line-width": ["interpolate", ["exponential", 1.5], ["zoom"], 12, ["*", 0.6, width], 16, ["*", 1.5, width]],
      "line-opacity": 1,
    },
  });
  const closed = addLayer({
    id: `${prefix}traffic-closed`,
    type: "line",
    source: `${prefix}edges`,
    "source-layer": "edges",
    filter: ["==", ["get", "closed"], true],
    paint: { "line-color": "#111", "line-width": 4, "line-dasharray": [1, 1], "line-opacity": 1 },
  });
  return {
    entries: [
      {
        id: `${prefix}traffic`,
        title: "Traffic: volume / capacity",
        group: "Results",
        layers: [line, closed],
        legend: [
          { kind: "ramp", colors: VC_RAMP.map((s) => s[1]), min: "0", max: "≥ 1.3", label: "v/c" },
          { kind: "note", label: "line width: volume (veh/h)" },
          { kind: "line", color: "#111", label: "closed road" },
        ],
      },
    ],
  };
}

/** Vehicle-hours of the run (and of the baseline when compared), the v/c and delay distributions. */
async function charts(node, { run, compare }) {
  const k = run.kpis || {};
  const items = [
    { label: "vehicle-hours", value: k.vehicle_hours, color: "#1565c0" },
    { label: "delay veh-h", value: k.delay_vehicle_hours, color: "#c62828" },
  ];
  if (compare) items.push({ label: "base veh-h", value: compare.vehicle_hours?.base, color: "#90a4ae" }, { label: "base delay", value: compare.delay_vehicle_hours?.base, color: "#ef9a9a" });
  let html = barChart("Vehicle-hours in the peak hour", items, { unit: "h" });
  const { vkm, delayH } = distributions(await get(`/api/runs/${run.id}/edges/`));
  const total = vkm.reduce((a, b) => a + b, 0) || 1;
  html += `<div class="distribution" data-chart="vc">${barChart(
    "Share of vehicle-km by volume/capacity",
    VC_BANDS.map(([, , label, color], i) => ({ label: `v/c ${label}`, value: (100 * vkm[i]) / total, color })),
    { unit: "% of veh·km", digits: 1 },
  )}</div>`;
  html += `<div class="distribution" data-chart="delay">${barChart(
    "Vehicle-hours of delay by delay per vehicle",
    DELAY_BANDS.map(([, , label], i) => ({ label, value: delayH[i], color: "#c62828" })),
    { unit: "veh·h", digits: 1 },
  )}</div>`;
  node.innerHTML = html;
  return null;
}

export default {
  name: "traffic",
  addLayers,
  diff: { kind: "edges", field: "delta_vc_ratio", span: 0.5 },
  charts,
};
