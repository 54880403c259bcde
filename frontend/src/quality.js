// Data quality of the city: where heights, uses and people come from (GET /api/cities/<id>/quality/).

import { get } from "./api.js";
import { el, fmt } from "./dom.js";

const pct = (v) => `${Math.round((v || 0) * 100)} %`;
const POPULATION = {
  default_rates: "floor area x default rates",
  city_total: "calibrated to the official city total",
  census: "calibrated to a census layer",
};

export async function showQuality(node, cityId) {
  node.replaceChildren();
  let q;
  try {
    q = await get(`/api/cities/${cityId}/quality/`);
  } catch (err) {
    node.append(el("p", { class: "status-error" }, `Data quality: ${err.message}`));
    return;
  }
  const h = q.height_shares || {};
  const rows = [
    ["heights from OSM tags", pct(h.tags)],
    ["heights from a height raster", pct(h.raster)],
    ["heights estimated", pct(h.estimate)],
    ["building uses guessed", pct(q.uses_guessed_share)],
    ["residents", `${fmt(Math.round(q.residents))} (${POPULATION[q.population_source] || q.population_source})`],
    ["jobs", fmt(Math.round(q.workers))],
  ];
  const table = el("table", { class: "kv quality" });
  for (const [k, v] of rows) table.append(el("tr", { "data-key": k }, el("th", {}, k), el("td", {}, v)));
  node.append(el("h3", {}, "Data quality"), table);
  if (q.notes?.length) node.append(el("ul", { class: "quality-notes" }, ...q.notes.map((n) => el("li", {}, n))));
}
