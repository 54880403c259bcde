// Following a run to its end: the server-sent `run` events, polling when the stream breaks or
// ends before the run does, and the final record (with the KPIs and result links).

import { followEvents, get } from "./api.js";

export const DONE = ["succeeded", "failed", "cancelled"];
export const ACTIVE = ["queued", "running"];

export function errorText(error) {
  if (!error) return "no reason given";
  if (typeof error === "string") return error;
  return error.message || error.error || error.detail || JSON.stringify(error);
}

/**
 * Follow `run` until it is done; `onUpdate(record)` gets each state on the way. Returns the
 * last record, or null once `signal` is aborted (nothing is told after that). Throws when the
 * run cannot be read any more.
 */
export async function followRun(run, { signal, onUpdate, pollMs = 700 }) {
  let last = run;
  const update = (r) => {
    if (signal.aborted || !r || r.id !== run.id) return;
    last = r;
    onUpdate(r);
  };
  update(run);
  try {
    await followEvents(`/api/runs/${run.id}/events/`, update, signal);
  } catch {
    /* no event stream (or it broke): the polling below takes over */
  }
  while (!signal.aborted && !DONE.includes(last.status)) {
    await new Promise((r) => setTimeout(r, pollMs));
    if (signal.aborted) return null;
    update(await get(`/api/runs/${run.id}/`));
  }
  if (signal.aborted) return null;
  try {
    update(await get(`/api/runs/${run.id}/`));
  } catch {
    /* draw what the stream said */
  }
  return signal.aborted ? null : last;
}
