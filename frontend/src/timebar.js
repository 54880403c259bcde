// The time slider over the map (solar: time of day; evacuation: time since the alarm) with play.

import { $ } from "./dom.js";
import { set, state } from "./state.js";

/**
 * The slider of the run on show. `onTime(t)` is told each time shown, in the timeline's own unit
 * (the time is kept in the link as `t`). Returns {show(timeline, kind, initialIndex), hide, t}.
 */
export function initTimeBar(onTime) {
  const bar = $("#time-bar");
  const slider = $("#time-slider");
  const label = $("#time-label");
  const play = $("#time-play");
  let timeline = null;
  let timer = null;

  function setIndex(idx) {
    if (!timeline) return;
    const { values, format } = timeline;
    const t = values[Math.max(0, Math.min(values.length - 1, idx))];
    label.textContent = `${timeline.label}: ${format(t)}`;
    label.dataset.t = String(t);
    onTime(t);
    set({ t });
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    play.textContent = "▶";
    play.setAttribute("aria-label", "play");
  }

  slider.addEventListener("input", () => setIndex(Number(slider.value)));
  play.addEventListener("click", () => {
    if (timer) return stop();
    play.textContent = "⏸";
    play.setAttribute("aria-label", "pause");
    if (Number(slider.value) >= Number(slider.max)) slider.value = 0;
    timer = setInterval(() => {
      const next = Number(slider.value) + 1;
      if (next > Number(slider.max)) return stop();
      slider.value = next;
      setIndex(next);
    }, 400);
  });

  return {
    /** Show a timeline at the link's time, else at the view's initial index. */
    show(tl, kind, initialIndex = () => 0) {
      timeline = tl;
      const { values } = tl;
      slider.min = 0;
      slider.max = values.length - 1;
      slider.step = 1;
      let idx;
      if (state.t != null) {
        idx = values.findIndex((v) => v >= state.t);
        if (idx < 0) idx = values.length - 1;
      } else idx = initialIndex(values);
      slider.value = idx;
      slider.dataset.format = kind;
      bar.dataset.kind = kind;
      bar.hidden = false;
      setIndex(idx);
    },
    hide() {
      stop();
      timeline = null;
      bar.hidden = true;
    },
    /** The time shown (0 when no timeline). */
    t: () => Number(label.dataset.t || 0),
  };
}
