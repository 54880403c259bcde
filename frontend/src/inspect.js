// Click a feature for its attributes (buildings show where their height came from).

import maplibregl from "maplibre-gl";
import { escapeHtml, fmt } from "./dom.js";

const HEIGHT_SOURCES = {
  osm_height: "OSM height tag",
  osm_levels: "OSM building:levels × storey height",
  imported: "imported from a file",
  type_default: "default for the building type",
  edited: "edited in a scenario",
};

let popup = null;

export function featureTable(feature) {
  const p = feature.properties || {};
  const rows = Object.entries(p)
    .filter(([, v]) => v !== "" && v != null)
    .map(([k, v]) => {
      let value = typeof v === "object" ? JSON.stringify(v) : fmt(v, 2);
      if (k === "height_source" && HEIGHT_SOURCES[v]) value = `${v} (${HEIGHT_SOURCES[v]})`;
      return `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(value)}</td></tr>`;
    })
    .join("");
  const layer = feature.sourceLayer || feature.source || "feature";
  return `<div class="popup"><div class="popup-title">${escapeHtml(layer)}${p.name ? ` · ${escapeHtml(p.name)}` : ""}</div><table>${rows}</table></div>`;
}

/** The topmost feature under a click among the visible, queryable layers. */
export function pickFeature(map, point, layerFilter = () => true) {
  const layers = map
    .getStyle()
    .layers.filter((l) => l.type !== "background" && l.type !== "raster" && l.id !== "roads-casing" && !l.id.startsWith("draw") && layerFilter(l))
    .filter((l) => map.getLayoutProperty(l.id, "visibility") !== "none")
    .map((l) => l.id);
  const box = [
    [point.x - 4, point.y - 4],
    [point.x + 4, point.y + 4],
  ];
  return map.queryRenderedFeatures(box, { layers })[0] || null;
}

export function showAttributes(map, lngLat, feature) {
  if (popup) popup.remove();
  popup = new maplibregl.Popup({ maxWidth: "340px", className: "attr-popup" }).setLngLat(lngLat).setHTML(featureTable(feature)).addTo(map);
  return popup;
}
