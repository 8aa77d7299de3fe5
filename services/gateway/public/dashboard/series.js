/**
 * The chart's data in uPlot's shape: x = the start of every window of the last hour (and any
 * window ahead of the clock), then one series per kind of window, so that each kind draws
 * differently: final counts, provisional counts (the current window and windows waiting for
 * their final), and future windows. A window holds a value in exactly one series; a window
 * without any count is a gap, not a zero. `meta` carries each point's details for the tooltip.
 * Pure: the caller passes the time.
 */
import { windowPhase, windowStartAt } from './windows.js';

export const CHART_SPAN_SECONDS = 3600;

export function chartSeries(book, nowSeconds, spanSeconds = CHART_SPAN_SECONDS) {
  const length = book.windowSeconds;
  const current = windowStartAt(nowSeconds, length);
  const newest = Math.max(current, book.windows().at(-1)?.start ?? current);
  const xs = [];
  const final = [];
  const provisional = [];
  const future = [];
  const meta = [];
  for (let start = current - spanSeconds + length; start <= newest; start += length) {
    const window = book.window(start);
    const phase = window ? windowPhase(window.start, window.end, window.final, nowSeconds) : 'empty';
    xs.push(start);
    final.push(phase === 'final' ? window.total : null);
    provisional.push(phase === 'current' || phase === 'closing' ? window.total : null);
    future.push(phase === 'future' ? window.total : null);
    meta.push({ start, end: start + length, phase, total: window?.total ?? null, keys: window?.keys ?? 0 });
  }
  return { data: [xs, final, provisional, future], meta };
}
