// Runs: start a simulator with its parameters, follow its real progress, show its results as
// layers with legends, the time slider, the KPI panel with charts, and the baseline comparison.

import { followEvents, get, getAll, post, token } from "./api.js";
import { apply as applyEntry, opacityOf, register, unregister } from "./catalogue.js";
import { barChart, histogram, lineChart } from "./charts.js";
import { $, el, escapeHtml, fmt, say } from "./dom.js";
import { addDiffLayer, addRunLayers, hhmm, mmss } from "./results.js";
import { openSwipe } from "./compare.js";
import { set, state } from "./state.js";
import { showProgress } from "./upload.js";

const PARAMS = {
  traffic: [
    ["peak_hour_factor", "peak hour factor", { type: "number", step: "any", min: 0.01, placeholder: "default" }],
    ["gap", "relative gap to reach", { type: "number", step: "any", min: 0, placeholder: "1e-4" }],
    ["max_iter", "max iterations", { type: "number", step: 1, min: 1, placeholder: "default" }],
    ["algorithm", "algorithm", { options: ["", "bfw", "cfw", "fw", "bush"] }],
  ],
  solar: [
    // the server's default: around the March equinox of this year
    ["date", "date", { type: "date", value: `${new Date().getFullYear()}-03-20` }],
    ["step_min", "step (min)", { type: "number", step: 1, min: 5, placeholder: "30" }],
    ["cell_m", "cell size (m)", { type: "number", step: "any", min: 0.5, placeholder: "2" }],
    ["bbox", "only the area in view", { type: "checkbox", checked: true }],
    ["pv", "annual rooftop PV", { type: "checkbox" }],
  ],
  evacuation: [
    ["share_walking", "share walking", { type: "number", step: "any", min: 0, max: 1, placeholder: "default" }],
    ["vehicles_per_household", "vehicles per household", { type: "number", step: "any", min: 0, placeholder: "default" }],
    ["mobilisation_scale_min", "mobilisation scale (min)", { type: "number", step: "any", min: 0, placeholder: "default" }],
    ["horizon_min", "horizon (min)", { type: "number", step: "any", min: 1, placeholder: "default" }],
    ["reroute_min", "re-route every (min)", { type: "number", step: "any", min: 0, placeholder: "default" }],
    ["time_of_day_h", "time of day (h)", { type: "number", step: "any", min: 0, max: 24, placeholder: "none" }],
    ["background_share", "background traffic share", { type: "number", step: "any", min: 0, max: 0.95, placeholder: "0" }],
    ["shadow_share", "shadow evacuation share", { type: "number", step: "any", min: 0, max: 1, placeholder: "0" }],
  ],
};

