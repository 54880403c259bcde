// Road-upgrades runs on the map: the closures to avoid (red, wider for more vehicle-hours added)
// and the roads to strengthen (blue, wider for more saved per lane-km), both from the run's
// ranked tables (run.meta.tables, rows with lon/lat lines); the recommendation in words under
// the key figures; both tables ranked, with their units, the run each row rests on and CSV /
// GeoJSON downloads (/api/runs/<id>/tables/<name>/?format=csv).

import { abs } from "../api.js";
import { el, fmt } from "../dom.js";
import { interpolate } from "./common.js";

const CLOSE_RAMP = ["#fdd49e", "#fc8d59", "#d7301f", "#7f0000"];
const STRENGTHEN_RAMP = ["#c6dbef", "#6baed6", "#2171b5", "#08306b"];

/** The rows of one table as a FeatureCollection (rank and the ranked value as properties). */
function features(table, valueKey) {
  const rows = table?.rows || [];
  return {
    type: "FeatureCollection",
    features: rows
      .filter((r) => r.geometry)
      .map((r) => ({ type: "Feature", geometry: r.geometry, properties: { rank: r.rank, street: r.street, value: r[valueKey] ?? 0 } })),
  };
}

function lineLayer(id, source, ramp, top) {
  return {
    id,
    type: "line",
    source,
    layout: { "line-cap": "round" },
    paint: {
      "line-color": interpolate(["get", "value"], ramp.map((c, i) => [(i * top) / (ramp.length - 1), c])),
      "line-width": interpolate(["get", "value"], [
        [0, 3],
        [top, 9],
      ]),
      "line-opacity": 0.9,
    },
  };
}

async function addLayers({ run, prefix, addSource, addLayer }) {
  const tables = run.meta?.tables || {};
  const closures = features(tables.closures, "vehicle_hours_added_h");
  const upgrades = features(tables.upgrades, "saving_veh_h_per_h_per_lane_km");
  const topOf = (fc) => Math.max(1e-9, ...fc.features.map((f) => f.properties.value));
  const closeTop = topOf(closures);
  const upTop = topOf(upgrades);
  addSource(`${prefix}ru-closures`, { type: "geojson", data: closures });
  addSource(`${prefix}ru-upgrades`, { type: "geojson", data: upgrades });
  const closeLayer = addLayer(lineLayer(`${prefix}ru-closures`, `${prefix}ru-closures`, CLOSE_RAMP, closeTop));
  const upLayer = addLayer(lineLayer(`${prefix}ru-upgrades`, `${prefix}ru-upgrades`, STRENGTHEN_RAMP, upTop));
  return {
    entries: [
      {
        id: `${prefix}ru-closures`,
        title: "Road upgrades: closures to avoid",
        group: "Results",
        layers: [closeLayer],
        legend: [{ kind: "ramp", colors: CLOSE_RAMP, min: "0", max: `${fmt(closeTop, 1)}`, label: "vehicle-hours added (h)" }],
      },
      {
        id: `${prefix}ru-upgrades`,
        title: "Road upgrades: roads to strengthen",
        group: "Results",
        layers: [upLayer],
        legend: [{ kind: "ramp", colors: STRENGTHEN_RAMP, min: "0", max: `${fmt(upTop, 1)}`, label: "veh·h/h saved per lane-km" }],
      },
    ],
    data: { tables },
  };
}

/** A ranked table: the declared columns (labels with units), the first rows, downloads. */
function tableNode(run, name, table, keys, limit = 10) {
  const columns = (table.columns || []).filter((c) => keys.includes(c.key));
  const head = el("tr", {}, columns.map((c) => el("th", { title: c.key }, c.unit && c.unit !== "1" ? `${c.label} (${c.unit})` : c.label)));
  const body = (table.rows || []).slice(0, limit).map((r) => el("tr", {}, columns.map((c) => el("td", {}, Array.isArray(r[c.key]) ? r[c.key].join(", ") : fmt(r[c.key], 2)))));
  const base = `/api/runs/${run.id}/tables/${name}/`;
  return el(
    "div",
    { class: "ru-table", "data-table": name },
    el("h4", {}, table.title || name),
    el("table", { class: "sweep-ranking" }, el("thead", {}, head), el("tbody", {}, body)),
    el("p", {}, "Download: ", el("a", { href: abs(`${base}?format=csv`), download: "" }, "CSV"), " · ", el("a", { href: abs(`${base}?format=geojson`), download: "" }, "GeoJSON"), " · ", el("a", { href: abs(`${base}?format=gpkg`), download: "" }, "GeoPackage")),
  );
}

function charts(node, { run, layers }) {
  const tables = layers.data?.tables || run.meta?.tables || {};
  const parts = [];
  if (tables.closures) parts.push(tableNode(run, "closures", tables.closures, ["rank", "street", "vehicle_hours_added_h", "trips_without_route_veh_h", "source"]));
  if (tables.upgrades) parts.push(tableNode(run, "upgrades", tables.upgrades, ["rank", "street", "option", "saving_veh_h_per_h", "lane_km_added", "saving_veh_h_per_h_per_lane_km", "source"]));
  const rests = run.meta?.rests_on;
  if (rests) parts.push(el("p", { class: "muted" }, "Rests on: base traffic run ", el("a", { href: abs(rests.base_run_url) }, rests.base_run.slice(0, 8)), rests.sweep ? [", sweep ", el("a", { href: abs(rests.sweep_ranking_url) }, String(rests.sweep))] : null));
  node.replaceChildren(...(parts.length ? parts : [el("p", {}, "Nothing ranked.")]));
}

const notes = ({ run }) => run.meta?.recommendation || null;

export default { name: "road_upgrades", addLayers, diff: null, charts, notes };
