// Result layers of one run on a map, drawn by the run's simulator view (simulators/registry.js),
// and the difference layer against a baseline run. Used by the main map and by the baseline map
// of the swipe comparison.

import { viewOf } from "./simulators/registry.js";
import { interpolate, vectorSource } from "./simulators/common.js";

const DIFF_RAMP = ["#2166ac", "#67a9cf", "#f7f7f7", "#ef8a62", "#b2182b"];

// result layers go under the buildings unless a view asks for "on top" (beforeId null)
const under = (map) => (map.getLayer("buildings-2d") ? "buildings-2d" : undefined);

/**
 * Add the layers of a finished run to `map`. Returns the view's {entries, timeline, setTime,
 * setD3, data} plus remove(). `prefix` keeps the ids of two runs on one map apart; `d3` says
 * whether buildings are extruded; `isOn(entryId)` whether the catalogue shows an entry.
 */
export async function addRunLayers(map, run, { prefix = "result:", d3 = true, isOn = () => true } = {}) {
  const ids = [];
  const sources = [];
  const remove = () => {
    for (const id of ids) if (map.getLayer(id)) map.removeLayer(id);
    for (const id of sources) if (map.getSource(id)) map.removeSource(id);
  };
  const ctx = {
    map,
    run,
    prefix,
    d3,
    isOn,
    addSource: (id, spec) => {
      map.addSource(id, spec);
      sources.push(id);
    },
    // beforeId: a layer id, undefined for "under the buildings", null for "on top"
    addLayer: (spec, beforeId = under(map)) => {
      map.addLayer(spec, beforeId ?? undefined);
      ids.push(spec.id);
      return spec.id;
    },
  };
  let layers;
  try {
    layers = await viewOf(run.simulator).addLayers(ctx);
  } catch (err) {
    remove(); // nothing half-drawn
    throw err;
  }
  return { timeline: null, setTime: () => {}, setD3: () => {}, data: {}, ...layers, remove };
}

/** The difference layer of run minus base (the view says which field of edges or buildings). */
export function addDiffLayer(map, run, base, prefix = "diff:") {
  const spec = viewOf(run.simulator).diff;
  if (!spec) return null;
  const { kind, field, span } = spec;
  const sid = `${prefix}${kind}`;
  map.addSource(sid, vectorSource(`/tiles/compare/${run.id}/${base.id}/${kind}/{z}/{x}/{y}.pbf`));
  const color = interpolate(["coalesce", ["get", field], 0], DIFF_RAMP.map((c, i) => [(-1 + i / 2) * span, c]));
  const id = `${prefix}${field}`;
  if (kind === "edges") {
    map.addLayer({ id, type: "line", source: sid, "source-layer": kind, filter: ["!=", ["coalesce", ["get", field], 0], 0], paint: { "line-color": color, "line-width": 4, "line-opacity": 1 } });
  } else {
    map.addLayer({ id, type: "fill", source: sid, "source-layer": kind, paint: { "fill-color": color, "fill-opacity": 0.9 } });
  }
  return {
    entry: {
      id,
      title: `Difference: ${field.replace("delta_", "")} (scenario − baseline)`,
      group: "Results",
      layers: [id],
      legend: [{ kind: "ramp", colors: DIFF_RAMP, min: `−${span}`, max: `+${span}`, label: "0 = unchanged" }],
    },
    remove: () => {
      if (map.getLayer(id)) map.removeLayer(id);
      if (map.getSource(sid)) map.removeSource(sid);
    },
  };
}
