// The city's imported utility networks on the map (water networks, power grids), for the edit
// tools that pick their elements (edits.js: a pipe break takes the pipe's twin id). Each network
// is fetched as GeoJSON from its OGC collections (/ogc/collections/<id>/items), only for the
// networks the list endpoint gives for the current city (none: nothing fetched, no layer). One
// catalogue entry per kind of network. Adding a network = one entry in NETWORKS.

import { get } from "./api.js";
import { register, unregister } from "./catalogue.js";

const kindIs = (k) => ["==", ["get", "kind"], k];

/**
 * Each kind of network: the list of a city's networks (`list`), the OGC property that filters
 * a collection to one of them (`filter`), and its map layers ({id, collection, type, filter,
 * paint}). The layer ids are what the edit tools pick from (exported below).
 */
const NETWORKS = [
  {
    id: "net-water",
    title: "Water network (imported)",
    list: (city) => `/api/water/networks/?city=${city}`,
    filter: "network",
    layers: [
      { id: "net-water-pipes", collection: "water-links", type: "line", filter: kindIs("pipe"), paint: { "line-color": "#1565c0", "line-width": 4 } },
      { id: "net-water-valves", collection: "water-links", type: "line", filter: kindIs("valve"), paint: { "line-color": "#00897b", "line-width": 6 } },
      { id: "net-water-pumps", collection: "water-links", type: "line", filter: kindIs("pump"), paint: { "line-color": "#6a1b9a", "line-width": 6 } },
      { id: "net-water-junctions", collection: "water-nodes", type: "circle", filter: kindIs("junction"), paint: { "circle-radius": 3, "circle-color": "#1565c0" } },
      { id: "net-water-tanks", collection: "water-nodes", type: "circle", filter: ["!=", ["get", "kind"], "junction"], paint: { "circle-radius": 7, "circle-color": "#0d47a1", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } },
    ],
    legend: [
      ["pipe", "#1565c0", "line"],
      ["valve", "#00897b", "line"],
      ["pump", "#6a1b9a", "line"],
      ["tank or reservoir", "#0d47a1", "circle"],
    ],
  },
  {
    id: "net-grid",
    title: "Power grid (imported)",
    list: (city) => `/api/power/grids/?city=${city}`,
    filter: "grid",
    layers: [
      { id: "net-grid-lines", collection: "power-lines", type: "line", paint: { "line-color": "#8e24aa", "line-width": 4 } },
      { id: "net-grid-buses", collection: "power-buses", type: "circle", paint: { "circle-radius": 5, "circle-color": "#4a148c", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } },
      { id: "net-grid-transformers", collection: "power-transformers", type: "circle", paint: { "circle-radius": 8, "circle-color": "#ff6f00", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } },
    ],
    legend: [
      ["line", "#8e24aa", "line"],
      ["bus (substation)", "#4a148c", "circle"],
      ["transformer", "#ff6f00", "circle"],
    ],
  },
];

/** The map layers of the water network and power grid elements, by what the tools pick. */
export const NETWORK_LAYERS = {
  pipes: ["net-water-pipes"],
  valves: ["net-water-valves", "net-water-pipes"],
  pumps: ["net-water-pumps"],
  tanks: ["net-water-tanks"],
  lines: ["net-grid-lines"],
  transformers: ["net-grid-transformers"],
  buses: ["net-grid-buses"],
};

const sourceId = (network, collection) => `${network.id}:${collection}`;

function remove(map) {
  for (const network of NETWORKS) {
    for (const layer of network.layers) if (map.getLayer(layer.id)) map.removeLayer(layer.id);
    for (const layer of network.layers) if (map.getSource(sourceId(network, layer.collection))) map.removeSource(sourceId(network, layer.collection));
    unregister(network.id);
  }
}

// every feature of one collection for the given networks, the twin id copied into the
// properties (the tools read it there; maplibre keeps a top-level id only when it is a number)
async function features(network, collection, ids) {
  const pages = await Promise.all(ids.map((id) => get(`/ogc/collections/${collection}/items?${network.filter}=${id}&limit=10000&f=json`)));
  return pages.flatMap((p) => p.features.map((f) => ({ ...f, properties: { ...f.properties, id: Number(f.id) } })));
}

let generation = 0; // a later call (another city) wins over a slower earlier one

/** (Re)draw the utility networks of a city; call again when the city or the user changes. */
export async function loadNetworkLayers(map, cityId) {
  const gen = ++generation;
  remove(map);
  if (cityId == null) return;
  await Promise.all(
    NETWORKS.map(async (network) => {
      const ids = (await get(network.list(cityId)).catch(() => [])).map((n) => n.id);
      if (!ids.length) return; // the city has no such network: nothing fetched, nothing drawn
      const collections = [...new Set(network.layers.map((l) => l.collection))];
      const data = await Promise.all(collections.map((c) => features(network, c, ids)));
      if (gen !== generation) return;
      collections.forEach((c, i) => map.addSource(sourceId(network, c), { type: "geojson", data: { type: "FeatureCollection", features: data[i] } }));
      for (const layer of network.layers) {
        map.addLayer({ id: layer.id, type: layer.type, source: sourceId(network, layer.collection), paint: layer.paint, ...(layer.filter ? { filter: layer.filter } : {}) });
      }
      register({
        id: network.id,
        title: network.title,
        group: "Utilities",
        layers: network.layers.map((l) => l.id),
        legend: network.legend.map(([label, color, kind]) => ({ label, color, kind })),
      });
    }),
  );
  if (gen === generation) document.body.dataset.networksLoaded = String(cityId); // the browser tests wait on it
}
