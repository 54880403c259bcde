// The key figures of a run with their units (from GET /api/simulators/), against the baseline's
// when compared.

import { el, escapeHtml, fmt } from "./dom.js";

/** A duration for people: "45 s", "5 min 30 s", "32 min", "2 h 05 min" (never seconds with decimals). */
export function duration(seconds) {
  const sign = seconds < 0 ? "−" : "";
  const s = Math.round(Math.abs(seconds));
  if (s < 60) return `${sign}${s} s`;
  if (s < 600) return `${sign}${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  if (s < 7200) return `${sign}${Math.round(s / 60)} min`;
  const m = Math.round(s / 60);
  return `${sign}${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

// counted things are whole: people, vehicles and trips (per hour too)
const WHOLE_UNITS = new Set(["persons", "people", "veh", "veh/h", "trips", "buildings"]);
// energy: the largest prefix that keeps the number at or above 10
const ENERGY = [
  [1e9, "TWh"],
  [1e6, "GWh"],
  [1e3, "MWh"],
];

/** A number with its unit at a sensible magnitude, in the reader's locale. */
export function quantity(value, unit) {
  if (unit === "s") return duration(value);
  if (WHOLE_UNITS.has(unit)) return `${fmt(Math.round(value))} ${unit}`;
  const energy = /^kWh(\/.*)?$/.exec(unit || "");
  if (energy) {
    for (const [factor, name] of ENERGY) {
      if (Math.abs(value) >= 10 * factor) return `${fmt(value / factor, 1)} ${name}${energy[1] || ""}`;
    }
    return `${fmt(value, 0)} ${unit}`;
  }
  const plain = !unit || unit === "1";
  // a small dimensionless figure (a relative gap of 1e-5) would read "0" with fixed digits
  const text = plain && value !== 0 && Math.abs(value) < 0.01 ? value.toExponential(1) : fmt(value, Math.abs(value) >= 100 ? 0 : 2);
  return plain ? text : `${text} ${unit}`;
}

/**
 * A KPI value in words with its unit: 1,234.5 h; 32 min; 172 persons; true -> yes. `spec` is the
 * server's {key, label, unit} (unit "1" is dimensionless) or undefined for a figure it does not list.
 */
export function kpiText(value, spec) {
  if (value == null || value === "") return "–";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value !== "number") return fmt(value);
  return quantity(value, spec?.unit);
}

/** The table of the run's KPIs: label and key, value with unit; baseline and Δ when compared. */
export function kpiTable(run, specs = [], compare = null) {
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const table = el("table", { class: "kv kpis" });
  const head = `<tr><th></th><th>scenario</th>${compare ? "<th>baseline</th><th>Δ</th>" : ""}</tr>`;
  const rows = Object.entries(run.kpis || {}).map(([key, value]) => {
    const spec = byKey.get(key);
    // the label in words; the key as the API names it only in the tooltip
    const name = escapeHtml(spec?.label || key.replaceAll("_", " "));
    const tip = `${spec?.description ? `${spec.description} ` : ""}(API: kpis.${key})`;
    let cells = `<td>${escapeHtml(kpiText(value, spec))}</td>`;
    if (compare) {
      const c = compare[key];
      const delta = c?.delta;
      const sign = delta > 0 ? "+" : "";
      cells += `<td>${escapeHtml(kpiText(c?.base, spec))}</td><td class="${delta > 0 ? "up" : delta < 0 ? "down" : ""}">${delta == null ? "–" : escapeHtml(sign + kpiText(delta, spec))}</td>`;
    }
    return `<tr data-kpi="${escapeHtml(key)}" title="${escapeHtml(tip)}"><th>${name}</th>${cells}</tr>`;
  });
  table.innerHTML = head + rows.join("");
  return table;
}
