// Layer catalogue: every layer of the city (core, imported, rasters, run results) with on/off,
// opacity and legend; all kept in the URL hash.

import { abs, getAll } from "./api.js";
import { CORE_ENTRIES, importedLayerSpec, opacityProps } from "./basemap.js";
import { set, state } from "./state.js";
import { el, escapeHtml } from "./dom.js";

const entries = new Map(); // id -> entry
const baseOpacity = new Map(); // "layer|prop" -> styled opacity
let map = null;
let panel = null;

export function initCatalogue(theMap, container) {
  map = theMap;
  panel = container;
  for (const entry of CORE_ENTRIES) register(entry);
}

/** Add (or replace) an entry: {id, title, group, layers, legend, defaultOff, note, extra}. */
export function register(entry) {
  entries.set(entry.id, entry);
  if (!state.layers) state.layers = new Map();
  if (!state.layers.has(entry.id) && !entry.defaultOff) {
    // a link with a layer list shows exactly those layers; new result layers still appear
    if (!state.layersFromHash || entry.group === "Results") state.layers.set(entry.id, 1);
  }
  apply(entry);
  render();
}

export function unregister(prefix) {
  for (const id of [...entries.keys()]) {
    if (id.startsWith(prefix)) {
      entries.delete(id);
      state.layers?.delete(id);
    }
  }
  render();
}

export function opacityOf(id) {
  return state.layers?.get(id) ?? 0;
}

function styledOpacity(layerId, prop) {
  const key = `${layerId}|${prop}`;
  if (!baseOpacity.has(key)) {
    const v = map.getPaintProperty(layerId, prop);
    baseOpacity.set(key, typeof v === "number" ? v : 1);
  }
  return baseOpacity.get(key);
}

/** Show/hide and fade the map layers of one entry as the state says. */
export function apply(entry) {
  const op = opacityOf(entry.id);
  for (const layerId of entry.layers) {
    const layer = map.getLayer(layerId);
    if (!layer) continue;
    if (entry.id === "buildings") {
      // the 2D/3D toggle decides which of the two building layers is drawn
      const want = state.d === "2" ? "buildings-2d" : "buildings-3d";
      map.setLayoutProperty(layerId, "visibility", op > 0 && layerId === want ? "visible" : "none");
    } else {
      const shown = op > 0 && (entry.visible ? entry.visible(layerId) : true);
      map.setLayoutProperty(layerId, "visibility", shown ? "visible" : "none");
    }
    for (const prop of opacityProps(layer.type)) {
      map.setPaintProperty(layerId, prop, styledOpacity(layerId, prop) * (op > 0 ? op : 1));
    }
  }
}

export function applyAll() {
  for (const entry of entries.values()) apply(entry);
}

/** Switch an entry on and fly to its extent (a GeoJSON polygon in EPSG:4326), e.g. a new import. */
export function showAndZoom(id, extent) {
  setOpacity(id, 1);
  render();
  const ring = extent?.coordinates?.[0];
  if (!ring?.length) return;
  const xs = ring.map((p) => p[0]);
  const ys = ring.map((p) => p[1]);
  map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]], { padding: 60, maxZoom: 17, duration: 0 });
}

function setOpacity(id, value) {
  state.layers.set(id, value);
  const entry = entries.get(id);
  if (entry) apply(entry);
  set({ layers: state.layers });
}

function swatch(item) {
  if (item.kind === "note") return `<span class="legend-note">${escapeHtml(item.label)}</span>`;
  if (item.kind === "ramp") {
    return `<span class="ramp" style="background:linear-gradient(to right,${item.colors.join(",")})"></span><span class="ramp-labels"><span>${escapeHtml(item.min)}</span><span>${escapeHtml(item.label || "")}</span><span>${escapeHtml(item.max)}</span></span>`;
  }
  return `<span class="swatch swatch-${item.kind}" style="--c:${item.color}"></span>${escapeHtml(item.label)}`;
}

