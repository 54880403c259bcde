// The edit types the map can draw: for each, its tool (button, drawing, parameters form) and its
// words in the list of edits. An edit type the server knows but the map cannot draw still shows
// in the list (by the server's label, else its type). Adding an edit type to the map = one entry
// in EDIT_TOOLS (and its words in WORDS).

import { register } from "./catalogue.js";
import { start as startTool } from "./draw.js";
import { NETWORK_LAYERS } from "./networks.js";

const ROAD_LAYERS = ["roads", "edits-closed", "edits-changed"];
const BUILDING_LAYERS = ["buildings-2d", "buildings-3d"];

/**
 * The drawing tools, in the order of their buttons. start(target, {addEdit, paramsForm}) begins
 * drawing; the finished edit goes to addEdit(target, edit) (target: the scenario the tool was
 * started on). paramsForm(title, type, {field: initial value}, onSubmit) asks for the edit's
 * fields, built from the type's schema served at GET /api/edit-types/ (ranges, units, labels).
 */
export const EDIT_TOOLS = [
  {
    type: "close_road",
    button: "Close roads",
    start: (target, { addEdit }) =>
      startTool("pick", {
        layers: ROAD_LAYERS,
        message: "Click roads to close them (each click is one edit; Esc or Done ends).",
        onDone: (f) => addEdit(target, { type: "close_road", edge_ids: [f.properties.id] }),
      }),
  },
  {
    type: "change_road",
    button: "Change lanes",
    start: (target, { addEdit, paramsForm }) =>
      startTool("pick", {
        layers: ROAD_LAYERS,
        message: "Click a road to change its lanes.",
        onDone: (f) =>
          paramsForm(`Road ${f.properties.name || f.properties.id}: ${f.properties.lanes} lane(s) now`, "change_road", { lanes: Math.max(1, (f.properties.lanes || 1) + 1) }, (v) =>
            addEdit(target, { type: "change_road", edge_ids: [f.properties.id], ...v }),
          ),
      }),
  },
  {
    type: "change_road",
    id: "change_speed",
    button: "Speed limit",
    start: (target, { addEdit, paramsForm }) =>
      startTool("pick", {
        layers: ROAD_LAYERS,
        message: "Click a road to change its speed limit (or capacity).",
        onDone: (f) =>
          paramsForm(`Road ${f.properties.name || f.properties.id}: ${f.properties.speed_kph ?? "?"} km/h now`, "change_road", { speed_kph: f.properties.speed_kph ?? 30, capacity_veh_h: undefined }, (v) =>
            addEdit(target, { type: "change_road", edge_ids: [f.properties.id], ...v }),
          ),
      }),
  },
  {
    type: "add_road",
    button: "Draw a road",
    start: (target, { addEdit, paramsForm }) =>
      startTool("line", {
        onDone: (line) => paramsForm("New road", "add_road", { lanes: 1, speed_kph: 50, oneway: false }, (v) => addEdit(target, { type: "add_road", line, ...v })),
      }),
  },
  {
    type: "remove_building",
    button: "Remove a building",
    start: (target, { addEdit }) =>
      startTool("pick", {
        layers: BUILDING_LAYERS,
        message: "Click buildings to remove them (each click is one edit; Esc or Done ends).",
        onDone: (f) => addEdit(target, { type: "remove_building", building_ids: [f.properties.id] }),
      }),
  },
  {
    type: "heighten_building",
    button: "Building height",
    start: (target, { addEdit, paramsForm }) =>
      startTool("pick", {
        layers: BUILDING_LAYERS,
        message: "Click a building to change its height.",
        onDone: (f) =>
          paramsForm(`Building ${f.properties.name || f.properties.id}: ${f.properties.height_m ?? "?"} m now`, "heighten_building", { height_m: Math.round((f.properties.height_m || 10) * 2) }, (v) =>
            addEdit(target, { type: "heighten_building", building_ids: [f.properties.id], ...v }),
          ),
      }),
  },
  {
    type: "demand_change",
    button: "Change demand",
    start: (target, { addEdit, paramsForm }) =>
      startTool("polygon", {
        message: "Draw the zone whose trips change (double-click or Enter closes it), then give the factor.",
        onDone: (zone) => paramsForm("Trips from and to the zone", "demand_change", { factor: 1.2 }, (v) => addEdit(target, { type: "demand_change", zone, ...v })),
      }),
  },
  {
    type: "departure_profile",
    button: "Departure profile",
    // no drawing: a form for when the evacuees leave
    start: (target, { addEdit, paramsForm }) => paramsForm("When evacuees leave", "departure_profile", { distribution: "rayleigh", scale_min: 10 }, (v) => addEdit(target, { type: "departure_profile", ...v })),
  },
  {
    type: "add_building",
    button: "Draw a building",
    start: (target, { addEdit, paramsForm }) =>
      startTool("polygon", {
        onDone: (polygon) => paramsForm("New building", "add_building", { height_m: 20, use: "residential", residents: undefined }, (v) => addEdit(target, { type: "add_building", footprint: polygon, ...v })),
      }),
  },
  {
    type: "hazard_zone",
    button: "Hazard zone",
    start: (target, { addEdit, paramsForm }) =>
      startTool("polygon", {
        onDone: (polygon) => paramsForm("Hazard zone", "hazard_zone", { start_min: 0 }, (v) => addEdit(target, { type: "hazard_zone", polygon, start_min: 0, ...v })),
      }),
  },
  {
    type: "add_transit_line",
    button: "Draw a transit line",
    start: (target, { addEdit, paramsForm }) =>
      startTool("line", {
        message: "Click along the line's route, first stop to last; double-click or Enter ends it (stops every 500 m unless set).",
        onDone: (route) => paramsForm("New transit line", "add_transit_line", { name: undefined, mode: "tram", headway_min: 10, speed_kph: 20, vehicle_capacity: 200, stop_spacing_m: 500 }, (v) => addEdit(target, { type: "add_transit_line", route, ...v })),
      }),
  },
  {
    // a line by its id (the ids are in a transit run's line list: <feed>/<pattern>, add-<n>)
    type: "change_transit_line",
    button: "Change a transit line",
    start: (target, { addEdit, paramsForm }) => paramsForm("Change a transit line (its id)", "change_transit_line", { line_id: "", headway_min: 10 }, (v) => addEdit(target, { type: "change_transit_line", ...v })),
  },
  {
    type: "remove_transit_line",
    button: "Remove a transit line",
    start: (target, { addEdit, paramsForm }) => paramsForm("Remove a transit line (its id)", "remove_transit_line", { line_id: "" }, (v) => addEdit(target, { type: "remove_transit_line", ...v })),
  },
  {
    type: "transit_lane",
    button: "Bus or tram lane",
    start: (target, { addEdit }) =>
      startTool("line", {
        message: "Draw along the roads that give one car lane to buses or trams; double-click or Enter ends.",
        onDone: (line) => addEdit(target, { type: "transit_lane", line }),
      }),
  },
  {
    type: "add_shelter",
    button: "Place a shelter",
    start: (target, { addEdit, paramsForm }) =>
      startTool("point", {
        onDone: (point) => paramsForm("Shelter", "add_shelter", { capacity: 500, name: undefined }, (v) => addEdit(target, { type: "add_shelter", point, ...v })),
      }),
  },
  // the utility networks: their elements picked on the layers of networks.js (twin ids)
  {
    type: "water_pipe_break",
    button: "Water pipe break",
    start: (target, { addEdit, paramsForm }) =>
      pickElement(NETWORK_LAYERS.pipes, "Click a water pipe that breaks.", (f) =>
        paramsForm(`Pipe ${nameOf(f)} breaks (${f.properties.diameter_m ?? "?"} m wide)`, "water_pipe_break", { leak_diameter_m: Math.min(0.05, (f.properties.diameter_m || 0.1) / 2), isolate: true, isolate_after_h: 1 }, (v) =>
          addEdit(target, { type: "water_pipe_break", pipe: [f.properties.id], ...v }),
        ),
      ),
  },
  {
    type: "water_valve_closure",
    button: "Close a water valve",
    start: (target, { addEdit, paramsForm }) =>
      pickElement(NETWORK_LAYERS.valves, "Click a water valve (or a pipe) to close.", (f) =>
        paramsForm(`Close ${nameOf(f)}`, "water_valve_closure", { start_h: 0 }, (v) => addEdit(target, { type: "water_valve_closure", links: [f.properties.id], ...v })),
      ),
  },
  {
    type: "water_pump_out",
    button: "Water pump out",
    start: (target, { addEdit, paramsForm }) =>
      pickElement(NETWORK_LAYERS.pumps, "Click a water pump that stops.", (f) =>
        paramsForm(`Pump ${nameOf(f)} out of service`, "water_pump_out", { start_h: 0 }, (v) => addEdit(target, { type: "water_pump_out", pumps: [f.properties.id], ...v })),
      ),
  },
  {
    type: "water_tank_out",
    button: "Water tank out",
    start: (target, { addEdit, paramsForm }) =>
      pickElement(NETWORK_LAYERS.tanks, "Click a water tank out of service.", (f) =>
        paramsForm(`Tank ${nameOf(f)} out of service`, "water_tank_out", { start_h: 0 }, (v) => addEdit(target, { type: "water_tank_out", tanks: [f.properties.id], ...v })),
      ),
  },
  {
    // every junction of the network (no drawing)
    type: "water_demand_change",
    button: "Water demand",
    start: (target, { addEdit, paramsForm }) => paramsForm("Water demand at every junction", "water_demand_change", { factor: 1.2 }, (v) => addEdit(target, { type: "water_demand_change", ...v })),
  },
  {
    type: "line_outage",
    button: "Power line outage",
    start: (target, { addEdit }) =>
      pickElement(NETWORK_LAYERS.lines, "Click power lines out of service (each click is one edit; Esc or Done ends).", (f) => addEdit(target, { type: "line_outage", lines: [f.properties.id] })),
  },
  {
    type: "transformer_outage",
    button: "Transformer outage",
    start: (target, { addEdit }) =>
      pickElement(NETWORK_LAYERS.transformers, "Click transformers out of service (Esc or Done ends).", (f) => addEdit(target, { type: "transformer_outage", transformers: [f.properties.id] })),
  },
  {
    type: "substation_outage",
    button: "Substation outage",
    start: (target, { addEdit }) =>
      pickElement(NETWORK_LAYERS.buses, "Click a substation's bus: it and everything on it go out (Esc or Done ends).", (f) => addEdit(target, { type: "substation_outage", buses: [f.properties.id] })),
  },
  {
    type: "power_demand_change",
    button: "Electricity demand",
    start: (target, { addEdit, paramsForm }) =>
      startTool("polygon", {
        message: "Draw the zone whose electricity demand changes (double-click or Enter closes it), then give the factor.",
        onDone: (zone) => paramsForm("Electricity demand in the zone", "power_demand_change", { factor: 1.2 }, (v) => addEdit(target, { type: "power_demand_change", zone, ...v })),
      }),
  },
];

