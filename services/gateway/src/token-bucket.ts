/**
 * A token bucket: `ratePerSecond` tokens accrue up to `burst`; each event takes one. Used to
 * bound how fast one websocket client may send messages, which each cost the gateway a
 * snapshot.
 *
 * Pure: the caller passes the time, so tests need no timers.
 */
export class TokenBucket {
  #tokens: number;
  #lastMs: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    nowMs: number,
  ) {
    this.#tokens = burst;
    this.#lastMs = nowMs;
  }

  /** Takes a token if one is there at `nowMs`; false when the bucket is empty. */
  take(nowMs: number): boolean {
    const elapsedMs = Math.max(0, nowMs - this.#lastMs);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsedMs / 1000) * this.ratePerSecond);
    this.#lastMs = nowMs;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
