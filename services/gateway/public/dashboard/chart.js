/**
 * The chart: unique visits per window over the last hour, drawn by uPlot (served by the gateway
 * from its npm package). One bar per window, starting at the window's start; final counts solid,
 * provisional ones (the current window, windows waiting for their final) pale and dashed, future
 * windows amber. Hovering a bar shows its exact values.
 */
import uPlot from '../vendor/uPlot.esm.js';
import { clockTime, countText, counted, windowLabel } from './format.js';

const COLORS = {
  final: '#4fd18b',
  provisional: '#4fb3ff',
  future: '#ffb454',
  axis: '#8a96a3',
  grid: 'rgba(138, 150, 163, 0.15)',
};

const PHASE_TEXT = {
  final: 'final count',
  current: 'provisional: current window',
  closing: 'provisional: window ended, final count after the grace period',
  future: 'future window: timestamps ahead of this clock',
  empty: 'no counts',
};

const HEIGHT = { wide: 300, narrow: 220 };

export class VisitsChart {
  #plot;
  #meta = [];
  #windowSeconds = 60;

  constructor(container) {
    const bars = uPlot.paths.bars({ size: [0.85, 48], align: 1 });
    const series = (label, color, fill, dash, points = { show: false }) => ({ label, stroke: color, fill, width: 1.5, dash, paths: bars, points });
    const axis = (extra) => ({ stroke: COLORS.axis, grid: { stroke: COLORS.grid }, ticks: { stroke: COLORS.grid }, font: '12px system-ui, sans-serif', ...extra });
    const options = {
      ...this.#size(container),
      scales: {
        // The last bar spans its whole window: end the axis where that window ends.
        x: { time: true, range: (_plot, min, max) => [min, max + this.#windowSeconds] },
        y: { range: (_plot, _min, max) => [0, Math.max(5, (max ?? 0) * 1.15)] },
      },
      axes: [
        // 24-hour clock times, spaced so that they never run into each other, even on a phone.
        axis({ space: 70, values: (_plot, splits) => splits.map((seconds) => clockTime(seconds)) }),
        axis({ label: 'unique visits per window', labelFont: '12px system-ui, sans-serif', size: 64, values: (_plot, splits) => splits.map((v) => (Number.isInteger(v) ? countText(v) : '')) }),
      ],
      series: [
        {},
        series('final', COLORS.final, 'rgba(79, 209, 139, 0.6)'),
        series('provisional', COLORS.provisional, 'rgba(79, 179, 255, 0.2)', [5, 3]),
        // A dot as well: a few visits ahead of the clock would be an invisible bar next to thousands.
        series('future', COLORS.future, 'rgba(255, 180, 84, 0.3)', [2, 2], { show: true, size: 7, fill: COLORS.future }),
      ],
      legend: { live: false },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      plugins: [this.#tooltip()],
    };
    this.#plot = new uPlot(options, [[], [], [], []], container);
    new ResizeObserver(() => this.#plot.setSize(this.#size(container))).observe(container);
  }

  /** `chart`: the output of chartSeries(). */
  update(chart, windowSeconds) {
    this.#meta = chart.meta;
    this.#windowSeconds = windowSeconds;
    this.#plot.setData(chart.data);
  }

  #size(container) {
    const width = Math.max(280, container.clientWidth);
    return { width, height: width < 600 ? HEIGHT.narrow : HEIGHT.wide };
  }

  /** A box by the cursor with the hovered window's exact values. */
  #tooltip() {
    const box = document.createElement('div');
    box.className = 'chart-tooltip';
    box.hidden = true;
    const line = (className) => box.appendChild(Object.assign(document.createElement('div'), { className }));
    const [title, count, detail] = [line('tooltip-window'), line('tooltip-count'), line('tooltip-detail')];
    return {
      hooks: {
        init: (plot) => plot.over.appendChild(box),
        setCursor: (plot) => {
          const { idx, left, top } = plot.cursor;
          const point = idx === null || idx === undefined ? undefined : this.#meta[idx];
          if (!point || left < 0) {
            box.hidden = true;
            return;
          }
          title.textContent = windowLabel(point.start, point.end);
          count.textContent = point.total === null ? 'no counts' : `${countText(point.total)} unique visits`;
          detail.textContent = point.total === null ? '' : `${PHASE_TEXT[point.phase]} · ${counted(point.keys, 'account/store')}`;
          detail.dataset.phase = point.phase;
          box.hidden = false;
          // Keep the box inside the plot: flip it to the left of the cursor near the right edge.
          const flip = left > plot.over.clientWidth - 220;
          box.style.left = `${flip ? left - box.offsetWidth - 12 : left + 12}px`;
          box.style.top = `${Math.max(0, top - 10)}px`;
        },
      },
    };
  }
}