const nameOf = (f) => f.properties.name || `#${f.properties.id}`;

// pick an element of a utility network; no network on the map: say so instead of waiting
function pickElement(layers, message, onDone) {
  return startTool("pick", { layers, message: `${message} (The Layers tab shows the city's imported networks; none: import one first.)`, onDone });
}

const edgeCount = (e) => (e.resolved_edge_ids || e.edge_ids || []).length;

// an edit in words, by type
const WORDS = {
  close_road: (e) => `close ${edgeCount(e) || "drawn"} road edge(s)`,
  change_road: (e) => `change ${edgeCount(e)} road edge(s): ${["lanes", "capacity_veh_h", "speed_kph"].filter((k) => e[k] != null).map((k) => `${k} ${e[k]}`).join(", ")}`,
  add_road: (e) => `add a road (${e.lanes || 1} lane(s), ${e.speed_kph || 50} km/h)`,
  add_building: (e) => `add a ${e.use || ""} building, ${e.height_m} m high`,
  remove_building: (e) => `remove ${(e.building_ids || []).length} building(s)`,
  heighten_building: (e) => `set ${(e.building_ids || []).length} building(s) to ${e.height_m} m`,
  add_shelter: (e) => `shelter${e.name ? ` “${e.name}”` : ""} for ${e.capacity} people`,
  hazard_zone: (e) => `hazard zone from minute ${e.start_min ?? 0}`,
  demand_change: (e) => `demand × ${e.factor}${e.zone ? " in a zone" : ""}`,
  line_outage: (e) => `power line outage (${e.lines.length} line${e.lines.length === 1 ? "" : "s"})`,
  transformer_outage: (e) => `transformer outage (${e.transformers.length})`,
  substation_outage: (e) => `substation outage (${e.buses.length} bus${e.buses.length === 1 ? "" : "es"})`,
  power_demand_change: (e) => `electricity demand × ${e.factor}${e.zone ? " in a zone" : ""}`,
  add_transit_line: (e) => `add ${e.name || e.mode || "a transit line"} every ${e.headway_min} min at ${e.speed_kph} km/h`,
  change_transit_line: (e) => `line ${e.line_id}: ${["headway_min", "speed_kph"].filter((k) => e[k] != null).map((k) => `${k} ${e[k]}`).join(", ")}`,
  remove_transit_line: (e) => `remove line ${e.line_id}`,
  transit_lane: (e) => `bus or tram lane on ${edgeCount(e) || "drawn"} road edge(s)`,
  departure_profile: (e) => `departures: ${e.distribution}, scale ${e.scale_min} min`,
  water_pipe_break: (e) => `water main break (opening ${Math.round(e.leak_diameter_m * 100)} cm)${e.isolate === false ? "" : `, isolated after ${e.isolate_after_h ?? 1} h`}`,
  water_valve_closure: (e) => `close ${(e.links || []).length} water valve(s) or pipe(s)`,
  water_pump_out: (e) => `${(e.pumps || []).length} pump(s) out of service`,
  water_tank_out: (e) => `${(e.tanks || []).length} tank(s) out of service`,
  water_demand_change: (e) => `water demand × ${e.factor}`,
};

