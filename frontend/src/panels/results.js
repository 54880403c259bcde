// The Results tab: start a simulator with the form its schema gives (GET /api/simulators/),
// follow the run's real progress, list the scenario's runs, show one (layers, legends, time
// slider and key figures by its simulator's view) and compare it with a baseline run.

import { get, getAll, post, token } from "../api.js";
import { opacityOf, register, unregister } from "../catalogue.js";
import { openSwipe } from "../compare.js";
import { $, el, fmt, say } from "../dom.js";
import { kpiTable } from "../kpis.js";
import { addDiffLayer, addRunLayers } from "../results.js";
import { FieldError, initRunForm } from "../runform.js";
import { severalRuns } from "../runtable.js";
import { ACTIVE, errorText, followRun } from "../runs.js";
import { viewOf } from "../simulators/registry.js";
import { cityTime, onChange, set, state } from "../state.js";
import { initTimeBar } from "../timebar.js";
import { showProgress } from "../upload.js";

// result kinds -> their OGC collection (GeoPackage and CSV exports come with it)
const RESULT_COLLECTIONS = { edges: ["edge-results", "road results"], buildings: ["building-results", "building results"] };

/** Links to the run's results as files (OGC exports) and to its printable report (PDF). */
function downloads(run, kinds, baseId) {
  const links = [];
  for (const kind of kinds) {
    const known = RESULT_COLLECTIONS[kind];
    if (!known) continue;
    const [collection, words] = known;
    for (const [f, name] of [["gpkg", "GeoPackage"], ["csv", "CSV"]]) {
      links.push(el("a", { href: `/ogc/collections/${collection}/export?run=${run.id}&format=${f}`, download: "", "data-download": `${kind}-${f}` }, `${words} (${name})`));
    }
  }
  const report = `/api/runs/${run.id}/report.pdf${baseId ? `?base=${baseId}` : ""}`;
  links.push(el("a", { href: report, download: "", "data-download": "report" }, baseId ? "report against the baseline (PDF)" : "report (PDF)"));
  const p = el("p", { class: "downloads" }, "Download: ");
  links.forEach((a, i) => p.append(...(i ? [" · ", a] : [a])));
  return p;
}

function runLabel(r) {
  const when = cityTime(r.created_at);
  return `${r.simulator} · ${r.status}${r.status === "running" ? ` ${Math.round(r.progress_percent)}%` : ""} · v${r.scenario_version} · ${when}${r.started_by ? ` · by ${r.started_by}` : ""}`;
}

const TEMPLATE = `
  <div id="run-panel">
    <h3>Run a simulator</h3>
    <form id="run-form" class="run-form" novalidate>
      <label>Simulator <select name="simulator" id="run-simulator"></select></label>
      <p id="run-description" class="muted run-description"></p>
      <div id="run-params"></div>
      <button type="submit" id="run-start">Run</button> <button type="button" id="run-cancel" hidden>Cancel</button>
    </form>
    <div class="progress" id="run-progress" hidden><div class="bar"></div><span class="pct"></span></div>
    <div id="run-status" class="status"></div>
    <h3>Runs of this scenario</h3>
    <select id="run-select" aria-label="run" size="4"></select>
    <h3>Compare with the baseline</h3>
    <div class="row">
      <select id="base-select" aria-label="baseline run"><option value="">— a baseline run —</option></select>
      <label><input type="radio" name="cmp" value="diff"> difference</label>
      <label><input type="radio" name="cmp" value="swipe"> swipe</label>
      <label><input type="radio" name="cmp" value="" checked> off</label>
    </div>
  </div>
  <div id="kpi-panel"></div>`;

