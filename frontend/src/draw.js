// Minimal drawing on the map: pick a feature, draw a polygon, place a point. One tool at a time.

const EMPTY = { type: "FeatureCollection", features: [] };
let tool = null; // {kind, onDone, points}
let map = null;
let hint = null;
// the kinds drawn corner by corner (finished by double-click or Enter)
const DRAWN = new Set(["polygon", "line"]);

export const activeTool = () => tool;

export function initDraw(theMap, hintNode) {
  map = theMap;
  hint = hintNode;
  map.addSource("draw", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "draw-fill", type: "fill", source: "draw", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#ff6f00", "fill-opacity": 0.25 } });
  map.addLayer({ id: "draw-line", type: "line", source: "draw", paint: { "line-color": "#ff6f00", "line-width": 2, "line-dasharray": [2, 1] } });
  map.addLayer({ id: "draw-points", type: "circle", source: "draw", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 5, "circle-color": "#fff", "circle-stroke-color": "#ff6f00", "circle-stroke-width": 2 } });
  map.on("click", onClick);
  map.on("dblclick", onDblClick);
  map.on("mousemove", onMove);
  window.addEventListener("keydown", (e) => {
    if (!tool) return;
    if (e.key === "Escape") {
      e.preventDefault();
      stop();
    } else if (e.key === "Enter" && DRAWN.has(tool.kind)) {
      e.preventDefault(); // else the Enter would also submit the form that finishing opens
      finishPolygon();
    }
  });
}

/**
 * Start a tool. kind: "pick" (click a feature of `layers`), "polygon", "line", "point".
 * `onDone(result)` gets the feature picked, a GeoJSON Polygon, LineString or Point.
 */
export function start(kind, { onDone, layers = [], message = "" }) {
  stop();
  tool = { kind, onDone, layers, points: [], cursor: null };
  map.getCanvas().style.cursor = "crosshair";
  if (DRAWN.has(kind)) map.doubleClickZoom.disable();
  hint.hidden = false;
  hint.textContent =
    message ||
    { pick: "Click a feature on the map (Esc cancels).", polygon: "Click the corners; double-click or Enter closes the polygon (Esc cancels).", line: "Click along the way; double-click or Enter ends the line (Esc cancels).", point: "Click where it goes (Esc cancels)." }[kind];
  document.body.dataset.tool = kind;
}

export function stop() {
  if (!tool) return;
  tool = null;
  map.getCanvas().style.cursor = "";
  map.getSource("draw").setData(EMPTY);
  setTimeout(() => map.doubleClickZoom.enable(), 0);
  hint.hidden = true;
  delete document.body.dataset.tool;
}

function redraw() {
  const pts = tool.points.concat(tool.cursor ? [tool.cursor] : []);
  const features = pts.map((p) => ({ type: "Feature", geometry: { type: "Point", coordinates: p }, properties: {} }));
  if (pts.length >= 3 && tool.kind === "polygon") features.push({ type: "Feature", geometry: { type: "Polygon", coordinates: [[...pts, pts[0]]] }, properties: {} });
  else if (pts.length >= 2) features.push({ type: "Feature", geometry: { type: "LineString", coordinates: pts }, properties: {} });
  map.getSource("draw").setData({ type: "FeatureCollection", features });
}

function onClick(e) {
  if (!tool) return;
  const ll = [e.lngLat.lng, e.lngLat.lat];
  if (tool.kind === "pick") {
    const layers = tool.layers.filter((id) => map.getLayer(id));
    const f = map.queryRenderedFeatures(
      [
        [e.point.x - 5, e.point.y - 5],
        [e.point.x + 5, e.point.y + 5],
      ],
      { layers },
    )[0];
    if (f) {
      const { onDone } = tool;
      onDone(f, e.lngLat);
    }
  } else if (tool.kind === "point") {
    const { onDone } = tool;
    stop();
    onDone({ type: "Point", coordinates: ll });
  } else if (DRAWN.has(tool.kind)) {
    const last = tool.points[tool.points.length - 1];
    if (!last || last[0] !== ll[0] || last[1] !== ll[1]) tool.points.push(ll);
    redraw();
  }
}

function onDblClick(e) {
  if (!DRAWN.has(tool?.kind)) return;
  e.preventDefault();
  finishPolygon();
}

export function finishPolygon() {
  if (!DRAWN.has(tool?.kind)) return;
  const pts = tool.points;
  if (tool.kind === "line") {
    if (pts.length < 2) {
      hint.textContent = "A line needs at least two points.";
      return;
    }
    const { onDone } = tool;
    stop();
    onDone({ type: "LineString", coordinates: pts });
    return;
  }
  if (pts.length < 3) {
    hint.textContent = "A polygon needs at least three corners.";
    return;
  }
  const { onDone } = tool;
  stop();
  onDone({ type: "Polygon", coordinates: [[...pts, pts[0]]] });
}

function onMove(e) {
  if (!DRAWN.has(tool?.kind) || !tool.points.length) return;
  tool.cursor = [e.lngLat.lng, e.lngLat.lat];
  redraw();
}