export function render() {
  if (!panel) return;
  const groups = new Map();
  for (const entry of entries.values()) {
    if (!groups.has(entry.group)) groups.set(entry.group, []);
    groups.get(entry.group).push(entry);
  }
  panel.replaceChildren();
  for (const [group, list] of groups) {
    panel.append(el("h3", {}, group));
    for (const entry of list) {
      const op = opacityOf(entry.id);
      const row = el("div", { class: "layer-row", "data-layer": entry.id });
      const check = el("input", { type: "checkbox", "aria-label": `show ${entry.title}` });
      check.checked = op > 0;
      check.addEventListener("change", () => setOpacity(entry.id, check.checked ? 1 : 0));
      const slider = el("input", { type: "range", min: "0.1", max: "1", step: "0.05", class: "opacity", "aria-label": `opacity of ${entry.title}` });
      slider.value = op > 0 ? op : 1;
      slider.disabled = op <= 0;
      slider.addEventListener("input", () => setOpacity(entry.id, Number(slider.value)));
      const title = el("label", { class: "layer-title" }, check, " ", entry.title);
      const legendBox = el("div", { class: "legend" });
      legendBox.innerHTML = (entry.legend || []).map((item) => `<div class="legend-item">${swatch(item)}</div>`).join("") + (entry.note ? `<div class="legend-note">${entry.note}</div>` : "");
      row.append(el("div", { class: "layer-head" }, title, slider), legendBox);
      panel.append(row);
    }
  }
}

/** Imported vector layers and rasters of the city, from the API. */
export async function loadCityLayers(cityId) {
  unregister("layer:");
  unregister("raster:");
  for (const id of map.getStyle().layers.map((l) => l.id)) {
    if (id.startsWith("layer:") || id.startsWith("raster:")) map.removeLayer(id);
  }
  for (const id of Object.keys(map.getStyle().sources)) {
    if (id.startsWith("layer:") || id.startsWith("raster:")) map.removeSource(id);
  }
  const [layers, rasters] = await Promise.all([getAll("/api/layers/?page_size=500"), getAll("/api/rasters/?page_size=500")]);
  for (const layer of layers) {
    if (layer.city != null && layer.city !== cityId) continue;
    const spec = importedLayerSpec(layer);
    map.addSource(spec.source, spec.sourceSpec);
    for (const l of spec.layers) map.addLayer(l, "facilities");
    register({
      id: spec.source,
      title: layer.name,
      group: "Imported layers",
      layers: spec.layers.map((l) => l.id),
      legend: spec.legend,
      note: `${escapeHtml(layer.visibility)}${layer.owner ? ` · by ${escapeHtml(layer.owner)}` : ""}`,
      // your own layers are on; other people's public layers are listed but off (they would
      // cover the city with things nobody asked for)
      defaultOff: !state.user || layer.owner !== state.user,
    });
  }
  for (const raster of rasters) {
    if (raster.city != null && raster.city !== cityId) continue;
    const id = `raster:${raster.slug}`;
    map.addSource(id, { type: "geojson", data: { type: "Feature", geometry: raster.extent, properties: { name: raster.name } } });
    // the pixels, as PNG tiles drawn by the server (first band on a colour ramp, or RGB)
    map.addSource(`${id}:img`, { type: "raster", tiles: [abs(raster.tiles)], tileSize: 256, attribution: "" });
    map.addLayer({ id: `${id}:img`, type: "raster", source: `${id}:img`, paint: { "raster-opacity": 0.8 } }, "facilities");
    map.addLayer({ id, type: "line", source: id, paint: { "line-color": "#6a1b9a", "line-width": 2, "line-dasharray": [2, 2], "line-opacity": 1 } }, "facilities");
    const stats = raster.statistics || {};
    const fmt = (v) => (v == null ? "" : Number(v).toFixed(1));
    register({
      id,
      title: raster.name,
      group: "Rasters",
      layers: [`${id}:img`, id],
      legend: [
        { kind: "ramp", colors: ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"], min: fmt(stats.min), max: fmt(stats.max), label: "band 1" },
        { label: `extent; ${raster.width}×${raster.height} px, ${raster.band_count} band(s), ${raster.dtype}`, color: "#6a1b9a", kind: "line" },
      ],
      note: `<a href="${escapeHtml(raster.download)}">download the GeoTIFF</a>`,
    });
  }
  return { layers, rasters };
}
