// Swipe comparison: the baseline run on a second map, left of a slider; the scenario run right,
// the same layers drawn on both sides.

import maplibregl from "maplibre-gl";
import Compare from "@maplibre/maplibre-gl-compare";
import "@maplibre/maplibre-gl-compare/dist/maplibre-gl-compare.css";
import { token } from "./api.js";
import { baseStyle } from "./basemap.js";
import { opacityOf } from "./catalogue.js";
import { el } from "./dom.js";
import { addRunLayers } from "./results.js";
import { state } from "./state.js";

export async function openSwipe(baseRun, run, t) {
  const main = state.map;
  const wrap = document.getElementById("map-wrap");
  const container = el("div", { id: "map-base", class: "map" });
  wrap.insertBefore(container, main.getContainer().nextSibling);
  const label = el("div", { class: "swipe-labels" }, el("span", {}, "◀ baseline"), el("span", {}, `${run.simulator} scenario ▶`));
  wrap.append(label);
  const style = baseStyle(state.city);
  if (state.d === "2") {
    style.layers.find((l) => l.id === "buildings-3d").layout = { visibility: "none" };
    style.layers.find((l) => l.id === "buildings-2d").layout = { visibility: "visible" };
  }
  const other = new maplibregl.Map({
    container,
    style,
    center: main.getCenter(),
    zoom: main.getZoom(),
    bearing: main.getBearing(),
    pitch: main.getPitch(),
    attributionControl: false,
    transformRequest: (url) => (token() && url.startsWith(location.origin) ? { url, headers: { Authorization: `Token ${token()}` } } : { url }),
  });
  await new Promise((r) => other.once("load", r));
  const twin = (id) => `result:${id.slice("base:".length)}`;
  const layers = await addRunLayers(other, baseRun, { prefix: "base:", d3: state.d === "3", isOn: (id) => opacityOf(twin(id)) > 0 });
  layers.setTime(t);
  // like for like: each baseline layer is drawn exactly when its twin on the scenario's side is
  // (the catalogue and the time slider switch the main map's layers; a layer off by default,
  // like solar's ground raster, stays off on both sides)
  const ids = layers.entries.flatMap((e) => e.layers);
  const mirror = () => {
    for (const id of ids) {
      if (!other.getLayer(id) || !main.getLayer(twin(id))) continue;
      const want = main.getLayoutProperty(twin(id), "visibility") ?? "visible";
      if ((other.getLayoutProperty(id, "visibility") ?? "visible") !== want) other.setLayoutProperty(id, "visibility", want);
    }
    other.getContainer().dataset.visibleResults = ids.filter((id) => (other.getLayoutProperty(id, "visibility") ?? "visible") === "visible").join(" ");
  };
  mirror();
  main.on("styledata", mirror);
  const compare = new Compare(other, main, "#map-wrap", { orientation: "vertical" });
  return {
    setTime: (value) => {
      layers.setTime(value);
      mirror();
    },
    setD3: (on) => layers.setD3(on),
    close: () => {
      main.off("styledata", mirror);
      compare.remove();
      other.remove();
      container.remove();
      label.remove();
      main.getContainer().style.clip = "";
    },
  };
}
