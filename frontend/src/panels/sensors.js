// The Sensors tab: the city's sensors as a map layer coloured by their latest value, kept live by
// the server-sent stream /api/sensors/events/ (woken by the database's NOTIFY: no polling), a
// staleness mark for sensors quiet for longer than 3x their usual interval, and a chart of the
// sensor clicked with its forecast band and anomalies (/api/sensors/datastreams/<id>/forecast/).

import { ApiError, followEvents, get } from "../api.js";
import { el, escapeHtml, fmt, say } from "../dom.js";
import { onChange, state } from "../state.js";

const SOURCE = "sensors";
const LAYER = "sensors";
//: a sensor is stale when quiet for longer than this many usual intervals
const STALE_INTERVALS = 3;
const LOW = "#2e7d32";
const MID = "#fbc02d";
const HIGH = "#c62828";
const STALE = "#9e9e9e";

function isStale(p, now = Date.now()) {
  if (!p.time || !p.interval_s) return false;
  return now - Date.parse(p.time) > STALE_INTERVALS * p.interval_s * 1000;
}

/** Each sensor's level (0..1) among the sensors of the same unit, and its staleness. */
function classify(features) {
  const range = new Map();
  for (const f of features) {
    const v = f.properties.value;
    if (v == null) continue;
    const r = range.get(f.properties.unit) || [Infinity, -Infinity];
    range.set(f.properties.unit, [Math.min(r[0], v), Math.max(r[1], v)]);
  }
  for (const f of features) {
    const p = f.properties;
    const [lo, hi] = range.get(p.unit) || [0, 0];
    p.level = p.value == null ? null : hi > lo ? (p.value - lo) / (hi - lo) : 0.5;
    p.stale = isStale(p);
  }
}

function timeText(iso, tz) {
  if (!iso) return "–";
  return new Intl.DateTimeFormat(undefined, { timeZone: tz, dateStyle: "short", timeStyle: "medium" }).format(new Date(iso));
}

const W = 300;
const H = 160;
const PAD = { l: 40, r: 8, t: 18, b: 26 };

/** History, forecast band and anomalies of one sensor as an SVG chart. */
function forecastChart(body) {
  const points = [...body.history.map((h) => ({ ...h, past: true })), ...body.forecast];
  const t = points.map((p) => Date.parse(p.time));
  const ys = points.flatMap((p) => [p.value, p.lower, p.upper, p.forecast]).filter((v) => v != null);
  const t0 = Math.min(...t);
  const t1 = Math.max(...t);
  const y0 = Math.min(0, ...ys);
  const y1 = Math.max(...ys, 1e-9);
  const sx = (v) => PAD.l + ((v - t0) / (t1 - t0 || 1)) * (W - PAD.l - PAD.r);
  const sy = (v) => H - PAD.b - ((v - y0) / (y1 - y0 || 1)) * (H - PAD.t - PAD.b);
  const line = (key, rows) => rows.filter((p) => p[key] != null).map((p) => `${sx(Date.parse(p.time)).toFixed(1)},${sy(p[key]).toFixed(1)}`).join(" ");
  const band = points.filter((p) => p.lower != null && p.upper != null);
  const polygon = [...band.map((p) => `${sx(Date.parse(p.time)).toFixed(1)},${sy(p.upper).toFixed(1)}`), ...band.reverse().map((p) => `${sx(Date.parse(p.time)).toFixed(1)},${sy(p.lower).toFixed(1)}`)].join(" ");
  const now = sx(Date.parse(body.history[body.history.length - 1].time));
  const fmtDay = (ms) => new Intl.DateTimeFormat(undefined, { timeZone: body.time_zone, weekday: "short", hour: "2-digit" }).format(new Date(ms));
  const anomalies = body.anomalies
    .map((a) => `<circle class="anomaly" cx="${sx(Date.parse(a.time)).toFixed(1)}" cy="${sy(a.value).toFixed(1)}" r="3.5" fill="${HIGH}"><title>${escapeHtml(`${timeText(a.time, body.time_zone)}: ${fmt(a.value)} ${body.unit} (expected ${fmt(a.forecast)})`)}</title></circle>`)
    .join("");
  return `<svg class="chart sensor-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(body.name)}">
    <text x="${PAD.l}" y="12" class="chart-title">${escapeHtml(body.name)} (${escapeHtml(body.unit)}, ${escapeHtml(body.time_zone)})</text>
    <polygon class="band" points="${polygon}" fill="#90caf9" fill-opacity="0.45" stroke="none"><title>forecast band (±${body.band_sigmas} σ)</title></polygon>
    <polyline fill="none" stroke="#1565c0" stroke-width="1.2" stroke-dasharray="3 2" points="${line("forecast", points)}"><title>forecast</title></polyline>
    <polyline class="observed" fill="none" stroke="#212121" stroke-width="1.5" points="${line("value", body.history)}"><title>observed</title></polyline>
    <line x1="${now}" x2="${now}" y1="${PAD.t}" y2="${H - PAD.b}" class="cursor"/>
    ${anomalies}
    <text x="${PAD.l - 4}" y="${sy(y1) + 3}" text-anchor="end" class="chart-tick">${fmt(y1, 0)}</text>
    <text x="${PAD.l - 4}" y="${sy(y0) + 3}" text-anchor="end" class="chart-tick">${fmt(y0, 0)}</text>
    <text x="${PAD.l}" y="${H - PAD.b + 12}" class="chart-tick">${escapeHtml(fmtDay(t0))}</text>
    <text x="${W - PAD.r}" y="${H - PAD.b + 12}" text-anchor="end" class="chart-tick">${escapeHtml(fmtDay(t1))}</text>
  </svg>`;
}

