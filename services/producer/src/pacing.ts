/**
 * How many visits are due now for a target rate: a token bucket. Tokens accrue at `rate` per
 * second up to `burstSeconds` worth, so a generator that was held back (a slow broker, a paused
 * process) catches up by at most that much instead of flooding Kafka with its backlog.
 *
 * Pure: the caller passes the time, so tests need no timers.
 */
export class Pacer {
  readonly rate: number;
  readonly #capacity: number;
  #tokens: number;
  #lastMs: number;

  /**
   * `rate` in visits per second; `Infinity` means no limit. `initialTokens`: a generator starts
   * with one visit due; an admission budget starts full (a new client may send its burst at once).
   */
  constructor(rate: number, nowMs: number, burstSeconds = 1, initialTokens = 1) {
    if (!(rate > 0)) throw new RangeError(`rate must be greater than 0, got ${rate}`);
    this.rate = rate;
    this.#capacity = Math.max(1, rate * burstSeconds);
    // By default the first visit goes out at once, as the original's loop did.
    this.#tokens = Math.min(this.#capacity, initialTokens);
    this.#lastMs = nowMs;
  }

  /** The number of whole visits due at `nowMs` (not yet taken). */
  due(nowMs: number): number {
    if (this.rate === Infinity) return Number.MAX_SAFE_INTEGER;
    const elapsed = Math.max(0, nowMs - this.#lastMs);
    this.#tokens = Math.min(this.#capacity, this.#tokens + (elapsed / 1000) * this.rate);
    this.#lastMs = nowMs;
    return Math.floor(this.#tokens);
  }

  /** Records that `count` visits were sent. */
  take(count: number): void {
    if (this.rate !== Infinity) this.#tokens -= count;
  }

  /** The most visits that can ever be due at once. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Milliseconds until the next visit is due, given `due()` was just called at `nowMs`. */
  msUntilNext(): number {
    return this.msUntil(1);
  }

  /** Milliseconds until `count` visits are due, given `due()` was just called. */
  msUntil(count: number): number {
    if (this.rate === Infinity || this.#tokens >= count) return 0;
    return ((count - this.#tokens) / this.rate) * 1000;
  }
}
