// Small SVG charts: line (with a time cursor), histogram, bars. No library.

import { escapeHtml, fmt } from "./dom.js";

const W = 300;
const H = 150;
const PAD = { l: 40, r: 10, t: 18, b: 28 };

function frame(title, body, xLabel, yLabel) {
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">
    <text x="${PAD.l}" y="12" class="chart-title">${escapeHtml(title)}</text>
    ${body}
    <text x="${W - PAD.r}" y="${H - 2}" text-anchor="end" class="chart-axis">${escapeHtml(xLabel || "")}</text>
    <text x="4" y="${PAD.t + 8}" class="chart-axis">${escapeHtml(yLabel || "")}</text>
  </svg>`;
}

function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function ticks(min, max, n = 4) {
  const out = [];
  for (let i = 0; i <= n; i++) out.push(min + ((max - min) * i) / n);
  return out;
}

/** series: [{name, x: [...], y: [...], color}]; cursor: an x value or null. */
export function lineChart(title, series, { xLabel = "", yLabel = "", cursor = null, xFormat = fmt, yMax = null } = {}) {
  const xs = series.flatMap((s) => s.x);
  const ys = series.flatMap((s) => s.y.filter((v) => v != null));
  if (!xs.length) return frame(title, `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="chart-axis">no data</text>`);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y1 = yMax ?? Math.max(...ys, 1e-9);
  const sx = scale(x0, x1, PAD.l, W - PAD.r);
  const sy = scale(0, y1, H - PAD.b, PAD.t);
  let body = ticks(0, y1)
    .map((v) => `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${sy(v)}" y2="${sy(v)}" class="grid"/><text x="${PAD.l - 4}" y="${sy(v) + 3}" text-anchor="end" class="chart-tick">${fmt(v, 2)}</text>`)
    .join("");
  body += ticks(x0, x1, 3)
    .map((v) => `<text x="${sx(v)}" y="${H - PAD.b + 12}" text-anchor="middle" class="chart-tick">${escapeHtml(xFormat(v))}</text>`)
    .join("");
  for (const s of series) {
    const pts = s.x.map((x, i) => (s.y[i] == null ? null : `${sx(x).toFixed(1)},${sy(s.y[i]).toFixed(1)}`)).filter(Boolean);
    body += `<polyline fill="none" stroke="${s.color || "#1565c0"}" stroke-width="2" points="${pts.join(" ")}"><title>${escapeHtml(s.name)}</title></polyline>`;
  }
  if (cursor != null) body += `<line class="cursor" x1="${sx(cursor)}" x2="${sx(cursor)}" y1="${PAD.t}" y2="${H - PAD.b}"/>`;
  return frame(title, body, xLabel, yLabel);
}

export function histogram(title, values, { bins = 12, xLabel = "", color = "#f9a825" } = {}) {
  const v = values.filter((x) => x != null && Number.isFinite(x));
  if (!v.length) return frame(title, `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="chart-axis">no data</text>`);
  const min = Math.min(...v);
  const max = Math.max(...v);
  const width = (max - min) / bins || 1;
  const counts = new Array(bins).fill(0);
  for (const x of v) counts[Math.min(bins - 1, Math.floor((x - min) / width))]++;
  const top = Math.max(...counts);
  const sy = scale(0, top, H - PAD.b, PAD.t);
  const bw = (W - PAD.l - PAD.r) / bins;
  let body = counts
    .map((c, i) => `<rect x="${PAD.l + i * bw + 1}" y="${sy(c)}" width="${bw - 2}" height="${H - PAD.b - sy(c)}" fill="${color}"><title>${fmt(min + i * width, 1)}–${fmt(min + (i + 1) * width, 1)}: ${c}</title></rect>`)
    .join("");
  body += `<text x="${PAD.l}" y="${H - PAD.b + 12}" class="chart-tick">${fmt(min, 1)}</text><text x="${W - PAD.r}" y="${H - PAD.b + 12}" text-anchor="end" class="chart-tick">${fmt(max, 1)}</text>`;
  body += `<text x="${PAD.l - 4}" y="${PAD.t + 3}" text-anchor="end" class="chart-tick">${top}</text>`;
  return frame(title, body, xLabel, "count");
}

/** items: [{label, value, color}] drawn as horizontal bars. */
export function barChart(title, items, { unit = "", digits = 1 } = {}) {
  // an item with a `capacity` is drawn as a share of it (a frame for the capacity, the bar for
  // the value): a shelter with 50 of 2,000 places taken is a short bar, whatever the others hold
  const max = Math.max(...items.map((i) => (i.capacity ? 0 : Math.abs(i.value || 0))), 1e-9);
  const rowH = Math.min(26, (H - PAD.t - 6) / Math.max(items.length, 1));
  const x0 = 90;
  const full = W - x0 - 120;
  const body = items
    .map((it, i) => {
      const y = PAD.t + i * rowH;
      const share = it.capacity ? Math.min(1, Math.abs(it.value || 0) / it.capacity) : Math.abs(it.value || 0) / max;
      const w = full * share;
      const value = `${fmt(it.value, digits)}${it.capacity ? ` of ${fmt(it.capacity, 0)}` : ""} ${escapeHtml(unit)}${it.capacity ? ` (${fmt((100 * (it.value || 0)) / it.capacity, 0)} %)` : ""}`;
      const frameRect = it.capacity ? `<rect x="${x0}" y="${y + 2}" width="${full}" height="${rowH - 4}" fill="none" stroke="#999" data-capacity="${it.capacity}"/>` : "";
      return `<text x="${x0 - 4}" y="${y + rowH / 2 + 3}" text-anchor="end" class="chart-tick">${escapeHtml(it.label)}</text>
        ${frameRect}<rect x="${x0}" y="${y + 2}" width="${w}" height="${rowH - 4}" fill="${it.color || "#1565c0"}" data-share="${share.toFixed(4)}"/>
        <text x="${x0 + (it.capacity ? full : w) + 4}" y="${y + rowH / 2 + 3}" class="chart-tick">${value}</text>`;
    })
    .join("");
  return frame(title, body);
}
