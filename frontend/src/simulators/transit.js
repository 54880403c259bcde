// Transit runs on the map: car volumes on the roads after the mode choice (the traffic view's
// layer, so that compare shows where cars left), transit lines drawn from their stops with a
// width by passengers per hour and a colour by load / capacity, stops sized by boardings,
// buildings coloured by the jobs reachable by transit within the run's threshold; a mode-share
// chart.

import { barChart } from "../charts.js";
import { interpolate, vectorSource } from "./common.js";
import traffic from "./traffic.js";

const LOAD_RAMP = [
  [0, "#80deea"],
  [0.5, "#26a69a"],
  [0.8, "#fbc02d"],
  [1.0, "#e53935"],
];
const ACCESS_RAMP = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];

/** One feature per line segment: its load (persons/h) and load / capacity. */
function segments(lines) {
  const features = [];
  for (const line of lines) {
    const c = line.coordinates || [];
    for (let i = 0; i + 1 < c.length; i++) {
      features.push({
        type: "Feature",
        geometry: { type: "LineString", coordinates: [c[i], c[i + 1]] },
        properties: { line: line.name, load: line.segment_load_per_h[i] || 0, ratio: line.segment_load_ratio[i] || 0 },
      });
    }
  }
  return { type: "FeatureCollection", features };
}

function stopPoints(stops) {
  return {
    type: "FeatureCollection",
    features: stops.map((s) => ({ type: "Feature", geometry: { type: "Point", coordinates: [s.lon, s.lat] }, properties: { name: s.name, boardings: s.boardings, alightings: s.alightings } })),
  };
}

/** The layers of a finished transit run (see registry.js for what a view returns). */
async function addLayers(ctx) {
  const { run, prefix, addSource, addLayer } = ctx;
  const cars = await traffic.addLayers(ctx);
  const meta = run.meta?.transit || { lines: [], stops: [] };
  addSource(`${prefix}transit-access-src`, vectorSource(`/tiles/runs/${run.id}/buildings/{z}/{x}/{y}.pbf`));
  const maxJobs = Math.max(1, 2 * (run.kpis?.mean_jobs_reachable || 0));
  const access = addLayer({
    id: `${prefix}transit-access`,
    type: "fill",
    source: `${prefix}transit-access-src`,
    "source-layer": "buildings",
    layout: { visibility: "none" },
    paint: { "fill-color": interpolate(["coalesce", ["get", "transit_jobs_reachable"], 0], ACCESS_RAMP.map((c, i) => [(i * maxJobs) / 4, c])), "fill-opacity": 0.85 },
  });
  addSource(`${prefix}transit-lines-src`, { type: "geojson", data: segments(meta.lines) });
  const lines = addLayer({
    id: `${prefix}transit-lines`,
    type: "line",
    source: `${prefix}transit-lines-src`,
    layout: { "line-cap": "round", "line-join": "round" },
    paint: {
      "line-color": interpolate(["get", "ratio"], LOAD_RAMP),
      "line-width": ["interpolate", ["linear"], ["get", "load"], 0, 2, 500, 5, 2000, 10, 6000, 16],
      "line-opacity": 0.9,
    },
  });
  addSource(`${prefix}transit-stops-src`, { type: "geojson", data: stopPoints(meta.stops) });
  const stops = addLayer({
    id: `${prefix}transit-stops`,
    type: "circle",
    source: `${prefix}transit-stops-src`,
    paint: {
      "circle-radius": ["interpolate", ["linear"], ["get", "boardings"], 0, 3, 200, 6, 1000, 11],
      "circle-color": "#fff",
      "circle-stroke-color": "#006064",
      "circle-stroke-width": 2,
    },
  });
  return {
    entries: [
      ...cars.entries.map((e) => ({ ...e, title: "Cars after the mode choice: volume / capacity" })),
      {
        id: `${prefix}transit-lines`,
        title: "Transit: passengers per line segment",
        group: "Results",
        layers: [lines, stops],
        legend: [
          { kind: "ramp", colors: LOAD_RAMP.map((s) => s[1]), min: "0", max: "≥ 1", label: "load / capacity" },
          { kind: "note", label: "line width: passengers/h; circle: boardings/h" },
        ],
      },
      {
        id: `${prefix}transit-access`,
        title: "Jobs reachable by transit",
        group: "Results",
        layers: [access],
        legend: [{ kind: "ramp", colors: ACCESS_RAMP, min: "0", max: `≥ ${Math.round(maxJobs)}`, label: "jobs" }],
      },
    ],
  };
}

/** Mode shares of the run (and of the compared run). */
function charts(node, { run, compare }) {
  const k = run.kpis || {};
  const items = [
    { label: "car", value: 100 * (k.car_share || 0), color: "#c62828" },
    { label: "transit", value: 100 * (k.transit_share || 0), color: "#00838f" },
    { label: "walk", value: 100 * (k.walk_share || 0), color: "#2e7d32" },
  ];
  if (compare) items.push({ label: "base car", value: 100 * (compare.car_share?.base || 0), color: "#ef9a9a" }, { label: "base transit", value: 100 * (compare.transit_share?.base || 0), color: "#80deea" });
  node.innerHTML = barChart("Mode shares", items, { unit: "%" });
  return null;
}

function notes({ run }) {
  const k = run.kpis || {};
  if (k.rounds == null) return null;
  return `Mode choice and car traffic agree after ${k.rounds} rounds (car shares within ${(k.share_gap || 0).toFixed(4)}, relative gap ${(k.relative_gap || 0).toExponential(1)}).`;
}

export default {
  name: "transit",
  addLayers,
  diff: { kind: "edges", field: "delta_volume_veh_h", span: 300 },
  charts,
  notes,
};
