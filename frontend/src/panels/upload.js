// The Upload tab: a file into the twin (see ../upload.js); the new layer joins the catalogue.

import { loadCityLayers, render as renderCatalogue } from "../catalogue.js";
import { el } from "../dom.js";
import { cityName, state } from "../state.js";
import { initUpload } from "../upload.js";

function init(section) {
  const container = el("div", { id: "upload-panel" });
  section.append(container);
  initUpload(container, { cityName, onDone: () => loadCityLayers(state.city).then(renderCatalogue) });
  return { dispose: () => container.remove() };
}

export default { id: "upload", title: "Upload", init };
