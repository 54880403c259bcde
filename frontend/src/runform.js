// The run form of a simulator, built only from its entry of GET /api/simulators/ (JSON Schema of
// the parameters with defaults, ranges, units and enum labels), so the page and the server can
// never disagree on a range. A value outside the schema is refused here, naming the field,
// before anything is sent; the server checks again.

import { get } from "./api.js";
import { el } from "./dom.js";
import { set, state } from "./state.js";

/** A value the schema refuses: `field` is the parameter's name. */
export class FieldError extends Error {
  constructor(field, message) {
    super(`${field} ${message}`);
    this.field = field;
  }
}

const types = (schema) => (Array.isArray(schema.type) ? schema.type : [schema.type]);
const unitOf = (schema) => (schema["x-unit"] && schema["x-unit"] !== "1" ? schema["x-unit"] : "");
// an empty number: the server's default, "none" when that is null, "default" when unpublished
const placeholder = (schema) => (!("default" in schema) ? "default" : schema.default == null ? "none" : String(schema.default));
const show = (v) => (typeof v === "number" ? String(v) : JSON.stringify(v));

/** The words next to an input: its title (or name) and its unit. */
export function labelText(name, schema) {
  const unit = unitOf(schema);
  return `${schema.title || name.replaceAll("_", " ")}${unit ? ` (${unit})` : ""}`;
}

/** Check a number against the schema's type and range; returns the number or throws. */
export function checkNumber(name, schema, value) {
  const unit = unitOf(schema);
  const u = unit ? ` ${unit}` : "";
  const title = schema.title ? ` (${schema.title})` : "";
  if (!Number.isFinite(value)) throw new FieldError(name, `${title} must be a number`.trim());
  if (types(schema).includes("integer") && !Number.isInteger(value)) throw new FieldError(name, `${title} must be a whole number, got ${value}`.trim());
  const fail = (words) => new FieldError(name, `${title} must be ${words}${u}, got ${value}${u}`.trim());
  if (schema.minimum != null && value < schema.minimum) throw fail(`at least ${show(schema.minimum)}`);
  if (schema.maximum != null && value > schema.maximum) throw fail(`at most ${show(schema.maximum)}`);
  if (schema.exclusiveMinimum != null && value <= schema.exclusiveMinimum) throw fail(`more than ${show(schema.exclusiveMinimum)}`);
  if (schema.exclusiveMaximum != null && value >= schema.exclusiveMaximum) throw fail(`less than ${show(schema.exclusiveMaximum)}`);
  return value;
}

/**
 * One plain input for a parameter: number (with min, max, step and the default as placeholder),
 * enum (a select with the enum's labels), boolean (a checkbox), date or text. Returns
 * {label, input, read}; read() gives the value to send, undefined for "the server's default".
 * `value` prefills the input (e.g. an edit's lanes: the road's lanes + 1).
 */
