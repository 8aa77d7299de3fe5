/**
 * At most one log line per kind of event per interval, and that line says how many events of its
 * kind went unlogged since the previous one. Client misbehaviour is logged this way: one client
 * sending oversized frames in a loop (or ten thousand clients dropped at once) must not fill the
 * log, yet the first occurrence and the volume stay visible. The metrics count every event.
 *
 * Pure: the caller passes the time, so tests need no timers.
 */
export type ThrottleDecision = { log: true; suppressed: number } | { log: false };

export class LogThrottle {
  readonly #intervalMs: number;
  /** Per kind: when its last line was written and how many events were swallowed since. */
  readonly #kinds = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** Whether an event of this kind may be logged now; when it may, how many were not since the last line. */
  admit(kind: string, nowMs: number): ThrottleDecision {
    const state = this.#kinds.get(kind);
    if (state && nowMs - state.loggedAt < this.#intervalMs) {
      state.suppressed += 1;
      return { log: false };
    }
    this.#kinds.set(kind, { loggedAt: nowMs, suppressed: 0 });
    return { log: true, suppressed: state?.suppressed ?? 0 };
  }
}
