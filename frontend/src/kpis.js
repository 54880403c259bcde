// The key figures of a run with their units (from GET /api/simulators/), against the baseline's
// when compared.

import { el, escapeHtml, fmt } from "./dom.js";

/**
 * A KPI value in words with its unit: 1,234.5 h; 12 %; true -> yes. `spec` is the server's
 * {key, label, unit} (unit "1" is dimensionless) or undefined for a figure it does not list.
 */
export function kpiText(value, spec) {
  if (value == null || value === "") return "–";
  if (typeof value === "boolean") return value ? "yes" : "no";
  const unit = spec?.unit && spec.unit !== "1" ? spec.unit : "";
  const text = fmt(value, 2);
  return typeof value === "number" && unit ? `${text} ${unit}` : text;
}

/** The table of the run's KPIs: label and key, value with unit; baseline and Δ when compared. */
export function kpiTable(run, specs = [], compare = null) {
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const table = el("table", { class: "kv kpis" });
  const head = `<tr><th></th><th>scenario</th>${compare ? "<th>baseline</th><th>Δ</th>" : ""}</tr>`;
  const rows = Object.entries(run.kpis || {}).map(([key, value]) => {
    const spec = byKey.get(key);
    const words = key.replaceAll("_", " ");
    // the label in words, and the key as the API names it (a figure the server does not list: the key)
    const name = spec?.label ? `${escapeHtml(spec.label)} <span class="kpi-key">${escapeHtml(words)}</span>` : escapeHtml(words);
    let cells = `<td>${escapeHtml(kpiText(value, spec))}</td>`;
    if (compare) {
      const c = compare[key];
      const delta = c?.delta;
      const sign = delta > 0 ? "+" : "";
      cells += `<td>${escapeHtml(kpiText(c?.base, spec))}</td><td class="${delta > 0 ? "up" : delta < 0 ? "down" : ""}">${delta == null ? "–" : escapeHtml(sign + kpiText(delta, spec))}</td>`;
    }
    return `<tr data-kpi="${escapeHtml(key)}" title="${escapeHtml(spec?.description || "")}"><th>${name}</th>${cells}</tr>`;
  });
  table.innerHTML = head + rows.join("");
  return table;
}
