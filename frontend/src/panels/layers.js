// The Layers tab: the layer catalogue (core, imported, rasters, utility networks, scenario edits,
// run results).

import { applyAll, initCatalogue, loadCityLayers } from "../catalogue.js";
import { el, say } from "../dom.js";
import { loadNetworkLayers } from "../networks.js";
import { showQuality } from "../quality.js";
import { onChange, state } from "../state.js";
import { loadTransitLayers } from "../transit.js";

function init(section, { status }) {
  const container = el("div", { id: "catalogue" });
  // where the city's heights, uses and people come from, and what to import to improve them
  const quality = el("div", { id: "quality-panel" });
  section.append(container, quality);
  initCatalogue(state.map, container);
  applyAll();
  const load = () => {
    loadCityLayers(state.city).catch((err) => say(status, `Imported layers: ${err.message}`, "error"));
    loadTransitLayers(state.map, state.city);
    loadNetworkLayers(state.map, state.city).catch((err) => say(status, `Utility networks: ${err.message}`, "error"));
    showQuality(quality, state.city);
  };
  load();
  const stop = onChange((changes, meta) => {
    if ("d" in changes) applyAll(); // 2D or 3D: which building layer is drawn
    // another city, or another user (who may see private layers): its layers
    if ("city" in changes || ("user" in changes && meta.reason !== "expired")) load();
  });
  return { dispose: stop };
}

export default { id: "layers", title: "Layers", init };
