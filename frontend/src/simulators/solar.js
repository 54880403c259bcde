// Solar runs on the map: roofs coloured by sun hours (3D), the ground's sun hours as a raster,
// the shadow mask at the time on the slider; a histogram of roof sun hours. The run form's
// "only the area in view" box and its date (prefilled with the March equinox) are made here.

import { abs, get } from "../api.js";
import { ATTRIBUTION } from "../basemap.js";
import { histogram } from "../charts.js";
import { el, fmt } from "../dom.js";
import { SUN_RAMP, extrusion, hhmm, interpolate, vectorSource } from "./common.js";

async function addLayers({ map, run, prefix, d3, addSource, addLayer, isOn }) {
  const rasters = await get(`/api/runs/${run.id}/rasters/`);
  const out = { entries: [], data: { rasters } };
  const sun = rasters.find((r) => r.name === "sun_hours");
  if (sun) {
    addSource(`${prefix}sun`, { type: "raster", tiles: [abs(`${sun.tiles}?colormap=viridis`)], tileSize: 256, maxzoom: 19, attribution: ATTRIBUTION });
    const id = addLayer({ id: `${prefix}sun-hours`, type: "raster", source: `${prefix}sun`, paint: { "raster-opacity": 0.75, "raster-fade-duration": 0 } });
    out.entries.push({
      id: `${prefix}sun-hours`,
      title: "Sun hours on the ground",
      group: "Results",
      layers: [id],
      defaultOff: true,
      legend: [{ kind: "ramp", colors: SUN_RAMP, min: fmt(sun.min), max: fmt(sun.max), label: sun.unit || "h" }],
    });
  }
  // shadow_HHMM: the mask at that time of day (the city's local time)
  const shadows = rasters
    .filter((r) => r.name.startsWith("shadow_"))
    .map((r) => ({ ...r, minute: Number(r.name.slice(7, 9)) * 60 + Number(r.name.slice(9, 11)) }))
    .sort((a, b) => a.minute - b.minute);
  out.data.shadows = shadows;
  const shadowIds = shadows.map((r) => {
    const sid = `${prefix}${r.name}`;
    addSource(sid, { type: "raster", tiles: [abs(r.tiles)], tileSize: 256, maxzoom: 19 });
    return addLayer({ id: sid, type: "raster", source: sid, layout: { visibility: "none" }, paint: { "raster-opacity": 1, "raster-fade-duration": 0 } });
  });
  addSource(`${prefix}roofs`, vectorSource(`/tiles/runs/${run.id}/buildings/{z}/{x}/{y}.pbf`));
  const roofs = addLayer(
    {
      id: `${prefix}roof-sun`,
      type: "fill-extrusion",
      source: `${prefix}roofs`,
      "source-layer": "buildings",
      paint: {
        "fill-extrusion-color": interpolate(["coalesce", ["get", "sun_hours"], 0], SUN_RAMP.map((c, i) => [i * 3, c])),
        "fill-extrusion-height": extrusion(d3),
        "fill-extrusion-opacity": 0.95,
      },
    },
    null,
  );
  out.setD3 = (on) => map.setPaintProperty(roofs, "fill-extrusion-height", extrusion(on));
  out.entries.push({ id: `${prefix}roof-sun`, title: "Roof sun hours", group: "Results", layers: [roofs], legend: [{ kind: "ramp", colors: SUN_RAMP, min: "0", max: "≥ 12", label: "h/day" }] });
  if (shadows.length) {
    let current = -1;
    out.entries.push({
      id: `${prefix}shadows`,
      title: "Shadows at the time on the slider",
      group: "Results",
      layers: shadowIds,
      legend: [{ kind: "fill", color: "rgba(20,20,20,0.6)", label: "in shadow" }],
      visible: (layerId) => layerId === shadowIds[current],
    });
    // the masks are named by the city's clock (run.meta.time_zone); say which clock it is
    const zone = run.meta?.time_zone;
    const label = zone && zone !== "UTC" ? `local time of day (${zone.replaceAll("_", " ")})` : "time of day (UTC)";
    out.timeline = { values: shadows.map((s) => s.minute), format: hhmm, label };
    out.setTime = (minute) => {
      let best = 0;
      shadows.forEach((sh, i) => {
        if (Math.abs(sh.minute - minute) < Math.abs(shadows[best].minute - minute)) best = i;
      });
      current = best;
      const on = isOn(`${prefix}shadows`);
      shadowIds.forEach((id, i) => map.setLayoutProperty(id, "visibility", on && i === current ? "visible" : "none"));
      map.getContainer().dataset.shadow = shadows[best].name;
    };
  }
  return out;
}

/** Noon, or the first step after it: the slider's place when the link names no time. */
const initialTime = (minutes) => Math.max(0, minutes.findIndex((v) => v >= 12 * 60));

async function charts(node, { run }) {
  let values = [];
  try {
    const fc = await get(`/api/runs/${run.id}/buildings/`);
    values = fc.features.map((f) => f.properties.sun_hours);
  } catch (err) {
    node.append(el("p", { class: "status status-error" }, `No building results: ${err.message}`));
  }
  node.insertAdjacentHTML("beforeend", histogram("Roof sun hours per building", values, { xLabel: "hours" }));
  return null;
}

function notes({ layers }) {
  const shadows = layers.data.shadows || [];
  if (!shadows.length) return null;
  return `${shadows.length} shadow masks from ${hhmm(shadows[0].minute)} to ${hhmm(shadows.at(-1).minute)}; move the time slider to see them.`;
}

// the run form: the area in view (a checkbox, not four numbers) and the date prefilled with the
// server's own default (this year's March equinox) when the schema leaves it to the server
const widgets = {
  bbox: (field, { map }) => {
    const input = el("input", { type: "checkbox", name: field.name, checked: true });
    return {
      label: el("label", { title: field.schema.description || "" }, "only the area in view", " ", input),
      input,
      read: () => {
        if (!input.checked) return undefined;
        const b = map.getBounds();
        return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((x) => Math.round(x * 1e5) / 1e5);
      },
    };
  },
  date: (field, { generic }) => generic({ ...field.schema, default: field.schema.default ?? `${new Date().getFullYear()}-03-20` }),
};

export default {
  name: "solar",
  addLayers,
  diff: { kind: "buildings", field: "delta_sun_hours", span: 3 },
  initialTime,
  charts,
  notes,
  widgets,
};
