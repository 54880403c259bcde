// CityTwin web map: boots the map from the URL hash and wires the panels together.

import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import "./style.css";
import { get, getAll, post, setToken, token } from "./api.js";
import { baseStyle, tileSource } from "./basemap.js";
import { applyAll, initCatalogue, loadCityLayers, render as renderCatalogue } from "./catalogue.js";
import { $, say } from "./dom.js";
import { pickFeature, showAttributes } from "./inspect.js";
import { initScenarios } from "./scenarios.js";
import { initRuns } from "./runs.js";
import { initUpload } from "./upload.js";
import { showQuality } from "./quality.js";
import { readHash, set, state, writeHash } from "./state.js";
import { activeTool } from "./draw.js";

readHash();

const status = $("#map-status");
let cities = [];

function cityBounds(city) {
  const coords = city.geometry?.coordinates?.flat(2) || [];
  if (!coords.length) return null;
  const b = new maplibregl.LngLatBounds(coords[0], coords[0]);
  for (const c of coords) b.extend(c);
  return b;
}

function cityName() {
  return cities.find((c) => c.id === state.city)?.properties.name || "";
}

// the app object the panels share; the map and panels join it as they start
const app = {
  cities: () => cities,
  city: () => cities.find((c) => c.id === state.city),
  cityName,
  status,
};
window.citytwin = app;

async function main() {
  // sign-in first: nothing below may leave the form without its handler
  initLogin(app);
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
  if (!cities.some((c) => c.id === state.city)) {
    state.city = (cities.find((c) => c.properties.name === "Helsinki") || cities[0]).id;
  }
  const select = $("#city-select");
  for (const c of cities) select.append(new Option(c.properties.name, c.id));
  select.value = String(state.city);

  const city = cities.find((c) => c.id === state.city);
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
  window.citytwinMap = map;
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
  if (!view) {
    const b = cityBounds(city);
    if (b) map.fitBounds(b, { padding: 20, duration: 0 });
  }

  app.map = map;

  map.on("moveend", () => {
    const c = map.getCenter();
    set({ view: [c.lng, c.lat, map.getZoom(), map.getBearing(), map.getPitch()] });
  });
  map.on("error", (e) => {
    const msg = e.error?.message || String(e.error || e);
    if (!/aborted|AbortError/.test(msg)) say(status, `Map: ${msg}`, "error");
  });
  map.once("idle", () => {
    window.citytwinFirstIdle = performance.now();
    document.body.dataset.mapReady = "1";
  });

  await new Promise((resolve) => (map.loaded() ? resolve() : map.once("load", resolve)));
  initCatalogue(map, $("#catalogue"));
  applyAll();
  writeHash();
  loadCityLayers(state.city).catch((err) => say(status, `Imported layers: ${err.message}`, "error"));
  showQuality($("#quality-panel"), state.city);

  // 2D / 3D
  const set3d = (d, animate = true) => {
    set({ d });
    $("#btn-2d").classList.toggle("active", d === "2");
    $("#btn-3d").classList.toggle("active", d === "3");
    applyAll();
    app.runs?.setD3(d === "3");
    if (animate) map.easeTo({ pitch: d === "3" ? 50 : 0, duration: 500 });
  };
  $("#btn-2d").addEventListener("click", () => set3d("2"));
  $("#btn-3d").addEventListener("click", () => set3d("3"));
  set3d(state.d, false);

  select.addEventListener("change", async () => {
    const id = Number(select.value);
    set({ city: id, scenario: null, run: null, base: null, compare: "" });
    app.runs?.clear(); // the old city's run (and any stream of it) goes at once
    for (const name of ["areas", "roads", "buildings", "facilities", "utilities", "utility-nodes", "road-nodes"]) {
      map.getSource(name)?.setTiles(tileSource(name, id).tiles);
    }
    const b = cityBounds(app.city());
    if (b) map.fitBounds(b, { padding: 20 });
    await loadCityLayers(id).catch((err) => say(status, `Imported layers: ${err.message}`, "error"));
    showQuality($("#quality-panel"), id);
    app.scenarios?.reload();
  });

  // click: an edit tool takes it, else show the feature's attributes
  map.on("click", (e) => {
    if (activeTool()) return;
    const f = pickFeature(map, e.point);
    if (f) showAttributes(map, e.lngLat, f);
  });

  // tabs
  for (const b of document.querySelectorAll(".tabs button")) {
    b.addEventListener("click", () => showTab(b.dataset.tab));
  }

  initUpload($("#upload-panel"), {
    cityName,
    onDone: () => loadCityLayers(state.city).then(renderCatalogue),
  });
  app.runs = initRuns(app, $("#run-panel"), $("#kpi-panel"));
  app.scenarios = initScenarios(app, $("#scenario-panel"));
  if (state.run) showTab("results");
  else if (state.scenario) showTab("scenario");
}

export function showTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${name}`;
}

function initLogin(app) {
  const form = $("#login");
  const who = $("#whoami");
  const out = $("#logout");
  const show = (name) => {
    form.hidden = !!name;
    who.hidden = out.hidden = !name;
    who.textContent = name ? `signed in as ${name}` : "";
    document.body.dataset.user = name || "";
  };
  show(token() ? localStorage.getItem("citytwin.user") || "you" : "");
  // the API dropped a stale token: offer the sign-in form again
  window.addEventListener("citytwin:signed-out", () => {
    show("");
    say(app.status, "Your sign-in has expired: please sign in again.", "info");
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    try {
      const res = await post("/api/auth/token/", data);
      setToken(res.token);
      localStorage.setItem("citytwin.user", data.username);
      show(data.username);
      say(app.status, "Signed in.", "ok");
      app.scenarios?.reload();
      if (app.map) loadCityLayers(state.city).catch(() => {});
    } catch (err) {
      say(app.status, `Sign-in failed: ${err.status === 400 ? "wrong user name or password" : err.message}`, "error");
    }
  });
  out.addEventListener("click", () => {
    setToken("");
    localStorage.removeItem("citytwin.user");
    show("");
    app.scenarios?.reload();
  });
}

window.addEventListener("hashchange", () => {
  // a pasted link: the simplest faithful way to show it is to start over from it
  const before = location.hash;
  setTimeout(() => {
    if (location.hash === before) location.reload();
  }, 0);
});

main().catch((err) => say(status, `The page failed to start: ${err.message}`, "error"));

export { get };
