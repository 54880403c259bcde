// Tiny DOM helpers.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null) node.append(c instanceof Node ? c : String(c));
  return node;
}

export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function fmt(value, digits = 1) {
  if (value == null || value === "") return "–";
  if (typeof value === "number") {
    // the reader's own locale (decimal comma in Helsinki, point in Cairns)
    if (Number.isInteger(value)) return value.toLocaleString();
    return value.toLocaleString(undefined, { maximumFractionDigits: digits });
  }
  return String(value);
}

/** A status line: kind is "info", "error" or "ok". */
export function say(node, text, kind = "info") {
  node.textContent = text;
  node.classList.remove("status-info", "status-error", "status-ok");
  node.classList.add("status", `status-${kind}`);
}