/** The edit that closes every segment of a street by its name (the server resolves the name). */
export const closeStreet = (street) => ({ type: "close_road", street });

/** An edit in words (plain text: shown with textContent): the server's label when it gives one. */
export function describeEdit(e) {
  return e.label || WORDS[e.type]?.(e) || e.type;
}

const EDIT_LAYERS = ["edits-zone", "edits-zone-line", "edits-building", "edits-road", "edits-closed", "edits-changed", "edits-shelter"];

/** The edits drawn over the map (and their catalogue entry). */
export function addEditLayers(map) {
  map.addSource("edits", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  const isType = (t) => ["==", ["get", "type"], t];
  const none = ["in", ["get", "id"], ["literal", []]];
  map.addLayer({ id: "edits-zone", type: "fill", source: "edits", filter: isType("hazard_zone"), paint: { "fill-color": "#d50000", "fill-opacity": 0.25 } });
  map.addLayer({ id: "edits-zone-line", type: "line", source: "edits", filter: isType("hazard_zone"), paint: { "line-color": "#d50000", "line-width": 2 } });
  map.addLayer({ id: "edits-building", type: "fill-extrusion", source: "edits", filter: isType("add_building"), paint: { "fill-extrusion-color": "#ff6f00", "fill-extrusion-height": ["coalesce", ["get", "height_m"], 10], "fill-extrusion-opacity": 0.9 } });
  map.addLayer({ id: "edits-road", type: "line", source: "edits", filter: ["==", ["geometry-type"], "LineString"], paint: { "line-color": ["match", ["get", "type"], "close_road", "#b71c1c", "add_transit_line", "#00838f", "transit_lane", "#ef6c00", "#6a1b9a"], "line-width": 5, "line-dasharray": [1, 1] } });
  map.addLayer({ id: "edits-closed", type: "line", source: "roads", "source-layer": "roads", filter: none, paint: { "line-color": "#b71c1c", "line-width": 5, "line-dasharray": [1, 1] } });
  map.addLayer({ id: "edits-changed", type: "line", source: "roads", "source-layer": "roads", filter: none, paint: { "line-color": "#6a1b9a", "line-width": 5, "line-opacity": 0.8 } });
  map.addLayer({ id: "edits-shelter", type: "circle", source: "edits", filter: isType("add_shelter"), paint: { "circle-radius": 8, "circle-color": "#2e7d32", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
  register({
    id: "edits",
    title: "Scenario edits",
    group: "Scenario",
    layers: EDIT_LAYERS,
    legend: [
      { label: "closed road", color: "#b71c1c", kind: "line" },
      { label: "changed road", color: "#6a1b9a", kind: "line" },
      { label: "new transit line", color: "#00838f", kind: "line" },
      { label: "bus or tram lane", color: "#ef6c00", kind: "line" },
      { label: "added building", color: "#ff6f00", kind: "fill" },
      { label: "hazard zone", color: "#d50000", kind: "fill" },
      { label: "shelter", color: "#2e7d32", kind: "circle" },
    ],
  });
}

/** The road edges closed or changed by the edits, drawn over the roads. */
export function showEditedRoads(map, edits) {
  const ids = (type) => edits.filter((e) => e.type === type).flatMap((e) => e.resolved_edge_ids || e.edge_ids || []);
  map.setFilter("edits-closed", ["in", ["get", "id"], ["literal", ids("close_road")]]);
  map.setFilter("edits-changed", ["in", ["get", "id"], ["literal", ids("change_road")]]);
}
