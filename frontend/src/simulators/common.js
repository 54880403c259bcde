// What the simulator views share: colour ramps, the run tiles' source, time formats.

import { abs } from "../api.js";
import { ATTRIBUTION } from "../basemap.js";

export const SUN_RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]; // viridis

export const interpolate = (input, stops) => ["interpolate", ["linear"], input, ...stops.flat()];

/** A vector tile source of the twin's own tiles (a run's edges or buildings). */
export function vectorSource(path) {
  return { type: "vector", tiles: [abs(path)], maxzoom: 16, attribution: ATTRIBUTION, promoteId: "id" };
}

/** A building's extrusion: its height in 3D, a thin slab in 2D (metres). */
export const extrusion = (d3) => (d3 ? ["+", ["get", "height_m"], 0.3] : 0.3);

/** Minutes of the day as HH:MM. */
export function hhmm(minutes) {
  const m = Math.round(minutes);
  return `${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

/** Seconds as "12 min 05 s" (or "1 h 02 min"). */
export function mmss(seconds) {
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

/** The [[west, south], [east, north]] box of a GeoJSON (multi)line (lon/lat). */
export function lineBounds(geometry) {
  const pts = geometry.type === "MultiLineString" ? geometry.coordinates.flat() : geometry.coordinates;
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  return [
    [Math.min(...xs), Math.min(...ys)],
    [Math.max(...xs), Math.max(...ys)],
  ];
}

/** Length of a GeoJSON (multi)line in km (haversine on a sphere of 6,371 km). */
export function lineKm(geometry) {
  const lines = geometry.type === "MultiLineString" ? geometry.coordinates : [geometry.coordinates];
  const rad = Math.PI / 180;
  let km = 0;
  for (const line of lines) {
    for (let i = 1; i < line.length; i++) {
      const [x0, y0] = line[i - 1];
      const [x1, y1] = line[i];
      const a = Math.sin(((y1 - y0) * rad) / 2) ** 2 + Math.cos(y0 * rad) * Math.cos(y1 * rad) * Math.sin(((x1 - x0) * rad) / 2) ** 2;
      km += 2 * 6371 * Math.asin(Math.sqrt(a));
    }
  }
  return km;
}
