// Result layers of one run on a map: traffic (v/c colour, volume width), solar (sun-hours raster,
// shadow masks over the day, roof sun hours), evacuation (replay of buildings emptying and queues).
// Used by the main map and by the baseline map of the swipe comparison.

import { abs, get } from "./api.js";
import { ATTRIBUTION } from "./basemap.js";
import { fmt } from "./dom.js";

export const VC_RAMP = [
  [0, "#1a9850"],
  [0.5, "#91cf60"],
  [0.75, "#fee08b"],
  [0.9, "#fc8d59"],
  [1.0, "#d73027"],
  [1.3, "#7f0000"],
];
const SUN_RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]; // viridis
const DIFF_RAMP = ["#2166ac", "#67a9cf", "#f7f7f7", "#ef8a62", "#b2182b"];

const interpolate = (input, stops) => ["interpolate", ["linear"], input, ...stops.flat()];

function vectorSource(path) {
  return { type: "vector", tiles: [abs(path)], maxzoom: 16, attribution: ATTRIBUTION, promoteId: "id" };
}

function before(map) {
  return map.getLayer("buildings-2d") ? "buildings-2d" : undefined;
}

export function hhmm(minutes) {
  const m = Math.round(minutes);
  return `${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

export function mmss(seconds) {
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

/**
 * Add the layers of a finished run to `map`. Returns {entries, timeline, setTime, remove, data}.
 * `prefix` keeps the ids of two runs on one map apart; `d3` says whether buildings are extruded.
 */
export async function addRunLayers(map, run, { prefix = "result:", d3 = true } = {}) {
  const ids = [];
  const sources = [];
  const entries = [];
  const addSource = (id, spec) => {
    map.addSource(id, spec);
    sources.push(id);
  };
  // beforeId: a layer id, undefined for "under the buildings", null for "on top"
  const addLayer = (spec, beforeId = before(map)) => {
    map.addLayer(spec, beforeId ?? undefined);
    ids.push(spec.id);
    return spec.id;
  };
  const out = { entries, timeline: null, setTime: () => {}, data: {}, setD3: () => {} };
  out.remove = () => {
    for (const id of ids) if (map.getLayer(id)) map.removeLayer(id);
    for (const id of sources) if (map.getSource(id)) map.removeSource(id);
  };

  if (run.simulator === "traffic") {
    addSource(`${prefix}edges`, vectorSource(`/tiles/runs/${run.id}/edges/{z}/{x}/{y}.pbf`));
    const width = ["interpolate", ["linear"], ["coalesce", ["get", "volume_veh_h"], 0], 0, 2.5, 200, 4, 1000, 7, 2500, 11];
    const line = addLayer({
      id: `${prefix}traffic-vc`,
      type: "line",
      source: `${prefix}edges`,
      "source-layer": "edges",
      filter: ["!=", ["get", "closed"], true],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: {
        "line-color": interpolate(["coalesce", ["get", "vc_ratio"], 0], VC_RAMP),
        "line-width": ["interpolate", ["exponential", 1.5], ["zoom"], 12, ["*", 0.6, width], 16, ["*", 1.5, width]],
        "line-opacity": 1,
      },
    });
    const closed = addLayer({
      id: `${prefix}traffic-closed`,
      type: "line",
      source: `${prefix}edges`,
      "source-layer": "edges",
      filter: ["==", ["get", "closed"], true],
      paint: { "line-color": "#111", "line-width": 4, "line-dasharray": [1, 1], "line-opacity": 1 },
    });
    entries.push({
      id: `${prefix}traffic`,
      title: "Traffic: volume / capacity",
      group: "Results",
      layers: [line, closed],
      legend: [
        { kind: "ramp", colors: VC_RAMP.map((s) => s[1]), min: "0", max: "≥ 1.3", label: "v/c" },
        { kind: "note", label: "line width: volume (veh/h)" },
        { kind: "line", color: "#111", label: "closed road" },
      ],
    });
  } else if (run.simulator === "solar") {
    const rasters = await get(`/api/runs/${run.id}/rasters/`);
    out.data.rasters = rasters;
    const sun = rasters.find((r) => r.name === "sun_hours");
    if (sun) {
      addSource(`${prefix}sun`, { type: "raster", tiles: [abs(`${sun.tiles}?colormap=viridis`)], tileSize: 256, maxzoom: 19, attribution: ATTRIBUTION });
      const id = addLayer({ id: `${prefix}sun-hours`, type: "raster", source: `${prefix}sun`, paint: { "raster-opacity": 0.75, "raster-fade-duration": 0 } });
      entries.push({
        id: `${prefix}sun-hours`,
        title: "Sun hours on the ground",
        group: "Results",
        layers: [id],
        defaultOff: true,
        legend: [{ kind: "ramp", colors: SUN_RAMP, min: fmt(sun.min), max: fmt(sun.max), label: sun.unit || "h" }],
      });
    }
    const shadows = rasters
      .filter((r) => r.name.startsWith("shadow_"))
      .map((r) => ({ ...r, minute: Number(r.name.slice(7, 9)) * 60 + Number(r.name.slice(9, 11)) }))
      .sort((a, b) => a.minute - b.minute);
    out.data.shadows = shadows;
    const shadowIds = shadows.map((r) => {
      const sid = `${prefix}${r.name}`;
      addSource(sid, { type: "raster", tiles: [abs(r.tiles)], tileSize: 256, maxzoom: 19 });
      return addLayer({ id: sid, type: "raster", source: sid, layout: { visibility: "none" }, paint: { "raster-opacity": 1, "raster-fade-duration": 0 } });
    });
    addSource(`${prefix}roofs`, vectorSource(`/tiles/runs/${run.id}/buildings/{z}/{x}/{y}.pbf`));
    const roofs = addLayer(
      {
        id: `${prefix}roof-sun`,
        type: "fill-extrusion",
        source: `${prefix}roofs`,
        "source-layer": "buildings",
        paint: {
          "fill-extrusion-color": interpolate(["coalesce", ["get", "sun_hours"], 0], SUN_RAMP.map((c, i) => [i * 3, c])),
          "fill-extrusion-height": d3 ? ["+", ["get", "height_m"], 0.3] : 0.3,
          "fill-extrusion-opacity": 0.95,
        },
      },
      null,
    );
    out.setD3 = (on) => map.setPaintProperty(roofs, "fill-extrusion-height", on ? ["+", ["get", "height_m"], 0.3] : 0.3);
    entries.push({ id: `${prefix}roof-sun`, title: "Roof sun hours", group: "Results", layers: [roofs], legend: [{ kind: "ramp", colors: SUN_RAMP, min: "0", max: "≥ 12", label: "h/day" }] });
    if (shadows.length) {
      entries.push({ id: `${prefix}shadows`, title: "Shadows at the time on the slider", group: "Results", layers: shadowIds, legend: [{ kind: "fill", color: "rgba(20,20,20,0.6)", label: "in shadow" }] });
      let current = -1;
      out.timeline = { values: shadows.map((s) => s.minute), format: hhmm, label: "time of day" };
      out.setTime = (minute) => {
        let best = 0;
        shadows.forEach((sh, i) => {
          if (Math.abs(sh.minute - minute) < Math.abs(shadows[best].minute - minute)) best = i;
        });
        current = best;
        const on = out.isOn ? out.isOn(`${prefix}shadows`) : true;
        shadowIds.forEach((id, i) => map.setLayoutProperty(id, "visibility", on && i === current ? "visible" : "none"));
        out.currentShadow = shadows[best].name;
        map.getContainer().dataset.shadow = shadows[best].name;
      };
      entries.at(-1).visible = (layerId) => layerId === shadowIds[current];
    }
  } else if (run.simulator === "evacuation") {
    const [edges, series] = await Promise.all([get(`/api/runs/${run.id}/edges/`), get(`/api/runs/${run.id}/series/`)]);
    out.data.series = series;
    out.data.edges = edges;
    const step = run.meta?.series_step_s || run.params?.series_step_s || 60;
    const hasOcc = edges.features.some((f) => occupancyOf(f).length);
    addSource(`${prefix}evac-edges`, { type: "geojson", data: withQueue(edges, 0, step, hasOcc) });
    const queues = addLayer({
      id: `${prefix}evac-queues`,
      type: "line",
      source: `${prefix}evac-edges`,
      filter: [">", ["get", "q"], 0.5],
      layout: { "line-cap": "round" },
      paint: {
        "line-color": interpolate(["get", "q"], [
          [1, "#fdd49e"],
          [5, "#fc8d59"],
          [15, "#d7301f"],
          [40, "#7f0000"],
        ]),
        "line-width": interpolate(["get", "q"], [
          [1, 2],
          [40, 9],
        ]),
        "line-opacity": 1,
      },
    });
    addSource(`${prefix}evac-buildings`, vectorSource(`/tiles/runs/${run.id}/buildings/{z}/{x}/{y}.pbf`));
    const evacColor = (t) => [
      "case",
      ["any", ["!", ["has", "evacuation_time_s"]], ["==", ["get", "evacuation_time_s"], null], ["<=", ["coalesce", ["get", "evacuees"], 0], 0]],
      "#cfcfcf",
      ["<=", ["get", "evacuation_time_s"], t],
      "#2e7d32",
      "#c62828",
    ];
    const blds = addLayer(
      {
        id: `${prefix}evac-buildings`,
        type: "fill-extrusion",
        source: `${prefix}evac-buildings`,
        "source-layer": "buildings",
        paint: { "fill-extrusion-color": evacColor(0), "fill-extrusion-height": d3 ? ["+", ["get", "height_m"], 0.3] : 0.3, "fill-extrusion-opacity": 0.95 },
      },
      null,
    );
    out.setD3 = (on) => map.setPaintProperty(blds, "fill-extrusion-height", on ? ["+", ["get", "height_m"], 0.3] : 0.3);
    entries.push({
      id: `${prefix}evac-buildings`,
      title: "Evacuation: buildings emptied",
      group: "Results",
      layers: [blds],
      legend: [
        { kind: "fill", color: "#c62828", label: "people still inside" },
        { kind: "fill", color: "#2e7d32", label: "evacuated (evacuation_time_s ≤ t)" },
        { kind: "fill", color: "#cfcfcf", label: "nobody to evacuate" },
      ],
    });
    entries.push({
      id: `${prefix}evac-queues`,
      title: hasOcc ? "Evacuation: vehicles on roads at t" : "Evacuation: queues (max, while not cleared)",
      group: "Results",
      layers: [queues],
      legend: [{ kind: "ramp", colors: ["#fdd49e", "#fc8d59", "#d7301f", "#7f0000"], min: "1", max: "40+", label: "vehicles" }],
    });
    // shelters filling up: each shelter's load at t against its capacity
    const shelters = run.meta?.shelters || [];
    const loadAt = (name, t) => {
      const s = series[`shelter:${name}`];
      let v = 0;
      for (let i = 0; s && i < s.t_s.length && s.t_s[i] <= t; i++) v = s.values[i];
      return v;
    };
    const shelterData = (t) => ({
      type: "FeatureCollection",
      features: shelters.map((s) => ({
        type: "Feature",
        geometry: { type: "Point", coordinates: [s.lon, s.lat] },
        properties: { name: s.name, capacity: s.capacity, load: loadAt(s.name, t), fill: Math.min(1, loadAt(s.name, t) / Math.max(1, s.capacity)) },
      })),
    });
    let shelterLayer = null;
    if (shelters.length) {
      addSource(`${prefix}evac-shelters`, { type: "geojson", data: shelterData(0) });
      shelterLayer = addLayer({
        id: `${prefix}evac-shelters`,
        type: "circle",
        source: `${prefix}evac-shelters`,
        paint: {
          "circle-radius": 10,
          "circle-color": interpolate(["get", "fill"], [
            [0, "#ffffff"],
            [0.5, "#fdae61"],
            [1, "#d7191c"],
          ]),
          "circle-stroke-color": "#222",
          "circle-stroke-width": 2,
          "circle-opacity": 1,
        },
      });
      entries.push({
        id: `${prefix}evac-shelters`,
        title: "Evacuation: shelters filling",
        group: "Results",
        layers: [shelterLayer],
        legend: [{ kind: "ramp", colors: ["#ffffff", "#fdae61", "#d7191c"], min: "empty", max: "full", label: "load / capacity" }],
      });
    }
    const curve = series.evacuated_share;
    const horizon = Math.max(curve?.t_s?.at(-1) || 0, ...edges.features.map((f) => f.properties.queue_duration_s || 0), (run.kpis?.t100_s || 0) * 1.05, 60);
    const values = [];
    for (let t = 0; t <= horizon + step / 2; t += step) values.push(Math.round(t));
    out.timeline = { values, format: mmss, label: "time since the alarm" };
    let last = null;
    out.setTime = (t) => {
      map.setPaintProperty(blds, "fill-extrusion-color", evacColor(t));
      const key = Math.floor(t / step);
      if (key !== last) {
        last = key;
        map.getSource(`${prefix}evac-edges`)?.setData(withQueue(edges, t, step, hasOcc));
        if (shelterLayer) map.getSource(`${prefix}evac-shelters`)?.setData(shelterData(t));
      }
      map.getContainer().dataset.evacT = String(t);
    };
  }
  return out;
}

function occupancyOf(feature) {
  let occ = feature.properties.occupancy_veh ?? feature.properties.occupancy;
  if (typeof occ === "string") {
    try {
      occ = JSON.parse(occ);
    } catch {
      occ = null;
    }
  }
  return Array.isArray(occ) ? occ : [];
}

/** The edges with `q`: vehicles on the edge at time t (replayed), or its queue while it lasts. */
function withQueue(fc, t, step, hasOcc) {
  return {
    type: "FeatureCollection",
    features: fc.features.map((f) => {
      let q = 0;
      if (hasOcc) {
        const occ = occupancyOf(f);
        // sample k is taken at (k + 1) x step seconds
        const k = Math.floor(t / step) - 1;
        q = k < 0 ? 0 : occ[Math.min(occ.length - 1, k)] || 0;
      } else {
        const p = f.properties;
        q = (p.queue_duration_s || 0) >= t && t > 0 ? p.max_queue_veh || 0 : 0;
      }
      return { type: "Feature", id: f.id, geometry: f.geometry, properties: { q } };
    }),
  };
}

/** The difference layer of run minus base (edges, or buildings for solar). */
export function addDiffLayer(map, run, base, prefix = "diff:") {
  const kind = run.simulator === "solar" ? "buildings" : "edges";
  const field = { traffic: "delta_vc_ratio", solar: "delta_sun_hours", evacuation: "delta_max_queue_veh" }[run.simulator];
  const span = { traffic: 0.5, solar: 3, evacuation: 20 }[run.simulator];
  const sid = `${prefix}${kind}`;
  map.addSource(sid, vectorSource(`/tiles/compare/${run.id}/${base.id}/${kind}/{z}/{x}/{y}.pbf`));
  const color = interpolate(["coalesce", ["get", field], 0], DIFF_RAMP.map((c, i) => [(-1 + i / 2) * span, c]));
  const id = `${prefix}${field}`;
  if (kind === "edges") {
    map.addLayer({ id, type: "line", source: sid, "source-layer": kind, filter: ["!=", ["coalesce", ["get", field], 0], 0], paint: { "line-color": color, "line-width": 4, "line-opacity": 1 } });
  } else {
    map.addLayer({ id, type: "fill", source: sid, "source-layer": kind, paint: { "fill-color": color, "fill-opacity": 0.9 } });
  }
  return {
    entry: {
      id,
      title: `Difference: ${field.replace("delta_", "")} (scenario − baseline)`,
      group: "Results",
      layers: [id],
      legend: [{ kind: "ramp", colors: DIFF_RAMP, min: `−${span}`, max: `+${span}`, label: "0 = unchanged" }],
    },
    remove: () => {
      if (map.getLayer(id)) map.removeLayer(id);
      if (map.getSource(sid)) map.removeSource(sid);
    },
  };
}
