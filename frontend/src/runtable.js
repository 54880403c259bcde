// The key figures of several runs side by side: 2 to 4 finished runs of one simulator in the
// city (any scenario the reader may see), one column each, with the difference to the first.

import { getAll } from "./api.js";
import { el, escapeHtml } from "./dom.js";
import { kpiText } from "./kpis.js";
import { cityTime } from "./state.js";

export const MAX_RUNS = 4;

/** "Scenario name · 12.3.2026 14:05 · by planner" */
function runName(run, scenarios) {
  const s = scenarios.get(run.scenario);
  const name = s ? `${s.is_baseline ? "★ " : ""}${s.name}` : `scenario ${run.scenario}`;
  return `${name} · ${cityTime(run.created_at)}${run.started_by ? ` · by ${run.started_by}` : ""}`;
}

/** The table: a row per KPI (label in words, value with its unit), a column per run; Δ vs the first. */
export function sideBySide(runs, specs = [], scenarios = new Map()) {
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.kpis || {})))];
  // the server's order of its KPIs first, then any other figure a run reports
  keys.sort((a, b) => (byKey.has(a) ? specs.indexOf(byKey.get(a)) : 1e9) - (byKey.has(b) ? specs.indexOf(byKey.get(b)) : 1e9));
  const table = el("table", { class: "kv kpi-side" });
  const head = runs.map((r, i) => `<th data-run="${escapeHtml(r.id)}">${i === 0 ? "" : "vs first: "}${escapeHtml(runName(r, scenarios))}</th>`).join("");
  const rows = keys.map((key) => {
    const spec = byKey.get(key);
    const first = runs[0].kpis?.[key];
    const cells = runs
      .map((r, i) => {
        const v = r.kpis?.[key];
        let text = kpiText(v, spec);
        if (i > 0 && typeof v === "number" && typeof first === "number") {
          const d = v - first;
          text += ` (${d > 0 ? "+" : d < 0 ? "" : "±"}${kpiText(d, spec)})`;
        }
        return `<td data-run="${escapeHtml(r.id)}">${escapeHtml(text)}</td>`;
      })
      .join("");
    return `<tr data-kpi="${escapeHtml(key)}" title="API: kpis.${escapeHtml(key)}"><th>${escapeHtml(spec?.label || key.replaceAll("_", " "))}</th>${cells}</tr>`;
  });
  table.innerHTML = `<tr><th></th>${head}</tr>${rows.join("")}`;
  return table;
}

/**
 * A folded block under a run's key figures: tick up to MAX_RUNS runs of the same simulator in
 * the city (the shown run first) and their KPIs appear side by side.
 */
export function severalRuns(run, specs) {
  const box = el("details", { class: "runs-side", id: "runs-side" }, el("summary", {}, "Key figures of several runs side by side"));
  const list = el("div", { class: "runs-side-pick" });
  const note = el("p", { class: "muted" }, `Tick up to ${MAX_RUNS} runs of ${run.simulator} in this city; differences are against the first.`);
  const out = el("div", { class: "runs-side-table" });
  box.append(note, list, out);
  let loaded = false;
  box.addEventListener("toggle", async () => {
    if (!box.open || loaded) return;
    loaded = true;
    let runs;
    let scenarios;
    try {
      [runs, scenarios] = await Promise.all([getAll(`/api/runs/?city=${run.city}&simulator=${encodeURIComponent(run.simulator)}`), getAll(`/api/scenarios/?city=${run.city}`)]);
    } catch (err) {
      note.textContent = `Could not list the runs: ${err.message}`;
      return;
    }
    const names = new Map(scenarios.map((s) => [s.id, s]));
    const done = runs.filter((r) => r.status === "succeeded" && r.id !== run.id);
    const candidates = [run, ...done];
    const picked = [run.id];
    const draw = () => {
      const chosen = picked.map((id) => candidates.find((r) => r.id === id));
      out.replaceChildren(chosen.length > 1 ? sideBySide(chosen, specs, names) : el("p", { class: "muted" }, "Tick another run to compare."));
    };
    list.replaceChildren(
      ...candidates.map((r) => {
        const box = el("input", { type: "checkbox", value: r.id, checked: r.id === run.id, disabled: r.id === run.id });
        box.addEventListener("change", () => {
          if (box.checked && picked.length >= MAX_RUNS) {
            box.checked = false;
            note.textContent = `At most ${MAX_RUNS} runs side by side: untick one first.`;
            return;
          }
          if (box.checked) picked.push(r.id);
          else picked.splice(picked.indexOf(r.id), 1);
          draw();
        });
        return el("label", { class: "runs-side-run" }, box, ` ${runName(r, names)}`);
      }),
    );
    if (!done.length) note.textContent = `No other finished ${run.simulator} run in this city yet.`;
    draw();
  });
  return box;
}