export function plainField(name, schema, { value } = {}) {
  const kinds = types(schema).filter((t) => t !== "null");
  const kind = kinds[0];
  const dflt = schema.default;
  const attrs = { name, title: schema.description || false, "data-default": dflt == null ? false : String(dflt) };
  let input;
  let read;
  if (Array.isArray(schema.enum)) {
    const labels = schema["x-enum-labels"] || {};
    input = el("select", attrs);
    const word = (v) => labels[v] || String(v);
    input.append(new Option(dflt == null ? "default" : `default (${word(dflt)})`, ""));
    for (const v of schema.enum) if (v != null) input.append(new Option(word(v), String(v)));
    read = () => {
      if (input.value === "") return undefined;
      const value = schema.enum.find((v) => String(v) === input.value);
      if (value === undefined) throw new FieldError(name, `must be one of ${schema.enum.join(", ")}`);
      return value;
    };
  } else if (kind === "boolean") {
    input = el("input", { ...attrs, type: "checkbox", checked: dflt === true });
    read = () => input.checked;
  } else if (kind === "number" || kind === "integer") {
    const min = schema.minimum ?? schema.exclusiveMinimum;
    const max = schema.maximum ?? schema.exclusiveMaximum;
    input = el("input", { ...attrs, type: "number", step: kind === "integer" ? 1 : "any", min: min ?? false, max: max ?? false, placeholder: placeholder(schema) });
    read = () => {
      if (input.validity.badInput) throw new FieldError(name, "must be a number");
      if (input.value === "") return undefined;
      return checkNumber(name, schema, Number(input.value));
    };
  } else if (kind === "string") {
    const date = schema.format === "date";
    input = el("input", { ...attrs, type: date ? "date" : "text", value: date && typeof dflt === "string" ? dflt : false, placeholder: !date && dflt != null ? String(dflt) : false });
    read = () => {
      const v = input.value.trim();
      if (v === "") return undefined;
      if (date && !/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new FieldError(name, `must be a date (YYYY-MM-DD), got ${v}`);
      if (schema.minLength != null && v.length < schema.minLength) throw new FieldError(name, `must have at least ${schema.minLength} characters`);
      if (schema.maxLength != null && v.length > schema.maxLength) throw new FieldError(name, `must have at most ${schema.maxLength} characters`);
      return v;
    };
  } else {
    return null; // lists and objects: the API takes them, the form does not offer them
  }
  if (value !== undefined) {
    if (input.type === "checkbox") input.checked = !!value;
    else input.value = String(value);
  }
  return { label: el("label", { title: schema.description || false }, labelText(name, schema), " ", input), input, read };
}

/**
 * The form body of one simulator: its parameters in the schema's display order ("x-order"),
 * each by the view's widget when it has one (solar's "area in view"), else a plain input.
 * Returns {node, fields, read}: read() gives the params to POST or throws FieldError.
 */
export function buildParams(simulator, { widgets = {}, map } = {}) {
  const schema = simulator.parameters || { properties: {} };
  const props = schema.properties || {};
  const order = [...(schema["x-order"] || []), ...Object.keys(props)].filter((n, i, all) => props[n] && all.indexOf(n) === i);
  const node = el("div", { class: "run-params-fields" });
  const fields = [];
  const skipped = [];
  for (const name of order) {
    const field = { name, schema: props[name] };
    const generic = (s = field.schema) => plainField(name, s);
    const made = widgets[name] ? widgets[name](field, { map, generic }) : generic();
    if (!made) {
      skipped.push(name);
      continue;
    }
    fields.push({ name, ...made });
    node.append(made.label);
  }
  if (skipped.length) node.append(el("p", { class: "muted" }, `Set through the API only: ${skipped.join(", ")}.`));
  const read = () => {
    const params = {};
    for (const f of fields) {
      f.input?.removeAttribute("aria-invalid");
      let value;
      try {
        value = f.read();
      } catch (err) {
        f.input?.setAttribute("aria-invalid", "true");
        f.input?.focus();
        throw err;
      }
      if (value !== undefined) params[f.name] = value;
    }
    return params;
  };
  return { node, fields, read };
}

/**
 * The run form's simulator choice and parameters, from GET /api/simulators/ (put in the store as
 * state.simulators). `views(name)` gives a simulator's view (its widgets). Returns
 * {loaded: Promise, spec(name), read(scenario) -> {simulator, params}}; read throws FieldError
 * for a value the schema refuses or an edit the simulator needs and the scenario lacks.
 */
export function initRunForm(form, { map, views, onError }) {
  const select = form.querySelector("#run-simulator");
  const description = form.querySelector("#run-description");
  const box = form.querySelector("#run-params");
  const spec = (name) => state.simulators?.find((s) => s.name === name);
  let params = null;

  function render() {
    const sim = spec(select.value);
    description.textContent = sim?.description || "";
    params = sim ? buildParams(sim, { widgets: views(sim.name).widgets, map }) : null;
    box.replaceChildren(...(params ? [params.node] : []));
  }
  select.addEventListener("change", render);

  async function load() {
    try {
      const doc = await get("/api/simulators/");
      set({ simulators: doc.simulators || [] });
    } catch (err) {
      onError(`The simulators are not available: ${err.message}`);
      return;
    }
    select.replaceChildren(...state.simulators.map((s) => new Option(s.label || s.name, s.name)));
    render();
  }

  function read(scenario) {
    const sim = spec(select.value);
    if (!sim || !params) throw new FieldError("simulator", "is not offered by the server");
    const values = params.read();
    const kinds = new Set((scenario?.edits || []).map((e) => e.type));
    const missing = (sim.requires_edits || []).filter((t) => !kinds.has(t));
    if (missing.length) throw new FieldError("scenario", `needs a ${missing.join(" and a ")} edit to run ${sim.label || sim.name}`);
    return { simulator: sim.name, params: values };
  }

  return { loaded: load(), spec, read };
}