function init(section, { status }) {
  const note = el("p", { class: "hint" }, "Sensors coloured by their latest value (green low, red high, among sensors of the same unit); grey: quiet for longer than 3× their usual interval. Click one for its forecast.");
  const table = el("table", { id: "sensor-list", class: "kpis" });
  const chart = el("div", { id: "sensor-chart" });
  const message = el("p", { id: "sensor-status" });
  section.append(note, table, message, chart);
  const map = state.map;
  let data = { type: "FeatureCollection", features: [], time_zone: "UTC" };
  let controller = null;
  let disposed = false;
  let selected = null;

  const draw = () => {
    classify(data.features);
    map.getSource(SOURCE)?.setData(data);
    table.replaceChildren(
      el("tr", {}, el("th", {}, "Sensor"), el("th", {}, "Latest"), el("th", {}, "Time")),
      ...data.features.map((f) => {
        const p = f.properties;
        const value = p.value != null ? `${fmt(p.value)} ${p.unit}` : JSON.stringify(p.result ?? null);
        return el(
          "tr",
          { "data-datastream": p.datastream, class: p.stale ? "stale" : false, onclick: () => showForecast(p.datastream) },
          el("td", {}, p.name),
          el("td", { class: "value" }, value),
          el("td", { class: "time" }, `${timeText(p.time, data.time_zone)}${p.stale ? " (stale)" : ""}`),
        );
      }),
    );
  };

  async function showForecast(id) {
    selected = id;
    chart.replaceChildren();
    try {
      const body = await get(`/api/sensors/datastreams/${id}/forecast/`);
      if (selected !== id) return;
      chart.innerHTML = forecastChart(body);
      say(message, `${body.anomalies.length} anomalies in the last ${body.history.length} h (${body.profile} profile)`, "info");
    } catch (err) {
      say(message, err instanceof ApiError && err.status === 409 ? err.message : `Forecast: ${err.message}`, err.status === 409 ? "info" : "error");
    }
  }

  function ensureLayer() {
    if (map.getSource(SOURCE)) return;
    map.addSource(SOURCE, { type: "geojson", data, promoteId: "datastream" });
    map.addLayer({
      id: LAYER,
      type: "circle",
      source: SOURCE,
      paint: {
        "circle-radius": 7,
        "circle-color": ["case", ["boolean", ["get", "stale"], false], STALE, ["==", ["get", "level"], null], STALE, ["interpolate", ["linear"], ["get", "level"], 0, LOW, 0.5, MID, 1, HIGH]],
        "circle-stroke-color": ["case", ["boolean", ["get", "stale"], false], "#424242", "#ffffff"],
        "circle-stroke-width": ["case", ["boolean", ["get", "stale"], false], 3, 1.5],
      },
    });
    map.on("click", LAYER, (e) => {
      const f = e.features?.[0];
      if (f) showForecast(f.properties.datastream);
    });
  }

  async function follow() {
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    const city = state.city;
    while (!disposed && !signal.aborted) {
      try {
        await followEvents(`/api/sensors/events/?city=${city}`, (msg) => {
          const f = data.features.find((x) => x.properties.datastream === msg.datastream);
          if (!f) return load(false); // a new sensor: read the layer again
          const p = f.properties;
          if (p.time && msg.phenomenon_time && Date.parse(msg.phenomenon_time) < Date.parse(p.time)) return;
          p.time = msg.phenomenon_time;
          if ("result" in msg) {
            p.result = msg.result;
            p.value = typeof msg.result === "number" ? msg.result : null;
          }
          draw();
          if (selected === p.datastream) showForecast(selected);
        }, signal, "observation");
      } catch (err) {
        if (signal.aborted) return;
      }
      await new Promise((r) => setTimeout(r, 3000)); // the stream ended or broke: open it again
    }
  }

  async function load(restart = true) {
    try {
      data = await get(`/api/sensors/map/?city=${state.city}`);
      ensureLayer();
      draw();
      if (restart) follow();
    } catch (err) {
      say(status, `Sensors: ${err.message}`, "error");
    }
  }

  load();
  const timer = setInterval(draw, 30_000); // staleness moves with the clock
  const stop = onChange((changes, meta) => {
    if ("city" in changes || ("user" in changes && meta.reason !== "expired")) {
      selected = null;
      chart.replaceChildren();
      load();
    }
  });
  return {
    dispose() {
      disposed = true;
      controller?.abort();
      clearInterval(timer);
      stop();
      if (map.getLayer(LAYER)) map.removeLayer(LAYER);
      if (map.getSource(SOURCE)) map.removeSource(SOURCE);
    },
  };
}

export default { id: "sensors", title: "Sensors", init };