export function initRuns(app, container, kpiPanel) {
  const { map } = app;
  container.innerHTML = `
    <h3>Run a simulator</h3>
    <form id="run-form" class="run-form">
      <label>Simulator <select name="simulator" id="run-simulator">
        <option value="traffic">traffic (peak hour assignment)</option>
        <option value="solar">solar (sun and shadows)</option>
        <option value="evacuation">evacuation</option>
      </select></label>
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
    </div>`;
  const form = $("#run-form", container);
  const simSelect = $("#run-simulator", container);
  const paramsBox = $("#run-params", container);
  const status = $("#run-status", container);
  const progress = $("#run-progress", container);
  const runSelect = $("#run-select", container);
  const baseSelect = $("#base-select", container);
  const timeBar = $("#time-bar");
  const slider = $("#time-slider");
  const timeLabel = $("#time-label");
  const play = $("#time-play");

  let scenario = null;
  let runs = [];
  let baseRuns = [];
  let shown = null; // {run, layers}
  let diff = null;
  let swipe = null;
  let following = null; // AbortController of the event stream
  let kpiContext = {};

  function renderParams() {
    paramsBox.replaceChildren();
    for (const [name, label, attrs] of PARAMS[simSelect.value]) {
      let input;
      if (attrs.options) {
        input = el("select", { name });
        for (const o of attrs.options) input.append(new Option(o || "default", o));
      } else input = el("input", { name, ...attrs });
      paramsBox.append(el("label", {}, label, " ", input));
    }
  }
  simSelect.addEventListener("change", renderParams);
  renderParams();

  function runLabel(r) {
    const when = r.created_at ? new Date(r.created_at).toLocaleTimeString() : "";
    return `${r.simulator} · ${r.status}${r.status === "running" ? ` ${Math.round(r.progress_percent)}%` : ""} · v${r.scenario_version} · ${when}`;
  }

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
    baseSelect.replaceChildren(new Option("— a baseline run —", ""), ...baseRuns.filter((r) => !sim || r.simulator === sim).filter((r) => r.id !== shown?.run.id).map((r) => new Option(runLabel(r), r.id)));
    if (state.base) baseSelect.value = state.base;
  }

  /** Stop following a run's stream: no later event or poll may draw anything. */
  function stopFollowing() {
    following?.abort();
    following = null;
    $("#run-cancel", container).hidden = true;
    progress.hidden = true;
  }

  function clearResults() {
    stopFollowing();
    stopPlay();
    shown?.layers.remove();
    diff?.remove();
    diff = null;
    swipe?.close();
    swipe = null;
    unregister("result:");
    unregister("diff:");
    shown = null;
    timeBar.hidden = true;
    kpiPanel.replaceChildren();
    delete document.body.dataset.result;
  }

  async function showRun(run) {
    clearResults();
    if (run.status !== "succeeded") {
      say(status, run.status === "failed" ? `The run failed: ${errorText(run.error)}` : `Run ${run.status}.`, run.status === "failed" ? "error" : "info");
      return;
    }
    let layers;
    try {
      layers = await addRunLayers(map, run, { d3: state.d === "3" });
    } catch (err) {
      say(status, `Could not show the results: ${err.message}`, "error");
      return;
    }
    layers.isOn = (id) => opacityOf(id) > 0;
    shown = { run, layers };
    for (const entry of layers.entries) register(entry);
    if (layers.timeline) {
      const { values, format } = layers.timeline;
      slider.min = 0;
      slider.max = values.length - 1;
      slider.step = 1;
      let idx = 0;
      if (state.t != null) {
        idx = values.findIndex((v) => v >= state.t);
        if (idx < 0) idx = values.length - 1;
      } else if (run.simulator === "solar") idx = Math.max(0, values.findIndex((v) => v >= 12 * 60));
      slider.value = idx;
      slider.dataset.format = run.simulator;
      timeBar.hidden = false;
      timeBar.dataset.kind = run.simulator;
      setTimeIndex(idx, format);
    }
    document.body.dataset.result = run.simulator;
    say(status, `Showing the ${run.simulator} run of ${new Date(run.created_at).toLocaleString()}.`, "ok");
    await loadBaseRuns();
    await renderKpis();
    if (state.base && state.compare) await startCompare(state.compare);
  }

  function setTimeIndex(idx, format = shown?.layers.timeline?.format) {
    if (!shown?.layers.timeline) return;
    const values = shown.layers.timeline.values;
    const t = values[Math.max(0, Math.min(values.length - 1, idx))];
    shown.layers.setTime(t);
    swipe?.setTime(t);
    timeLabel.textContent = `${shown.layers.timeline.label}: ${format(t)}`;
    timeLabel.dataset.t = String(t);
    set({ t });
    updateCursor(t);
  }
  slider.addEventListener("input", () => setTimeIndex(Number(slider.value)));

  let timer = null;
  function stopPlay() {
    clearInterval(timer);
    timer = null;
    play.textContent = "▶";
    play.setAttribute("aria-label", "play");
  }
  play.addEventListener("click", () => {
    if (timer) return stopPlay();
    play.textContent = "⏸";
    play.setAttribute("aria-label", "pause");
    if (Number(slider.value) >= Number(slider.max)) slider.value = 0;
    timer = setInterval(() => {
      const next = Number(slider.value) + 1;
      if (next > Number(slider.max)) return stopPlay();
      slider.value = next;
      setTimeIndex(next);
    }, 400);
  });

  function resetCompare() {
    for (const r of container.querySelectorAll("input[name=cmp]")) r.checked = r.value === "";
  }

  runSelect.addEventListener("change", async () => {
    const run = runs.find((r) => r.id === runSelect.value);
    if (!run) return;
    stopFollowing();
    resetCompare();
    set({ run: run.id, base: null, compare: "", t: null });
    if (["queued", "running"].includes(run.status)) return follow(run);
    let full;
    try {
      full = await get(`/api/runs/${run.id}/`);
    } catch (err) {
      return say(status, `Cannot load the run: ${err.message}`, "error");
    }
    if (state.run === run.id) showRun(full);
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!scenario) return say(status, "Choose a scenario first.", "error");
    if (!token()) return say(status, "Sign in to run a simulator.", "error");
    const params = {};
    for (const [name, , attrs] of PARAMS[simSelect.value]) {
      if (attrs.type === "checkbox") {
        if (name === "bbox" && form.elements[name].checked) {
          const b = map.getBounds();
          params.bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((x) => Math.round(x * 1e5) / 1e5);
        } else if (name !== "bbox") params[name] = form.elements[name].checked;
        continue;
      }
      const v = form.elements[name].value;
      if (v === "" || v == null) continue;
      params[name] = attrs.type === "number" ? Number(v) : v;
    }
    say(status, "starting…");
    try {
      const run = await post(`/api/scenarios/${scenario.id}/runs/`, { simulator: simSelect.value, params });
      resetCompare();
      set({ run: run.id, base: null, compare: "", t: null });
      await loadRuns();
      if (run.reused) say(status, "Same scenario version and parameters as an earlier run: showing its results.", "ok");
      if (["queued", "running"].includes(run.status)) follow(run);
      else showRun(run);
    } catch (err) {
      say(status, `The run was refused: ${err.message}`, "error");
    }
  });

  $("#run-cancel", container).addEventListener("click", async () => {
    if (!state.run) return;
    try {
      await post(`/api/runs/${state.run}/cancel/`, {});
    } catch (err) {
      say(status, `Could not cancel: ${err.message}`, "error");
    }
  });

  async function follow(run) {
    clearResults(); // also stops following any earlier stream
    const ctrl = new AbortController();
    following = ctrl;
    // still the stream the page follows? (a scenario, city or run change stops it)
    const current = () => following === ctrl && !ctrl.signal.aborted;
    $("#run-cancel", container).hidden = false;
    const done = (r) => ["succeeded", "failed", "cancelled"].includes(r.status);
    let last = run;
    const update = (r) => {
      if (!current() || !r || r.id !== run.id) return;
      last = r;
      showProgress(progress, r.progress_percent, r.stage || r.status);
      say(status, `${r.simulator} run ${r.status}${r.stage ? `: ${r.stage}` : ""}`);
      const opt = [...runSelect.options].find((o) => o.value === r.id);
      if (opt) opt.textContent = runLabel(r);
    };
    update(run);
    try {
      await followEvents(`/api/runs/${run.id}/events/`, update, ctrl.signal);
    } catch {
      /* no event stream (or it broke): the polling below takes over */
    }
    // the stream ended (or never worked) before the run did: poll until it is done
    while (current() && !done(last)) {
      await new Promise((r) => setTimeout(r, 700));
      if (!current()) return;
      try {
        update(await get(`/api/runs/${run.id}/`));
      } catch (err) {
        if (current()) say(status, `Lost track of the run: ${err.message}`, "error");
        return;
      }
    }
    if (!current()) return;
    // the final record (the stream's last event may lack the KPIs and result links)
    try {
      const full = await get(`/api/runs/${run.id}/`);
      if (!current()) return;
      update(full);
    } catch {
      /* draw what the stream said */
    }
    following = null;
    $("#run-cancel", container).hidden = true;
    const i = runs.findIndex((r) => r.id === last.id);
    if (i >= 0) runs[i] = last;
    if (last.status === "succeeded") {
      await showRun(last);
      // showing the results cleared the bar: leave it at its end state for this run
      if (shown?.run.id === last.id) showProgress(progress, last.progress_percent, last.stage || last.status);
    } else say(status, last.status === "failed" ? `The run failed: ${errorText(last.error)}` : "The run was cancelled.", "error");
  }

  // comparison
  async function startCompare(mode) {
    diff?.remove();
    diff = null;
    unregister("diff:");
    swipe?.close();
    swipe = null;
    const base = baseRuns.find((r) => r.id === baseSelect.value);
    kpiContext.compare = null;
    if (!mode || !base || !shown) {
      renderKpis();
      return;
    }
    try {
      kpiContext.compare = await get(`/api/runs/${shown.run.id}/compare/${base.id}/`);
    } catch (err) {
      say(status, `Cannot compare: ${err.message}`, "error");
      return;
    }
    if (mode === "diff") {
      diff = addDiffLayer(map, shown.run, base);
      register(diff.entry);
    } else if (mode === "swipe") {
      swipe = await openSwipe(app, base, shown.run, Number(timeLabel.dataset.t || 0));
    }
    renderKpis();
  }
  const cmpMode = () => container.querySelector("input[name=cmp]:checked").value;
  baseSelect.addEventListener("change", () => {
    set({ base: baseSelect.value || null, compare: cmpMode() });
    startCompare(cmpMode());
  });
  for (const r of container.querySelectorAll("input[name=cmp]")) {
    r.addEventListener("change", () => {
      set({ compare: cmpMode() });
      startCompare(cmpMode());
    });
  }
  if (state.compare) {
    const r = [...container.querySelectorAll("input[name=cmp]")].find((x) => x.value === state.compare);
    if (r) r.checked = true;
  }

  // KPIs and charts
  let cursorChart = null;
  function updateCursor(t) {
    if (cursorChart) cursorChart(t);
  }

  async function renderKpis() {
    kpiPanel.replaceChildren();
    cursorChart = null;
    if (!shown) return;
    const { run, layers } = shown;
    const cmp = kpiContext.compare?.kpis;
    kpiPanel.append(el("h3", {}, "Key figures"));
    // a run that succeeded on empty or implausible inputs says so (Run.warnings)
    if (run.warnings?.length) {
      kpiPanel.append(el("ul", { class: "run-warnings" }, ...run.warnings.map((w) => el("li", { "data-code": w.code }, w.message))));
    }
    const table = el("table", { class: "kv kpis" });
    table.innerHTML = `<tr><th></th><th>scenario</th>${cmp ? "<th>baseline</th><th>Δ</th>" : ""}</tr>` + Object.entries(run.kpis || {})
      .map(([k, v]) => {
        const c = cmp?.[k];
        const delta = c?.delta;
        return `<tr data-kpi="${escapeHtml(k)}"><th>${escapeHtml(k.replaceAll("_", " "))}</th><td>${escapeHtml(fmt(v, 2))}</td>${cmp ? `<td>${escapeHtml(fmt(c?.base, 2))}</td><td class="${delta > 0 ? "up" : delta < 0 ? "down" : ""}">${delta == null ? "–" : (delta > 0 ? "+" : "") + escapeHtml(fmt(delta, 2))}</td>` : ""}</tr>`;
      })
      .join("");
    kpiPanel.append(table);
    const charts = el("div", { class: "charts" });
    kpiPanel.append(charts);
    const k = run.kpis || {};
    if (run.simulator === "traffic") {
      const items = [
        { label: "vehicle-hours", value: k.vehicle_hours, color: "#1565c0" },
        { label: "delay veh-h", value: k.delay_vehicle_hours, color: "#c62828" },
      ];
      if (cmp) items.push({ label: "base veh-h", value: cmp.vehicle_hours?.base, color: "#90a4ae" }, { label: "base delay", value: cmp.delay_vehicle_hours?.base, color: "#ef9a9a" });
      charts.innerHTML = barChart("Vehicle-hours in the peak hour", items, { unit: "h" });
    } else if (run.simulator === "solar") {
      let values = [];
      try {
        const fc = await get(`/api/runs/${run.id}/buildings/`);
        values = fc.features.map((f) => f.properties.sun_hours);
      } catch (err) {
        charts.append(el("p", { class: "status status-error" }, `No building results: ${err.message}`));
      }
      charts.insertAdjacentHTML("beforeend", histogram("Roof sun hours per building", values, { xLabel: "hours" }));
    } else if (run.simulator === "evacuation") {
      const series = layers.data.series || {};
      const curve = series.evacuated_share;
      const shelters = Object.entries(series).filter(([name]) => name.startsWith("shelter:"));
      const draw = (t) => {
        let html = curve
          ? lineChart("Evacuated share", [{ name: "evacuated", x: curve.t_s.map((s) => s / 60), y: curve.values, color: "#2e7d32" }], { xLabel: "minutes", cursor: t / 60, xFormat: (v) => fmt(v, 0), yMax: Math.max(1, ...curve.values.filter((v) => v != null)) })
          : "<p>No evacuation curve in the results.</p>";
        if (shelters.length) {
          const items = shelters.map(([name, s]) => {
            let i = s.t_s.findIndex((x) => x > t) - 1;
            if (i < -1) i = s.t_s.length - 1;
            const v = i >= 0 ? s.values[i] || 0 : 0;
            const full = s.capacity ? v / s.capacity : null;
            return { label: name.slice(8), value: v, color: full != null && full >= 1 ? "#c62828" : "#2e7d32" };
          });
          html += barChart(`Shelters at ${mmss(t)}`, items, { unit: "people" });
        }
        charts.innerHTML = html;
      };
      cursorChart = draw;
      draw(Number(timeLabel.dataset.t || 0));
    }
    if (run.simulator === "solar" && layers.data.shadows?.length) {
      kpiPanel.append(el("p", { class: "muted" }, `${layers.data.shadows.length} shadow masks from ${hhmm(layers.data.shadows[0].minute)} to ${hhmm(layers.data.shadows.at(-1).minute)}; move the time slider to see them.`));
    }
    kpiPanel.append(el("p", { class: "muted" }, `engine ${run.engine_version || "?"} · ${run.seconds != null ? `${fmt(run.seconds, 1)} s` : ""} · input ${String(run.input_checksum || "").slice(0, 10)}`));
  }

  return {
    scenarioChanged: async (s) => {
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
          if (["queued", "running"].includes(run.status)) follow(run);
          else if (shown?.run.id !== run.id) showRun(await get(`/api/runs/${run.id}/`));
        } else clearResults();
      }
    },
    clear: clearResults,
    setD3: (on) => {
      shown?.layers.setD3(on);
      swipe?.setD3?.(on);
    },
    reapply: () => {
      if (shown) for (const e of shown.layers.entries) applyEntry(e);
    },
    shown: () => shown,
  };
}

export function errorText(error) {
  if (!error) return "no reason given";
  if (typeof error === "string") return error;
  return error.message || error.error || error.detail || JSON.stringify(error);
}
