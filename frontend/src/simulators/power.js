// Power runs on the map (shared by the views power_flow.js and power_criticality.js): buildings served / without electricity, lines coloured by loading
// (% of their thermal limit, out-of-service lines dashed black), buses by voltage (p.u.,
// unsupplied buses grey); for criticality runs, lines coloured by the people an outage of each
// line leaves without electricity. Layers come from GET /api/power/runs/<run>/<layer>/.

import { get } from "../api.js";
import { barChart } from "../charts.js";
import { interpolate } from "./common.js";

export const LOADING_RAMP = [
  [0, "#1a9850"],
  [50, "#91cf60"],
  [80, "#fee08b"],
  [100, "#d73027"],
  [130, "#7f0000"],
];
export const VOLTAGE_RAMP = [
  [0.9, "#b2182b"],
  [0.95, "#fdae61"],
  [1.0, "#1a9850"],
  [1.05, "#2166ac"],
];
const PEOPLE_RAMP = [
  [0, "#fee5d9"],
  [50, "#fcae91"],
  [500, "#fb6a4a"],
  [5000, "#a50f15"],
];

const layerUrl = (run, layer) => `/api/power/runs/${run.id}/${layer}/`;

/** The layers of a finished power-flow run (see registry.js for what a view returns). */
async function addLayers({ run, prefix, addSource, addLayer }) {
  const [buildings, lines, buses] = await Promise.all(["buildings", "lines", "buses"].map((l) => get(layerUrl(run, l))));
  addSource(`${prefix}power-buildings`, { type: "geojson", data: buildings });
  addSource(`${prefix}power-lines`, { type: "geojson", data: lines });
  addSource(`${prefix}power-buses`, { type: "geojson", data: buses });
  const served = addLayer({
    id: `${prefix}power-served`,
    type: "fill",
    source: `${prefix}power-buildings`,
    paint: { "fill-color": ["case", ["get", "served"], "#4caf50", "#d32f2f"], "fill-opacity": 0.75 },
  });
  const loading = addLayer({
    id: `${prefix}power-loading`,
    type: "line",
    source: `${prefix}power-lines`,
    filter: ["==", ["get", "in_service"], true],
    layout: { "line-cap": "round" },
    paint: { "line-color": interpolate(["coalesce", ["get", "loading_percent"], 0], LOADING_RAMP), "line-width": 3 },
  });
  const out = addLayer({
    id: `${prefix}power-out`,
    type: "line",
    source: `${prefix}power-lines`,
    filter: ["==", ["get", "in_service"], false],
    paint: { "line-color": "#111", "line-width": 3, "line-dasharray": [1, 1] },
  });
  const voltage = addLayer({
    id: `${prefix}power-voltage`,
    type: "circle",
    source: `${prefix}power-buses`,
    paint: {
      "circle-radius": 4,
      "circle-color": ["case", ["get", "supplied"], interpolate(["coalesce", ["get", "vm_pu"], 1], VOLTAGE_RAMP), "#9e9e9e"],
      "circle-stroke-color": "#222",
      "circle-stroke-width": 0.5,
    },
  });
  return {
    entries: [
      {
        id: `${prefix}power-service`,
        title: "Electricity: buildings served",
        group: "Results",
        layers: [served],
        legend: [
          { kind: "fill", color: "#4caf50", label: "served" },
          { kind: "fill", color: "#d32f2f", label: "without electricity" },
        ],
      },
      {
        id: `${prefix}power-lines`,
        title: "Power lines: loading",
        group: "Results",
        layers: [loading, out],
        legend: [
          { kind: "ramp", colors: LOADING_RAMP.map((s) => s[1]), min: "0 %", max: "≥ 130 %", label: "loading of the thermal limit" },
          { kind: "line", color: "#111", label: "out of service" },
        ],
      },
      {
        id: `${prefix}power-buses`,
        title: "Buses: voltage",
        group: "Results",
        layers: [voltage],
        legend: [
          { kind: "ramp", colors: VOLTAGE_RAMP.map((s) => s[1]), min: "0.9 p.u.", max: "1.05 p.u.", label: "voltage" },
          { kind: "fill", color: "#9e9e9e", label: "no supply" },
        ],
      },
    ],
    data: { buildings, lines, buses },
  };
}

/** People with and without electricity (and the baseline's when compared). */
function charts(node, { run, compare }) {
  const k = run.kpis || {};
  const items = [{ label: "people without", value: k.people_without_service, color: "#d32f2f" }];
  if (compare) items.push({ label: "baseline", value: compare.people_without_service?.base, color: "#90a4ae" });
  node.innerHTML = barChart("People without electricity (residents + jobs)", items, { unit: "people" });
  return null;
}

function notes({ run }) {
  const k = run.kpis || {};
  if (k.converged === false) return "The power flow did not converge: supply comes from the topology, voltages and loadings are empty.";
  return `${k.buildings_without_service ?? 0} buildings without electricity; highest line loading ${Math.round(k.max_line_loading_percent ?? 0)} %.`;
}

/** Criticality (N-1) runs: lines coloured by the people each line's outage cuts off. */
async function addCriticalityLayers({ run, prefix, addSource, addLayer }) {
  const lines = await get(layerUrl(run, "criticality"));
  addSource(`${prefix}power-n1`, { type: "geojson", data: lines });
  const layer = addLayer({
    id: `${prefix}power-n1`,
    type: "line",
    source: `${prefix}power-n1`,
    layout: { "line-cap": "round" },
    paint: { "line-color": interpolate(["get", "people_without_service"], PEOPLE_RAMP), "line-width": ["interpolate", ["linear"], ["get", "people_without_service"], 0, 2, 5000, 8] },
  });
  return {
    entries: [
      {
        id: `${prefix}power-n1`,
        title: "Line criticality: people without electricity if the line fails",
        group: "Results",
        layers: [layer],
        legend: [{ kind: "ramp", colors: PEOPLE_RAMP.map((s) => s[1]), min: "0", max: "≥ 5000", label: "people" }],
      },
    ],
    data: { lines },
  };
}

export const flowView = { addLayers, diff: null, charts, notes };

export const criticalityView = {
  addLayers: addCriticalityLayers,
  diff: null,
  notes: ({ run }) => `${run.kpis?.lines_cutting_service ?? 0} of ${run.kpis?.lines_tested ?? 0} lines cut off buildings when they fail.`,
};
