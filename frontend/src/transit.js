// Public transport on the map: the city's transit lines coloured by mode and their stops, from
// the twin's vector tiles (/tiles/transit-lines, /tiles/transit-stops: only the feeds the signed-in
// user may see: public ones and their own private ones). One catalogue entry, "Public transport".

import { abs } from "./api.js";
import { ATTRIBUTION } from "./basemap.js";
import { register, unregister } from "./catalogue.js";

/** Line colour per mode (the transit engine's five modes). */
export const MODE_COLORS = {
  tram: "#2e7d32",
  bus: "#1565c0",
  rail: "#6a1b9a",
  metro: "#e65100",
  ferry: "#00838f",
};

const ID = "public-transport"; // the catalogue entry (not the transit simulator's name)
const LINES = "transit:lines";
const STOPS = "transit:stops";

function source(layer, cityId) {
  return {
    type: "vector",
    tiles: [abs(`/tiles/${layer}/{z}/{x}/{y}.pbf?city=${cityId}`)],
    minzoom: 0,
    maxzoom: 16,
    attribution: ATTRIBUTION,
  };
}

function remove(map) {
  for (const id of [STOPS, LINES]) {
    if (map.getLayer(id)) map.removeLayer(id);
    if (map.getSource(id)) map.removeSource(id);
  }
}

/** (Re)draw the transit layers of a city; call again when the city or the user changes. */
export function loadTransitLayers(map, cityId) {
  unregister(ID);
  remove(map);
  if (cityId == null) return;
  const before = map.getLayer("facilities") ? "facilities" : undefined;
  map.addSource(LINES, source("transit-lines", cityId));
  map.addSource(STOPS, source("transit-stops", cityId));
  const modeColor = ["match", ["get", "mode"], ...Object.entries(MODE_COLORS).flat(), "#555555"];
  map.addLayer(
    {
      id: LINES,
      type: "line",
      source: LINES,
      "source-layer": "transit-lines",
      layout: { "line-cap": "round", "line-join": "round" },
      paint: {
        "line-color": modeColor,
        "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1.5, 14, 3, 18, 6],
        "line-opacity": 0.9,
      },
    },
    before,
  );
  map.addLayer(
    {
      id: STOPS,
      type: "circle",
      source: STOPS,
      "source-layer": "transit-stops",
      minzoom: 12,
      filter: ["==", ["get", "location_type"], 0],
      paint: {
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 12, 2, 16, 5],
        "circle-color": ["case", ["get", "served"], "#ffffff", "#bdbdbd"],
        "circle-stroke-color": "#263238",
        "circle-stroke-width": 1.2,
        "circle-opacity": 1,
        "circle-stroke-opacity": 1,
      },
    },
    before,
  );
  register({
    id: ID,
    title: "Public transport",
    group: "Public transport",
    layers: [LINES, STOPS],
    legend: [
      ...Object.entries(MODE_COLORS).map(([label, color]) => ({ label, color, kind: "line" })),
      { label: "stop (grey: no trip stops there)", color: "#ffffff", kind: "circle" },
    ],
    note: "GTFS feeds and OSM lines (OSM: default headways and speeds)",
  });
}
