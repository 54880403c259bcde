// The Upload tab: a file into the twin (see ../upload.js); the new layer joins the catalogue.

import { loadCityLayers, render as renderCatalogue, showAndZoom } from "../catalogue.js";
import { el } from "../dom.js";
import { cityName, state } from "../state.js";
import { initUpload } from "../upload.js";

function init(section) {
  const container = el("div", { id: "upload-panel" });
  section.append(container);
  const onDone = async (job) => {
    const { layers } = await loadCityLayers(state.city);
    renderCatalogue();
    // the new layer is switched on and the map flies to it: something visibly happened
    const made = layers.find((l) => l.id === job.report?.layer_id);
    if (made) showAndZoom(`layer:${made.slug}`, made.extent);
  };
  initUpload(container, { cityName, onDone });
  return { dispose: () => container.remove() };
}

export default { id: "upload", title: "Upload", init };