function init(section) {
  const { map } = state;
  section.innerHTML = TEMPLATE;
  const form = $("#run-form", section);
  const status = $("#run-status", section);
  const progress = $("#run-progress", section);
  const cancel = $("#run-cancel", section);
  const runSelect = $("#run-select", section);
  const baseSelect = $("#base-select", section);
  const kpiPanel = $("#kpi-panel", section);

  let scenario = null;
  let runs = [];
  let baseRuns = [];
  let shown = null; // {run, layers}
  let diff = null;
  let swipe = null;
  let following = null; // AbortController of the event stream
  let compared = null; // KPI deltas against the baseline run
  let cursor = null; // the charts' redraw at the slider's time

  const timeBar = initTimeBar((t) => {
    shown?.layers.setTime(t);
    swipe?.setTime(t);
    cursor?.(t);
  });

  // -- the form, from the server's simulators ----------------------------------------------
  const runForm = initRunForm(form, { map, views: viewOf, onError: (text) => say(status, text, "error") });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!scenario) return say(status, "Choose a scenario first.", "error");
    if (!token()) return say(status, "Sign in to run a simulator.", "error");
    let body;
    try {
      body = runForm.read(scenario);
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      return say(status, `The run was refused before it was sent: ${err.message}.`, "error");
    }
    say(status, "starting…");
    try {
      const run = await post(`/api/scenarios/${scenario.id}/runs/`, body);
      resetCompare();
      set({ run: run.id, base: null, compare: "", t: null });
      await loadRuns();
      if (run.reused) say(status, "Same scenario version and parameters as an earlier run: showing its results.", "ok");
      if (ACTIVE.includes(run.status)) follow(run);
      else showRun(run);
    } catch (err) {
      say(status, `The run was refused: ${err.message}`, "error");
    }
  });

  cancel.addEventListener("click", async () => {
    if (!state.run) return;
    try {
      await post(`/api/runs/${state.run}/cancel/`, {});
    } catch (err) {
      say(status, `Could not cancel: ${err.message}`, "error");
    }
  });

  // -- the runs of the scenario ----------------------------------------------------------------
  async function loadRuns() {
    runs = [];
    if (scenario) {
      try {
        runs = await get(`/api/scenarios/${scenario.id}/runs/`);
        if (!Array.isArray(runs)) runs = runs.results || [];
      } catch (err) {
        say(status, `Runs are not available: ${err.message}`, "error");
      }
    }
    runSelect.replaceChildren(...runs.map((r) => new Option(runLabel(r), r.id)));
    if (state.run && runs.some((r) => r.id === state.run)) runSelect.value = state.run;
    await loadBaseRuns();
  }

  async function loadBaseRuns() {
    baseRuns = [];
    try {
      const baseline = await get(`/api/cities/${state.city}/baseline/`);
      const list = baseline.id === scenario?.id ? runs : await getAll(`/api/scenarios/${baseline.id}/runs/`);
      baseRuns = list.filter((r) => r.status === "succeeded");
    } catch {
      /* no baseline runs to compare with */
    }
    const sim = shown?.run.simulator;
    const same = baseRuns.filter((r) => (!sim || r.simulator === sim) && r.id !== shown?.run.id);
    // no baseline run to compare with: say what to do instead of an empty box
    const none = sim ? `— no ${sim} run of the baseline yet: run ${sim} on the baseline to compare —` : "— a baseline run —";
    baseSelect.replaceChildren(new Option(same.length ? "— a baseline run —" : none, ""), ...same.map((r) => new Option(runLabel(r), r.id)));
    if (state.base) baseSelect.value = state.base;
  }

  runSelect.addEventListener("change", async () => {
    const run = runs.find((r) => r.id === runSelect.value);
    if (!run) return;
    stopFollowing();
    resetCompare();
    set({ run: run.id, base: null, compare: "", t: null });
    if (ACTIVE.includes(run.status)) return follow(run);
    let full;
    try {
      full = await get(`/api/runs/${run.id}/`);
    } catch (err) {
      return say(status, `Cannot load the run: ${err.message}`, "error");
    }
    if (state.run === run.id) showRun(full);
  });

  // -- following a run -------------------------------------------------------------------------
  /** Stop following a run's stream: no later event or poll may draw anything. */
  function stopFollowing() {
    following?.abort();
    following = null;
    cancel.hidden = true;
    progress.hidden = true;
  }

  async function follow(run) {
    clearResults(); // also stops following any earlier stream
    const ctrl = new AbortController();
    following = ctrl; // a scenario, city or run change aborts it
    cancel.hidden = false;
    const onUpdate = (r) => {
      showProgress(progress, r.progress_percent, r.stage || r.status);
      say(status, `${r.simulator} run ${r.status}${r.stage ? `: ${r.stage}` : ""}`);
      const opt = [...runSelect.options].find((o) => o.value === r.id);
      if (opt) opt.textContent = runLabel(r);
    };
    let last;
    try {
      last = await followRun(run, { signal: ctrl.signal, onUpdate });
    } catch (err) {
      if (!ctrl.signal.aborted) say(status, `Lost track of the run: ${err.message}`, "error");
      return;
    }
    if (!last || following !== ctrl) return;
    following = null;
    cancel.hidden = true;
    const i = runs.findIndex((r) => r.id === last.id);
    if (i >= 0) runs[i] = last;
    if (last.status === "succeeded") {
      await showRun(last);
      // showing the results cleared the bar: leave it at its end state for this run
      if (shown?.run.id === last.id) showProgress(progress, last.progress_percent, last.stage || last.status);
    } else say(status, last.status === "failed" ? `The run failed: ${errorText(last.error)}` : "The run was cancelled.", "error");
  }

  // -- showing a run ---------------------------------------------------------------------------
  function clearResults() {
    stopFollowing();
    timeBar.hide();
    shown?.layers.remove();
    diff?.remove();
    diff = null;
    swipe?.close();
    swipe = null;
    unregister("result:");
    unregister("diff:");
    shown = null;
    cursor = null;
    kpiPanel.replaceChildren();
    delete document.body.dataset.result;
  }

  async function showRun(run) {
    clearResults();
    if (run.status !== "succeeded") {
      const failed = run.status === "failed";
      say(status, failed ? `The run failed: ${errorText(run.error)}` : `Run ${run.status}.`, failed ? "error" : "info");
      return;
    }
    const view = viewOf(run.simulator);
    let layers;
    try {
      layers = await addRunLayers(map, run, { d3: state.d === "3", isOn: (id) => opacityOf(id) > 0 });
    } catch (err) {
      say(status, `Could not show the results: ${err.message}`, "error");
      return;
    }
    shown = { run, layers };
    for (const entry of layers.entries) register(entry);
    if (layers.timeline) timeBar.show(layers.timeline, run.simulator, view.initialTime);
    document.body.dataset.result = run.simulator;
    say(status, `Showing the ${run.simulator} run of ${cityTime(run.created_at)}.`, "ok");
    await loadBaseRuns();
    await renderKpis();
    if (state.base && state.compare) await startCompare(state.compare);
  }

  async function renderKpis() {
    kpiPanel.replaceChildren();
    cursor = null;
    if (!shown) return;
    const { run, layers } = shown;
    const view = viewOf(run.simulator);
    await runForm.loaded; // the KPIs' labels and units
    if (shown?.run !== run) return; // another run (or none) is shown meanwhile
    kpiPanel.append(el("h3", {}, "Key figures"));
    // a run that succeeded on empty or implausible inputs says so (Run.warnings)
    if (run.warnings?.length) {
      kpiPanel.append(el("ul", { class: "run-warnings" }, ...run.warnings.map((w) => el("li", { "data-code": w.code }, w.message))));
    }
    kpiPanel.append(kpiTable(run, runForm.spec(run.simulator)?.kpis, compared));
    const charts = el("div", { class: "charts" });
    kpiPanel.append(charts);
    cursor = (await view.charts?.(charts, { run, layers, map, compare: compared, t: timeBar.t() })) || null;
    const note = view.notes?.({ run, layers });
    if (note) kpiPanel.append(el("p", { class: "muted" }, note));
    kpiPanel.append(downloads(run, runForm.spec(run.simulator)?.results || [], compared ? state.base : null));
    kpiPanel.append(severalRuns(run, runForm.spec(run.simulator)?.kpis || []));
    kpiPanel.append(el("p", { class: "muted" }, `engine ${run.engine_version || "?"} · ${run.seconds != null ? `${fmt(run.seconds, 1)} s` : ""} · input ${String(run.input_checksum || "").slice(0, 10)}`));
  }

  // -- comparison with a baseline run ----------------------------------------------------------
  const cmpMode = () => section.querySelector("input[name=cmp]:checked").value;
  function resetCompare() {
    for (const r of section.querySelectorAll("input[name=cmp]")) r.checked = r.value === "";
  }

  async function startCompare(mode) {
    diff?.remove();
    diff = null;
    unregister("diff:");
    swipe?.close();
    swipe = null;
    const base = baseRuns.find((r) => r.id === baseSelect.value);
    compared = null;
    if (!mode || !base || !shown) {
      renderKpis();
      return;
    }
    try {
      compared = (await get(`/api/runs/${shown.run.id}/compare/${base.id}/`)).kpis;
    } catch (err) {
      say(status, `Cannot compare: ${err.message}`, "error");
      return;
    }
    if (mode === "diff") {
      diff = addDiffLayer(map, shown.run, base);
      if (diff) register(diff.entry);
    } else if (mode === "swipe") {
      swipe = await openSwipe(base, shown.run, timeBar.t());
    }
    renderKpis();
  }
  baseSelect.addEventListener("change", () => {
    set({ base: baseSelect.value || null, compare: cmpMode() });
    startCompare(cmpMode());
  });
  for (const r of section.querySelectorAll("input[name=cmp]")) {
    r.addEventListener("change", () => {
      set({ compare: cmpMode() });
      startCompare(cmpMode());
    });
  }
  if (state.compare) {
    const r = [...section.querySelectorAll("input[name=cmp]")].find((x) => x.value === state.compare);
    if (r) r.checked = true;
  }

  // -- the other panels' changes ---------------------------------------------------------------
  async function scenarioChanged(s) {
    const changed = scenario?.id !== s?.id;
    if (changed) {
      stopFollowing();
      if (!state.compare) resetCompare();
    }
    scenario = s;
    await loadRuns();
    if (scenario !== s) return; // another scenario was chosen meanwhile
    if (changed || !shown) {
      const run = runs.find((r) => r.id === state.run);
      if (run) {
        if (ACTIVE.includes(run.status)) follow(run);
        else if (shown?.run.id !== run.id) showRun(await get(`/api/runs/${run.id}/`));
      } else clearResults();
    }
  }

  const stop = onChange((changes) => {
    if ("city" in changes) clearResults(); // the old city's run (and any stream of it) goes at once
    if ("d" in changes) {
      shown?.layers.setD3(changes.d === "3");
      swipe?.setD3?.(changes.d === "3");
    }
    if ("scenarioRecord" in changes) scenarioChanged(changes.scenarioRecord);
  });

  return {
    dispose() {
      stop();
      clearResults();
    },
  };
}

export default { id: "results", title: "Results", init };
