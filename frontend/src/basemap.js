// The basemap: a MapLibre style drawn only from the twin's own vector tiles and the glyph PBFs
// made at build time from Debian's DejaVu Sans (frontend/glyphs.py; no external service), street
// names along the roads, and the catalogue entries of the core layers with their legends.

import { abs } from "./api.js";

export const ATTRIBUTION = "© OpenStreetMap contributors";

/** The font of the labels: glyph PBFs served with the bundle (bin/citytwin makes them). */
export const LABEL_FONT = ["DejaVu Sans"];
const GLYPHS = "/static/frontend/build/glyphs/{fontstack}/{range}.pbf";

export const USE_COLORS = {
  residential: "#e8b86d",
  commercial: "#8fb3d9",
  industrial: "#b39ddb",
  public: "#e57373",
  other: "#bdbdbd",
};

const ROAD_CLASSES = [
  ["motorway", "#e07b5a", 1.6],
  ["trunk", "#e89a5c", 1.5],
  ["primary", "#f2b35f", 1.4],
  ["secondary", "#f6d26b", 1.2],
  ["tertiary", "#ffffff", 1.0],
  ["residential", "#ffffff", 0.8],
  ["unclassified", "#ffffff", 0.7],
  ["service", "#f4f4f4", 0.5],
];

const FACILITY_COLORS = {
  hospital: "#d32f2f",
  clinic: "#ef5350",
  school: "#1976d2",
  kindergarten: "#64b5f6",
  university: "#3949ab",
  fire_station: "#e65100",
  police: "#263238",
  shelter: "#2e7d32",
  assembly_point: "#66bb6a",
};

const NETWORK_COLORS = { power: "#8e24aa", water: "#1e88e5", gas: "#fbc02d", pipeline: "#6d4c41" };

export function tileSource(layer, cityId, extra = {}) {
  const q = cityId != null ? `?city=${cityId}` : "";
  return {
    type: "vector",
    tiles: [abs(`/tiles/${layer}/{z}/{x}/{y}.pbf${q}`)],
    minzoom: 0,
    maxzoom: 16, // tiles past 16 are over-zoomed on the client: fewer requests, same look
    attribution: ATTRIBUTION,
    promoteId: "id",
    ...extra,
  };
}

function match(prop, table, fallback) {
  const expr = ["match", ["get", prop]];
  for (const [k, v] of Object.entries(table)) expr.push(k, v);
  expr.push(fallback);
  return expr;
}

const roadColor = ["match", ["get", "highway"], ...ROAD_CLASSES.flatMap(([k, c]) => [[k, `${k}_link`], c]), "#ffffff"];
const roadScale = ["match", ["get", "highway"], ...ROAD_CLASSES.flatMap(([k, , w]) => [[k, `${k}_link`], w]), 0.6];
const roadWidth = (base) => ["interpolate", ["exponential", 1.6], ["zoom"], 11, ["*", roadScale, base * 0.4], 14, ["*", roadScale, base * 2], 18, ["*", roadScale, base * 14]];

export function buildingColor() {
  return match("use", USE_COLORS, USE_COLORS.other);
}

