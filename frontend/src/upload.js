// Upload a file from the page (POST /api/imports/) and follow the import job to its report.

import { get, request, token } from "./api.js";
import { $, el, escapeHtml, say } from "./dom.js";

export function initUpload(container, { cityName, onDone }) {
  container.innerHTML = `
    <form class="upload" autocomplete="off">
      <label>File <input type="file" name="file" required></label>
      <label>Import as <select name="target">
        <option value="layer">a new layer</option>
        <option value="buildings">buildings of the city</option>
        <option value="roads">roads of the city</option>
        <option value="utilities">utilities of the city</option>
        <option value="raster">a raster (GeoTIFF)</option>
        <option value="osm">an OSM extract</option>
      </select></label>
      <label>Name <input name="name" placeholder="from the file name"></label>
      <label>CRS if the file has none <input name="crs" placeholder="e.g. EPSG:3067"></label>
      <label>Visibility <select name="visibility"><option>public</option><option>private</option></select></label>
      <button type="submit">Upload and import</button>
    </form>
    <div class="progress" hidden><div class="bar"></div><span class="pct"></span></div>
    <div class="upload-status status"></div>
    <div class="import-report"></div>`;
  const form = $("form", container);
  const status = $(".upload-status", container);
  const progress = $(".progress", container);
  const report = $(".import-report", container);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!token()) {
      say(status, "Sign in first: uploads need an account.", "error");
      return;
    }
    const data = new FormData(form);
    for (const k of ["name", "crs"]) if (!data.get(k)) data.delete(k);
    data.set("city", cityName());
    report.replaceChildren();
    say(status, "uploading…");
    let job;
    try {
      job = await request("POST", "/api/imports/", data, { form: true });
    } catch (err) {
      say(status, `The upload was refused: ${err.message}`, "error");
      return;
    }
    progress.hidden = false;
    for (;;) {
      showProgress(progress, job.progress_percent, job.stage || job.status);
      say(status, `import ${job.status}: ${job.stage || ""}`);
      if (["succeeded", "failed", "cancelled"].includes(job.status)) break;
      await new Promise((r) => setTimeout(r, 400));
      try {
        job = await get(`/api/jobs/${job.id}/`);
      } catch (err) {
        say(status, `Lost track of the import: ${err.message}`, "error");
        return;
      }
    }
    if (job.status === "succeeded") {
      say(status, "Import finished.", "ok");
      onDone?.(job);
    } else {
      const e = job.error || {};
      say(status, `The import ${job.status}: ${e.message || e.error || JSON.stringify(e)}`, "error");
    }
    report.replaceChildren(reportTable(job.report || {}));
  });
}

export function showProgress(node, percent, label) {
  node.hidden = false;
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  node.querySelector(".bar").style.width = `${p}%`;
  node.querySelector(".pct").textContent = `${Math.round(p)}% ${label || ""}`;
  node.setAttribute("data-percent", String(p));
}

// the import report's fields in words (a field not listed here: its name with spaces)
const REPORT_LABELS = {
  kind: "Imported as",
  target: "Into",
  city: "City",
  file: "File",
  driver: "File format",
  read: "Rows read",
  imported: "Rows imported",
  repaired: "Geometries repaired",
  rejected: "Rows rejected (with the reason)",
  crs_detected: "Coordinate system found in the file",
  crs: "Coordinate system",
  crs_override_ignored: "Coordinate system given but not used",
  crs_given_for_projected_coordinates: "Coordinate system given for projected coordinates",
  reprojection: "Reprojected",
  geometry_type: "Geometry type",
  features: "Features",
  layer: "Layer",
  layer_id: "Layer id",
  raster: "Raster",
  raster_id: "Raster id",
  width: "Width (cells)",
  height: "Height (cells)",
  resolution: "Cell size",
  nodata: "No-data value",
  dtype: "Cell type",
  min: "Smallest value",
  max: "Largest value",
  mean: "Mean value",
  seconds: "Import time (s)",
  workers: "Workers",
  roads: "Roads",
  road_nodes: "Road nodes",
  road_edges: "Road links",
  utilities: "Utilities",
  utility_nodes: "Utility nodes",
  utility_links: "Utility links",
  buildings: "Buildings",
};

export const reportLabel = (key) => REPORT_LABELS[key] || key.replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());

function reportTable(rep) {
  const table = el("table", { class: "kv" });
  for (const [k, v] of Object.entries(rep)) {
    let text;
    if (Array.isArray(v)) text = v.length ? `${v.length}: ${v.slice(0, 5).map((x) => (typeof x === "object" ? Object.values(x).join(" ") : x)).join("; ")}${v.length > 5 ? " …" : ""}` : "none";
    else if (v && typeof v === "object") text = JSON.stringify(v);
    else text = String(v);
    const tr = el("tr");
    tr.innerHTML = `<th title="${escapeHtml(k)}">${escapeHtml(reportLabel(k))}</th><td>${escapeHtml(text)}</td>`;
    table.append(tr);
  }
  return table;
}
