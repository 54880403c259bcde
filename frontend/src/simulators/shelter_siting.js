// Shelter-siting runs on the map: the buildings of the hazard zones coloured by the travel time
// to their shelter, every candidate site (opened ones large, coloured by how full they are), the
// recommendation in words under the key figures, and each opened site's load against its places.
// Its run form offers "candidate buildings" as a list of ids typed with commas.

import { barChart } from "../charts.js";
import { el, fmt } from "../dom.js";
import { extrusion, interpolate, vectorSource } from "./common.js";

const TIME_RAMP = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"];
const FILL_RAMP = [
  [0, "#ffffff"],
  [0.5, "#fdae61"],
  [1, "#d7191c"],
];

async function addLayers({ map, run, prefix, d3, addSource, addLayer }) {
  addSource(`${prefix}siting-buildings`, vectorSource(`/tiles/runs/${run.id}/buildings/{z}/{x}/{y}.pbf`));
  const blds = addLayer(
    {
      id: `${prefix}siting-buildings`,
      type: "fill-extrusion",
      source: `${prefix}siting-buildings`,
      "source-layer": "buildings",
      paint: {
        // no travel time: nobody of the building found a place
        "fill-extrusion-color": ["case", ["==", ["get", "evacuation_time_s"], null], "#7b3294", interpolate(["/", ["get", "evacuation_time_s"], 60], TIME_RAMP.map((c, i) => [i * 3, c]))],
        "fill-extrusion-height": extrusion(d3),
        "fill-extrusion-opacity": 0.95,
      },
    },
    null,
  );
  const sites = run.meta?.sites || { type: "FeatureCollection", features: [] };
  addSource(`${prefix}siting-sites`, { type: "geojson", data: sites });
  const circles = addLayer({
    id: `${prefix}siting-sites`,
    type: "circle",
    source: `${prefix}siting-sites`,
    paint: {
      "circle-radius": ["case", ["get", "chosen"], 11, 5],
      "circle-color": ["case", ["get", "chosen"], interpolate(["coalesce", ["get", "load_share"], 0], FILL_RAMP), "#bdbdbd"],
      "circle-stroke-color": "#222",
      "circle-stroke-width": ["case", ["get", "chosen"], 2.5, 1],
    },
  });
  return {
    entries: [
      {
        id: `${prefix}siting-buildings`,
        title: "Shelter siting: travel time to the shelter",
        group: "Results",
        layers: [blds],
        legend: [
          { kind: "ramp", colors: TIME_RAMP, min: "0", max: "≥ 12", label: "min" },
          { kind: "fill", color: "#7b3294", label: "no place found" },
        ],
      },
      {
        id: `${prefix}siting-sites`,
        title: "Shelter siting: candidate sites",
        group: "Results",
        layers: [circles],
        legend: [
          { kind: "ramp", colors: FILL_RAMP.map(([, c]) => c), min: "empty", max: "full", label: "opened: load / places" },
          { kind: "fill", color: "#bdbdbd", label: "not opened" },
        ],
      },
    ],
    data: { sites },
    setD3: (on) => map.setPaintProperty(blds, "fill-extrusion-height", extrusion(on)),
  };
}

/** Each opened site's load against its places. */
function charts(node, { layers }) {
  const open = (layers.data?.sites?.features || []).filter((f) => f.properties.chosen);
  node.innerHTML = open.length
    ? barChart(
        "Opened sites",
        open.map((f) => ({ label: f.properties.name, value: f.properties.load_people, capacity: f.properties.capacity_people, color: f.properties.load_share >= 1 ? "#c62828" : "#2e7d32" })),
        { unit: "people", digits: 0 },
      )
    : "<p>No site opened.</p>";
}

/** The recommendation with the numbers behind it (written by the server, naming the run). */
function notes({ run }) {
  return run.meta?.recommendation || null;
}

/** "candidate buildings": ids typed with commas (a number stays a number). */
function idsWidget(field) {
  const input = el("input", { type: "text", name: field.name, placeholder: "e.g. 1021, 1047, 1311" });
  const read = () => {
    const parts = input.value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (!parts.length) return undefined;
    return parts.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  };
  return { label: el("label", { title: field.schema.description || false }, field.schema.title || field.name, " ", input), input, read };
}

export default {
  name: "shelter_siting",
  addLayers,
  diff: { kind: "buildings", field: "delta_evacuation_time_s", span: 300 },
  charts,
  notes,
  widgets: { candidate_buildings: idsWidget },
};
