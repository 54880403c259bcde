// CityTwin web map: boots the map from the URL hash, builds the tabs from the panel registry
// (panels/registry.js) and starts them. The panels share the page's state through the store
// (state.js); the one global is window.citytwinMap, the map, for the browser tests.

import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import "./style.css";
import { getAll, token } from "./api.js";
import { baseStyle, tileSource } from "./basemap.js";
import { $, el, say } from "./dom.js";
import { activeTool } from "./draw.js";
import { pickFeature, showAttributes } from "./inspect.js";
import { initLogin } from "./login.js";
import { initSearch } from "./search.js";
import { PANELS } from "./panels/registry.js";
import { currentCity, readHash, set, state, writeHash } from "./state.js";

readHash();

const status = $("#map-status");

function cityBounds(city) {
  const coords = city?.geometry?.coordinates?.flat(2) || [];
  if (!coords.length) return null;
  const b = new maplibregl.LngLatBounds(coords[0], coords[0]);
  for (const c of coords) b.extend(c);
  return b;
}

function createMap() {
  const view = state.view;
  const map = new maplibregl.Map({
    container: "map",
    style: baseStyle(state.city),
    center: view ? [view[0], view[1]] : [24.94, 60.17],
    zoom: view ? view[2] : 14,
    bearing: view ? view[3] : 0,
    pitch: view ? view[4] : state.d === "3" ? 45 : 0,
    maxPitch: 70,
    hash: false,
    attributionControl: { compact: false },
    transformRequest: (url) => {
      // the twin's own tiles carry the user's token, so private layers show to their owner
      if (token() && url.startsWith(location.origin)) return { url, headers: { Authorization: `Token ${token()}` } };
      return { url };
    },
  });
  window.citytwinMap = map; // the browser tests' hook
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
  if (!view) {
    const b = cityBounds(currentCity());
    if (b) map.fitBounds(b, { padding: 20, duration: 0 });
  }
  map.on("moveend", () => {
    const c = map.getCenter();
    set({ view: [c.lng, c.lat, map.getZoom(), map.getBearing(), map.getPitch()] });
  });
  map.on("error", (e) => {
    const msg = e.error?.message || String(e.error || e);
    if (!/aborted|AbortError/.test(msg)) say(status, `Map: ${msg}`, "error");
  });
  map.once("idle", () => {
    document.body.dataset.firstIdle = String(performance.now()); // the load bench reads it
    document.body.dataset.mapReady = "1";
  });
  // click: an edit tool takes it, else show the feature's attributes
  map.on("click", (e) => {
    if (activeTool()) return;
    const f = pickFeature(map, e.point);
    if (f) showAttributes(map, e.lngLat, f);
  });
  return map;
}

/** The tabs and their sections, from the panel registry; each panel started in its section. */
function startPanels() {
  const nav = $("nav.tabs");
  const aside = nav.parentElement;
  const started = [];
  PANELS.forEach((panel, i) => {
    nav.append(el("button", { role: "tab", "data-tab": panel.id, class: i === 0 ? "active" : false, onclick: () => showTab(panel.id) }, panel.title));
    const section = el("section", { class: "tab", id: `tab-${panel.id}`, hidden: i !== 0 });
    aside.append(section);
    started.push(panel.init(section, { status }));
  });
  // leaving the page: streams stopped, listeners gone
  window.addEventListener("pagehide", () => started.forEach((p) => p?.dispose?.()), { once: true });
}

export function showTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${name}`;
}

async function main() {
  // sign-in first: nothing below may leave the form without its handler
  initLogin(status);
  let cities;
  try {
    cities = await getAll("/api/cities/?page_size=200");
  } catch (err) {
    say(status, `Cannot load the cities: ${err.message}`, "error");
    return;
  }
  if (!cities.length) {
    say(status, "No city has been imported yet (bin/citytwin up imports Helsinki).", "error");
    return;
  }
  set({ cities });
  if (!cities.some((c) => c.id === state.city)) {
    state.city = (cities.find((c) => c.properties.name === "Helsinki") || cities[0]).id;
  }
  const select = $("#city-select");
  for (const c of cities) select.append(new Option(c.properties.name, c.id));
  select.value = String(state.city);

  const map = createMap();
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once("load", resolve)));
  set({ map });
  initSearch(map);
  writeHash();

  startPanels();

  // 2D / 3D
  const set3d = (d, animate = true) => {
    set({ d });
    $("#btn-2d").classList.toggle("active", d === "2");
    $("#btn-3d").classList.toggle("active", d === "3");
    if (animate) map.easeTo({ pitch: d === "3" ? 50 : 0, duration: 500 });
  };
  $("#btn-2d").addEventListener("click", () => set3d("2"));
  $("#btn-3d").addEventListener("click", () => set3d("3"));
  set3d(state.d, false);

  select.addEventListener("change", () => {
    const id = Number(select.value);
    for (const name of ["areas", "roads", "buildings", "facilities", "utilities", "utility-nodes", "road-nodes"]) {
      map.getSource(name)?.setTiles(tileSource(name, id).tiles);
    }
    // the panels hear it: the old city's run goes, its layers and scenarios come
    set({ city: id, scenario: null, run: null, base: null, compare: "" });
    const b = cityBounds(currentCity());
    if (b) map.fitBounds(b, { padding: 20 });
  });

  if (state.run) showTab("results");
  else if (state.scenario) showTab("scenario");
}

window.addEventListener("hashchange", () => {
  // a pasted link: the simplest faithful way to show it is to start over from it
  const before = location.hash;
  setTimeout(() => {
    if (location.hash === before) location.reload();
  }, 0);
});

main().catch((err) => say(status, `The page failed to start: ${err.message}`, "error"));
