// The simulators the web map knows how to show: one module each. Adding a simulator = its module
// in this folder + one line below. Its run form needs nothing here: it is built from the
// parameter schema the server serves at GET /api/simulators/ (see ../runform.js).
//
// A view is {name, addLayers, diff, charts?, notes?, initialTime?, widgets?}:
// - addLayers(ctx): the layers of one finished run on a map. ctx = {map, run, prefix, d3, isOn,
//   addSource(id, spec), addLayer(spec, beforeId)}; layer and source ids start with `prefix` (two
//   runs share a map in the swipe). Returns {entries (catalogue entries with legends), data?,
//   timeline? {values, format, label}, setTime?(t), setD3?(on)}.
// - diff: {kind: "edges" | "buildings", field, span}: the difference layer against a baseline run
//   (field of /tiles/compare/<run>/<base>/<kind>/, coloured from -span to +span).
// - charts(node, {run, layers, map, compare, t}): draws into node (map: the main map, e.g. to fly
//   to a listed result); may return draw(t) for the slider.
// - notes({run, layers}): a sentence under the key figures, or null.
// - initialTime(values): the slider's index when the link names no time (default 0).
// - widgets: {param: (field, {map, generic}) => {label, input, read}} for the parameters a plain
//   input does not fit (e.g. solar's bbox is "the area in view").

import calibration from "./calibration.js";
import evacuation from "./evacuation.js";
import power_criticality from "./power_criticality.js";
import power_flow from "./power_flow.js";
import pv_roofs from "./pv_roofs.js";
import road_upgrades from "./road_upgrades.js";
import shelter_siting from "./shelter_siting.js";
import solar from "./solar.js";
import traffic from "./traffic.js";
import transit from "./transit.js";
import water from "./water.js";

export const SIMULATOR_VIEWS = new Map([traffic, solar, evacuation, calibration, transit, water, power_flow, power_criticality, shelter_siting, pv_roofs, road_upgrades].map((v) => [v.name, v]));

// a simulator the server serves but no module shows: its form still works, the key figures show
const PLAIN = { name: "", addLayers: async () => ({ entries: [] }), diff: null };

export const viewOf = (name) => SIMULATOR_VIEWS.get(name) || PLAIN;
