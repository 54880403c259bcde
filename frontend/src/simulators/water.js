// Water runs on the map: buildings coloured by their service (served / low pressure / without
// water), junctions by their lowest pressure, pipes by their largest flow and closed ones dashed;
// the people without water step by step, with a cursor at the time on the slider.

import { get } from "../api.js";
import { lineChart } from "../charts.js";
import { fmt } from "../dom.js";
import { interpolate } from "./common.js";

const SERVICE = { served: "#2e7d32", partly_served: "#f9a825", not_served: "#c62828" };
const SERVICE_WORDS = { served: "served", partly_served: "low pressure for a while", not_served: "without water for a while" };
const PRESSURE_RAMP = ["#b71c1c", "#fb8c00", "#fdd835", "#7cb342", "#1565c0"];

async function addLayers({ run, prefix, addSource, addLayer }) {
  const [buildings, nodes, links, series] = await Promise.all(
    ["buildings", "nodes", "links"].map((layer) => get(`/api/water/runs/${run.id}/${layer}/`)).concat([get(`/api/runs/${run.id}/series/`)]),
  );
  addSource(`${prefix}water-buildings`, { type: "geojson", data: buildings });
  addSource(`${prefix}water-nodes`, { type: "geojson", data: nodes });
  addSource(`${prefix}water-links`, { type: "geojson", data: links });
  const houses = addLayer({
    id: `${prefix}water-service`,
    type: "fill",
    source: `${prefix}water-buildings`,
    paint: { "fill-color": ["match", ["get", "status"], ...Object.entries(SERVICE).flat(), "#9e9e9e"], "fill-opacity": 0.8 },
  });
  const pipes = addLayer({
    id: `${prefix}water-pipes`,
    type: "line",
    source: `${prefix}water-links`,
    paint: {
      "line-color": ["case", ["get", "closed"], "#212121", "#1565c0"],
      "line-width": interpolate(["coalesce", ["get", "max_abs_flow_m3s"], 0], [[0, 1], [0.05, 3], [0.5, 6]]),
      "line-dasharray": ["case", ["get", "closed"], ["literal", [2, 2]], ["literal", [1, 0]]],
    },
  });
  const junctions = addLayer({
    id: `${prefix}water-pressure`,
    type: "circle",
    source: `${prefix}water-nodes`,
    paint: {
      "circle-radius": 4,
      "circle-color": interpolate(["coalesce", ["get", "min_pressure_m"], 0], PRESSURE_RAMP.map((c, i) => [i * 10, c])),
    },
  });
  return {
    data: { series, buildings },
    entries: [
      {
        id: `${prefix}water-service`,
        title: "Water service per building",
        group: "Results",
        layers: [houses],
        legend: Object.entries(SERVICE).map(([k, color]) => ({ kind: "fill", color, label: SERVICE_WORDS[k] })),
      },
      { id: `${prefix}water-pipes`, title: "Pipe flows (closed: dashed)", group: "Results", layers: [pipes], legend: [{ kind: "line", color: "#1565c0", label: "largest flow, m³/s" }] },
      {
        id: `${prefix}water-pressure`,
        title: "Lowest pressure at junctions",
        group: "Results",
        layers: [junctions],
        legend: [{ kind: "ramp", colors: PRESSURE_RAMP, min: "0", max: "≥ 40", label: "m" }],
      },
    ],
  };
}

async function charts(node, { layers, t }) {
  const series = layers.data.series || {};
  const lines = [
    ["people without water", "#c62828"],
    ["people below the required pressure", "#f9a825"],
  ]
    .filter(([name]) => series[name])
    .map(([name, color]) => ({ name, color, x: series[name].t_s.map((s) => s / 3600), y: series[name].values }));
  node.insertAdjacentHTML("beforeend", lineChart("People affected over the period", lines, { xLabel: "hours", yLabel: "people", cursor: t ?? null }));
  return null;
}

function notes({ run }) {
  const k = run.kpis || {};
  if (k.people_not_served == null) return null;
  const valves = run.meta?.valves_closed?.length || 0;
  return `${fmt(k.people_not_served, 0)} people without water for a while (longest ${fmt(k.max_hours_without_water_h, 0)} h), ${fmt(k.people_partly_served, 0)} with low pressure only${valves ? `; ${valves} isolation valves closed` : ""}.`;
}

export default { name: "water", addLayers, diff: null, charts, notes };
