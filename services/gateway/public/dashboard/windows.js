/**
 * Where a window stands against the wall clock. The *current* window is the one the clock is in
 * now, not the newest window that has data: one visit stamped a few minutes ahead (the visit
 * contract allows up to +300 s) opens a future window, and a quiet account may have nothing in
 * the current one. Windows are [start, end) in epoch seconds, aligned to the epoch as the
 * aggregator aligns them.
 */

/** The gateway's default window length, used until a count tells the real one. */
export const DEFAULT_WINDOW_SECONDS = 60;

/** Start of the window that contains `nowSeconds`. */
export function windowStartAt(nowSeconds, windowSeconds) {
  return Math.floor(nowSeconds / windowSeconds) * windowSeconds;
}

/**
 * The phase of a window: `final` (its closing count is in), `current` (the clock is in it),
 * `closing` (it has ended; the final count comes after the grace period), `future` (it starts
 * after now: its visits carry timestamps ahead of this clock).
 */
export function windowPhase(start, end, final, nowSeconds) {
  if (final) return 'final';
  if (start > nowSeconds) return 'future';
  if (end > nowSeconds) return 'current';
  return 'closing';
}
