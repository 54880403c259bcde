// Traffic runs on the map: road edges coloured by volume/capacity, wider for more vehicles per
// hour, closed roads dashed black; a vehicle-hours chart.

import { barChart } from "../charts.js";
import { interpolate, vectorSource } from "./common.js";

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

/** Vehicle-hours of the run (and of the baseline when compared). */
function charts(node, { run, compare }) {
  const k = run.kpis || {};
  const items = [
    { label: "vehicle-hours", value: k.vehicle_hours, color: "#1565c0" },
    { label: "delay veh-h", value: k.delay_vehicle_hours, color: "#c62828" },
  ];
  if (compare) items.push({ label: "base veh-h", value: compare.vehicle_hours?.base, color: "#90a4ae" }, { label: "base delay", value: compare.delay_vehicle_hours?.base, color: "#ef9a9a" });
  node.innerHTML = barChart("Vehicle-hours in the peak hour", items, { unit: "h" });
  return null;
}

export default {
  name: "traffic",
  addLayers,
  diff: { kind: "edges", field: "delta_vc_ratio", span: 0.5 },
  charts,
};
