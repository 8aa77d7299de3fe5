/**
 * The figures at the top of the page, from the wall clock and the counts: the current window
 * (even when it has no visit yet), the last window that has ended (final, or still closing) with
 * the one before it for comparison, windows ahead of the clock, and how long a quiet selection
 * has been quiet. Pure: the caller passes the time.
 */
import { windowPhase, windowStartAt } from './windows.js';

export function summarize(book, nowSeconds) {
  const length = book.windowSeconds;
  const currentStart = windowStartAt(nowSeconds, length);
  const current = book.window(currentStart) ?? { start: currentStart, end: currentStart + length, total: 0, keys: 0, final: false };
  const lastStart = currentStart - length;
  const last = book.window(lastStart) ?? { start: lastStart, end: currentStart, total: 0, keys: 0, final: false };
  const previous = book.window(lastStart - length);
  const held = book.windows();
  const future = held.filter((window) => window.start > nowSeconds);
  const newestPast = held.filter((window) => window.start <= nowSeconds).at(-1);
  return {
    current: { ...current, phase: 'current' },
    last: { ...last, phase: windowPhase(last.start, last.end, last.final, nowSeconds) },
    previousFinal: previous?.final ? previous : undefined,
    future,
    /** The newest window at or before now that has any count (undefined when none is held). */
    newestWithData: newestPast,
    quiet: current.keys === 0,
  };
}
