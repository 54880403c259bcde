// The tabs of the sidebar, in order: one module each. Adding a panel = its module in this folder
// + one line below. A panel is {id, title, init(section, ctx) -> {dispose()}}: init fills its
// <section id="tab-<id>"> once the map has loaded (state.map, state.city... in ../state.js) and
// listens to the store (onChange) for what other panels change; dispose stops listening and
// takes its layers off the map. ctx = {status} (the page's status line).

import assistant from "./assistant.js";
import layers from "./layers.js";
import results from "./results.js";
import scenario from "./scenario.js";
import sensors from "./sensors.js";
import sweeps from "./sweeps.js";
import upload from "./upload.js";

export const PANELS = [layers, scenario, results, upload, sensors, assistant, sweeps];
