// Best-roofs-for-PV runs on the map: roofs coloured by their annual PV yield (3D), the
// recommendation in words under the key figures, and the best roofs' yield per kWp as bars.

import { barChart } from "../charts.js";
import { SUN_RAMP, extrusion, interpolate, vectorSource } from "./common.js";

async function addLayers({ map, run, prefix, d3, addSource, addLayer }) {
  addSource(`${prefix}pv-roofs`, vectorSource(`/tiles/runs/${run.id}/buildings/{z}/{x}/{y}.pbf`));
  const top = run.meta?.ranking?.[0]?.kwh_per_year || 10000;
  const roofs = addLayer(
    {
      id: `${prefix}pv-roofs`,
      type: "fill-extrusion",
      source: `${prefix}pv-roofs`,
      "source-layer": "buildings",
      paint: {
        "fill-extrusion-color": interpolate(["coalesce", ["get", "pv_kwh_year"], 0], SUN_RAMP.map((c, i) => [(i * top) / (SUN_RAMP.length - 1), c])),
        "fill-extrusion-height": extrusion(d3),
        "fill-extrusion-opacity": 0.95,
      },
    },
    null,
  );
  return {
    entries: [{ id: `${prefix}pv-roofs`, title: "Rooftop PV yield", group: "Results", layers: [roofs], legend: [{ kind: "ramp", colors: SUN_RAMP, min: "0", max: `≥ ${Math.round(top)}`, label: "kWh/year" }] }],
    data: { ranking: run.meta?.ranking || [] },
    setD3: (on) => map.setPaintProperty(roofs, "fill-extrusion-height", extrusion(on)),
  };
}

/** The best roofs' yield per kWp (kWh/kWp/year). */
function charts(node, { layers }) {
  const best = (layers.data?.ranking || []).slice(0, 10);
  node.innerHTML = best.length ? barChart("Best roofs: yield per kWp", best.map((r) => ({ label: `#${r.rank} b. ${r.building}`, value: r.kwh_per_kwp, color: "#f9a825" })), { unit: "kWh/kWp", digits: 0 }) : "<p>No roof ranked.</p>";
}

const notes = ({ run }) => run.meta?.recommendation || null;

export default { name: "pv_roofs", addLayers, diff: { kind: "buildings", field: "delta_pv_kwh_year", span: 2000 }, charts, notes };