/** The style of the base twin for one city. */
export function baseStyle(cityId) {
  return {
    version: 8,
    name: "CityTwin",
    glyphs: abs(GLYPHS),
    sources: {
      areas: tileSource("areas", cityId),
      roads: tileSource("roads", cityId),
      buildings: tileSource("buildings", cityId),
      facilities: tileSource("facilities", cityId),
      utilities: tileSource("utilities", cityId),
      "utility-nodes": tileSource("utility-nodes", cityId),
      "road-nodes": tileSource("road-nodes", cityId),
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#f2efe9" } },
      {
        id: "areas-landuse",
        type: "fill",
        source: "areas",
        "source-layer": "areas",
        filter: ["==", ["get", "kind"], "landuse"],
        paint: { "fill-color": "#e6e1d3", "fill-opacity": 1 },
      },
      {
        id: "areas-park",
        type: "fill",
        source: "areas",
        "source-layer": "areas",
        filter: ["any", ["==", ["get", "kind"], "park"], ["in", ["get", "subtype"], ["literal", ["park", "wood", "scrub", "forest", "grass", "meadow", "garden"]]]],
        paint: { "fill-color": "#c8e3b4", "fill-opacity": 1 },
      },
      {
        id: "areas-water",
        type: "fill",
        source: "areas",
        "source-layer": "areas",
        filter: ["all", ["==", ["get", "kind"], "water"], ["!", ["in", ["get", "subtype"], ["literal", ["park", "wood", "scrub", "forest", "grass", "meadow", "garden"]]]]],
        paint: { "fill-color": "#a8cbe6", "fill-opacity": 1 },
      },
      {
        id: "roads-casing",
        type: "line",
        source: "roads",
        "source-layer": "roads",
        layout: { "line-cap": "round", "line-join": "round" },
        paint: { "line-color": "#c9c3b6", "line-width": roadWidth(1.5), "line-opacity": 1 },
      },
      {
        id: "roads",
        type: "line",
        source: "roads",
        "source-layer": "roads",
        layout: { "line-cap": "round", "line-join": "round" },
        paint: { "line-color": roadColor, "line-width": roadWidth(1), "line-opacity": 1 },
      },
      {
        id: "utilities",
        type: "line",
        source: "utilities",
        "source-layer": "utilities",
        layout: { visibility: "none" },
        paint: { "line-color": match("network", NETWORK_COLORS, "#757575"), "line-width": 1.5, "line-dasharray": [3, 2], "line-opacity": 1 },
      },
      {
        id: "utility-nodes",
        type: "circle",
        source: "utility-nodes",
        "source-layer": "utility-nodes",
        minzoom: 14,
        layout: { visibility: "none" },
        paint: { "circle-radius": 3, "circle-color": match("network", NETWORK_COLORS, "#757575"), "circle-opacity": 1 },
      },
      {
        id: "road-nodes",
        type: "circle",
        source: "road-nodes",
        "source-layer": "road-nodes",
        minzoom: 15,
        layout: { visibility: "none" },
        paint: { "circle-radius": 2, "circle-color": "#555", "circle-opacity": 1 },
      },
      {
        id: "buildings-2d",
        type: "fill",
        source: "buildings",
        "source-layer": "buildings",
        layout: { visibility: "none" },
        paint: { "fill-color": buildingColor(), "fill-outline-color": "#8d8d8d", "fill-opacity": 1 },
      },
      {
        id: "buildings-3d",
        type: "fill-extrusion",
        source: "buildings",
        "source-layer": "buildings",
        paint: {
          "fill-extrusion-color": buildingColor(),
          "fill-extrusion-height": ["coalesce", ["get", "height_m"], 6],
          "fill-extrusion-base": 0,
          "fill-extrusion-opacity": 0.9,
        },
      },
      {
        id: "facilities",
        type: "circle",
        source: "facilities",
        "source-layer": "facilities",
        paint: {
          "circle-radius": ["interpolate", ["linear"], ["zoom"], 12, 3, 17, 8],
          "circle-color": match("kind", FACILITY_COLORS, "#455a64"),
          "circle-stroke-color": "#ffffff",
          "circle-stroke-width": 1.5,
          "circle-opacity": 1,
          "circle-stroke-opacity": 1,
        },
      },
      {
        // street names along the roads (a two-way street's two edges: collisions keep one)
        id: "road-labels",
        type: "symbol",
        source: "roads",
        "source-layer": "roads",
        minzoom: 14,
        filter: ["!=", ["coalesce", ["get", "name"], ""], ""],
        layout: {
          "symbol-placement": "line",
          "text-field": ["get", "name"],
          "text-font": LABEL_FONT,
          "text-size": ["interpolate", ["linear"], ["zoom"], 14, 10, 18, 14],
          "text-max-angle": 35,
          "symbol-spacing": 350,
        },
        paint: { "text-color": "#333333", "text-halo-color": "#ffffff", "text-halo-width": 1.5, "text-opacity": 1 },
      },
    ],
  };
}

const legend = (entries, kind) => entries.map(([label, color]) => ({ label, color, kind }));

