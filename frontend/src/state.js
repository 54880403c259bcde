// The page state lives in the URL hash, so a link shows the same map:
//   #city=1&scenario=4&run=<uuid>&base=<uuid>&layers=buildings:1,roads:0.8&view=lon,lat,z,bearing,pitch&t=720&d=3

const listeners = new Set();

export const state = {
  city: null, // city id
  scenario: null, // scenario id
  run: null, // run id (uuid)
  base: null, // run id compared against
  layers: null, // Map id -> opacity (0 = off); null until read from the hash or defaulted
  view: null, // [lon, lat, zoom, bearing, pitch]
  t: null, // time on the result slider (minutes of day for solar, seconds for evacuation)
  d: "3", // "2" or "3" (buildings flat or extruded)
  compare: "", // "" | "swipe" | "diff"
  // not in the hash: what the panels share while the page lives (set by the panel that owns it)
  map: null, // the MapLibre map (main.js)
  cities: [], // GeoJSON features of /api/cities/ (main.js)
  user: "", // the signed-in user's name, "" when signed out (main.js, api.js)
  simulators: null, // the simulators of GET /api/simulators/ (runform.js)
  editTypes: null, // the edit types of GET /api/edit-types/ (panels/scenario.js)
  scenarioRecord: null, // the scenario shown, as the API returned it (panels/scenario.js)
};

export function readHash() {
  const p = new URLSearchParams(location.hash.replace(/^#/, ""));
  const num = (k) => (p.has(k) && p.get(k) !== "" && !Number.isNaN(Number(p.get(k))) ? Number(p.get(k)) : null);
  state.city = num("city");
  state.scenario = num("scenario");
  state.run = p.get("run") || null;
  state.base = p.get("base") || null;
  state.t = num("t");
  state.d = p.get("d") === "2" ? "2" : "3";
  // only the known modes: the value ends up in a CSS selector
  state.compare = ["swipe", "diff"].includes(p.get("compare")) ? p.get("compare") : "";
  state.layersFromHash = p.has("layers");
  if (p.has("layers")) {
    state.layers = new Map();
    for (const item of p.get("layers").split(",")) {
      if (!item) continue;
      const [raw, op] = item.split(":");
      let id;
      try {
        id = decodeURIComponent(raw);
      } catch {
        continue; // a malformed escape (a mangled link): drop that layer, keep the rest
      }
      const value = op === undefined ? 1 : Number(op);
      state.layers.set(id, Number.isFinite(value) ? value : 1);
    }
  }
  if (p.has("view")) {
    const v = p.get("view").split(",").map(Number);
    if (v.length >= 3 && v.every(Number.isFinite)) state.view = [v[0], v[1], v[2], v[3] || 0, v[4] || 0];
  }
  return state;
}

const HASH_KEYS = ["city", "scenario", "run", "base", "layers", "view", "t", "d", "compare"];
let writeTimer = null;

export function writeHash() {
  clearTimeout(writeTimer);
  writeTimer = setTimeout(writeNow, 150);
}

export function hashString() {
  const p = new URLSearchParams();
  if (state.city != null) p.set("city", state.city);
  if (state.scenario != null) p.set("scenario", state.scenario);
  if (state.run) p.set("run", state.run);
  if (state.base) p.set("base", state.base);
  if (state.compare) p.set("compare", state.compare);
  if (state.layers) {
    p.set(
      "layers",
      [...state.layers].map(([id, op]) => `${encodeURIComponent(id)}:${Math.round(op * 100) / 100}`).join(","),
    );
  }
  if (state.view) {
    const [lon, lat, z, b, pitch] = state.view;
    p.set("view", [lon.toFixed(5), lat.toFixed(5), z.toFixed(2), Math.round(b), Math.round(pitch)].join(","));
  }
  if (state.t != null) p.set("t", state.t);
  p.set("d", state.d);
  return "#" + p.toString().replace(/%2C/g, ",").replace(/%3A/g, ":");
}

function writeNow() {
  const h = hashString();
  if (h !== location.hash) history.replaceState(null, "", h);
}

/**
 * Change the state and tell every listener: `fn(changes, meta)`. `meta` says why, when a
 * listener must tell causes apart (e.g. {reason: "expired"} for a sign-in the server dropped).
 */
export function set(changes, meta = {}) {
  Object.assign(state, changes);
  if (Object.keys(changes).some((k) => HASH_KEYS.includes(k))) writeHash();
  for (const fn of [...listeners]) fn(changes, meta);
}

/** Listen to state changes; returns the function that stops listening (a panel's dispose). */
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The city shown (its GeoJSON feature) and its name. */
export const currentCity = () => state.cities.find((c) => c.id === state.city) || null;
export const cityName = () => currentCity()?.properties.name || "";

/** A moment on the city's clock, in the reader's locale ("20.3.2026 klo 14.05", "3/20/2026, 2:05 PM"). */
export function cityTime(iso, options = { dateStyle: "short", timeStyle: "short" }) {
  if (!iso) return "";
  const timeZone = currentCity()?.properties.time_zone || undefined;
  return new Date(iso).toLocaleString(undefined, { ...options, timeZone });
}
