// Find a place in the top bar: streets, areas, facilities, named buildings and addresses of the
// city (GET /api/cities/<id>/search/: the twin's own names, typos forgiven). Choosing one flies
// the map to it and outlines its extent.

import { get } from "./api.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";

const EMPTY = { type: "FeatureCollection", features: [] };

function outline(bbox) {
  const [x0, y0, x1, y1] = bbox;
  return { type: "Feature", geometry: { type: "Polygon", coordinates: [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]] }, properties: {} };
}

export function initSearch(map) {
  const input = $("#place-search");
  const list = $("#place-results");
  let timer = null;
  let asked = 0;
  // called once the map's style has loaded
  map.addSource("search-hit", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "search-hit", type: "line", source: "search-hit", paint: { "line-color": "#ff6f00", "line-width": 3, "line-dasharray": [2, 1] } });
  const close = () => {
    list.hidden = true;
    list.replaceChildren();
  };
  const go = (place) => {
    const [x0, y0, x1, y1] = place.bbox;
    map.fitBounds([[x0, y0], [x1, y1]], { padding: 80, maxZoom: 17, duration: 0 });
    map.getSource("search-hit")?.setData(outline(place.bbox));
    document.body.dataset.found = place.name;
    input.value = place.name;
    close();
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2 || !state.city) return close();
    timer = setTimeout(async () => {
      const mine = ++asked;
      let found;
      try {
        found = await get(`/api/cities/${state.city}/search/?q=${encodeURIComponent(q)}`);
      } catch {
        return close();
      }
      if (mine !== asked) return; // a later query is under way
      list.replaceChildren(
        ...(found.results.length
          ? found.results.map((p) => el("li", { role: "option", "data-kind": p.kind, onclick: () => go(p) }, p.label))
          : [el("li", { class: "muted" }, `Nothing called “${q}” in this city.`)]),
      );
      list.hidden = false;
    }, 200);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") close();
    if (ev.key === "Enter") list.querySelector("li[role=option]")?.click();
  });
}
