// Calibration runs on the map: the calibrated demand's volumes on the roads (as a traffic run),
// and the observed vs modelled scatter of the counted links (green: GEH < 5).

import { escapeHtml, fmt } from "../dom.js";
import traffic from "./traffic.js";

const W = 300;
const H = 220;
const PAD = { l: 44, r: 10, t: 18, b: 30 };

/** Observed (x) vs modelled (y) volume per counted link, with the 1:1 line. */
function scatter(pairs, title) {
  const max = Math.max(1, ...pairs.flatMap((p) => [p.observed_veh_h, p.modelled_veh_h]));
  const sx = (v) => PAD.l + (v / max) * (W - PAD.l - PAD.r);
  const sy = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const dots = pairs
    .map((p) => `<circle cx="${sx(p.observed_veh_h).toFixed(1)}" cy="${sy(p.modelled_veh_h).toFixed(1)}" r="3" fill="${p.geh < 5 ? "#2e7d32" : "#c62828"}"><title>${escapeHtml(`observed ${fmt(p.observed_veh_h, 0)} veh/h, modelled ${fmt(p.modelled_veh_h, 0)} veh/h, GEH ${fmt(p.geh, 1)}`)}</title></circle>`)
    .join("");
  return `<svg class="chart scatter" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">
    <text x="${PAD.l}" y="12" class="chart-title">${escapeHtml(title)}</text>
    <line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(max)}" y2="${sy(max)}" stroke="#90a4ae" stroke-dasharray="3 2"/>
    ${dots}
    <text x="${W - PAD.r}" y="${H - 4}" text-anchor="end" class="chart-axis">observed (veh/h)</text>
    <text x="4" y="${PAD.t + 8}" class="chart-axis">modelled</text>
    <text x="${PAD.l - 4}" y="${sy(max) + 3}" text-anchor="end" class="chart-tick">${fmt(max, 0)}</text>
    <text x="${PAD.l - 4}" y="${sy(0) + 3}" text-anchor="end" class="chart-tick">0</text>
  </svg>`;
}

function charts(node, { run }) {
  const pairs = run.meta?.fit_pairs || [];
  const k = run.kpis || {};
  node.innerHTML = scatter(pairs, `Counts vs calibrated model: GEH < 5 on ${fmt(100 * (k.share_geh_below_5 || 0), 0)} % (before: ${fmt(100 * (k.share_geh_below_5_prior || 0), 0)} %)`);
  return null;
}

export default {
  name: "calibration",
  addLayers: traffic.addLayers,
  diff: { kind: "edges", field: "delta_vc_ratio", span: 0.5 },
  charts,
};