/** Catalogue entries of the core layers: map layers they drive, the opacity paint props, legend. */
export const CORE_ENTRIES = [
  {
    id: "buildings",
    title: "Buildings",
    group: "Twin",
    layers: ["buildings-3d", "buildings-2d"],
    legend: [...legend(Object.entries(USE_COLORS), "fill"), { label: "3D height: height_m (source in height_source)", kind: "note" }],
  },
  {
    id: "roads",
    title: "Roads",
    group: "Twin",
    layers: ["roads", "roads-casing", "road-labels"],
    legend: legend(ROAD_CLASSES.slice(2, 6).map(([k, c]) => [k, c]), "line"),
  },
  {
    id: "areas",
    title: "Water, parks, land use",
    group: "Twin",
    layers: ["areas-water", "areas-park", "areas-landuse"],
    legend: legend([["water", "#a8cbe6"], ["park / green", "#c8e3b4"], ["land use", "#e6e1d3"]], "fill"),
  },
  {
    id: "facilities",
    title: "Facilities",
    group: "Twin",
    layers: ["facilities"],
    legend: legend(Object.entries(FACILITY_COLORS), "circle"),
  },
  {
    id: "utilities",
    title: "Utility links",
    group: "Twin",
    layers: ["utilities"],
    defaultOff: true,
    legend: legend(Object.entries(NETWORK_COLORS), "line"),
  },
  {
    id: "utility-nodes",
    title: "Utility nodes",
    group: "Twin",
    layers: ["utility-nodes"],
    defaultOff: true,
    legend: legend(Object.entries(NETWORK_COLORS), "circle"),
  },
  {
    id: "road-nodes",
    title: "Road nodes",
    group: "Twin",
    layers: ["road-nodes"],
    defaultOff: true,
    legend: legend([["junction", "#555"]], "circle"),
  },
];

const PALETTE = ["#d81b60", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#3949ab"];

export function paletteColor(key) {
  let h = 0;
  for (const ch of String(key)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

/** Map layers for an imported vector layer (from /api/layers/), drawn by its geometry type. */
export function importedLayerSpec(layer) {
  const color = paletteColor(layer.slug);
  const source = `layer:${layer.slug}`;
  const base = { source, "source-layer": layer.slug };
  const g = (layer.geometry_type || "").toLowerCase();
  const layers = [];
  if (g.includes("point")) {
    layers.push({ id: `${source}:circle`, type: "circle", ...base, paint: { "circle-radius": 5, "circle-color": color, "circle-stroke-color": "#fff", "circle-stroke-width": 1, "circle-opacity": 1, "circle-stroke-opacity": 1 } });
  } else if (g.includes("line")) {
    layers.push({ id: `${source}:line`, type: "line", ...base, paint: { "line-color": color, "line-width": 2.5, "line-opacity": 1 } });
  } else if (g.includes("polygon")) {
    layers.push({ id: `${source}:fill`, type: "fill", ...base, paint: { "fill-color": color, "fill-opacity": 0.35 } });
    layers.push({ id: `${source}:outline`, type: "line", ...base, paint: { "line-color": color, "line-width": 1.5, "line-opacity": 1 } });
  } else {
    layers.push({ id: `${source}:fill`, type: "fill", ...base, filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": color, "fill-opacity": 0.35 } });
    layers.push({ id: `${source}:line`, type: "line", ...base, filter: ["!=", ["geometry-type"], "Point"], paint: { "line-color": color, "line-width": 2, "line-opacity": 1 } });
    layers.push({ id: `${source}:circle`, type: "circle", ...base, filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 5, "circle-color": color, "circle-opacity": 1 } });
  }
  const kind = g.includes("point") ? "circle" : g.includes("line") ? "line" : "fill";
  return {
    source,
    sourceSpec: { type: "vector", tiles: [abs(`/tiles/${layer.slug}/{z}/{x}/{y}.pbf`)], maxzoom: 16, attribution: ATTRIBUTION },
    layers,
    legend: [{ label: `${layer.feature_count} features (${layer.geometry_type || "mixed"})`, color, kind }],
  };
}

/** The opacity paint properties of a map layer, with their full value (1 = as styled). */
export function opacityProps(type) {
  return (
    {
      fill: ["fill-opacity"],
      line: ["line-opacity"],
      circle: ["circle-opacity", "circle-stroke-opacity"],
      "fill-extrusion": ["fill-extrusion-opacity"],
      raster: ["raster-opacity"],
      symbol: ["text-opacity"],
    }[type] || []
  );
}
