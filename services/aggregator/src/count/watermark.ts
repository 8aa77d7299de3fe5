/**
 * The close clock of a count partition: the time, in epoch seconds, up to which windows may be
 * closed. Windows whose end + grace is at or before it are final.
 *
 * It is driven by two sources:
 *
 * 1. **Stream time**, the largest event time seen on the partition, as in Kafka Streams. Replaying
 *    a backlog (after a crash or a rebalance) closes windows exactly where the live run would
 *    have, because the data, not the wall clock, decides. A visit's event time is capped by its
 *    arrival time in Kafka (the record timestamp), so one visit stamped in the future cannot
 *    close everybody's window early.
 *
 * 2. **The wall clock**, but only once every visit that reached Kafka before "now" has been
 *    forwarded and read (see upstream-progress.ts). That is the "quiet partition" case where
 *    Kafka Streams and Quix never close a window: Eric closes it at end + grace, with or without
 *    new traffic. While a backlog is waiting, anywhere upstream, the wall clock is ignored, so a
 *    visit that reached Kafka in time is never declared late just because Eric was slow or down.
 *
 * The clock never goes back.
 */
export class CloseClock {
  #value: number;

  constructor(initial = Number.NEGATIVE_INFINITY) {
    this.#value = initial;
  }

  get value(): number {
    return this.#value;
  }

  /** Stream time: a record with this event time (seconds) and Kafka timestamp (ms) was read. */
  observeRecord(eventTimeSeconds: number, arrivalMs: number): void {
    const capped = arrivalMs > 0 ? Math.min(eventTimeSeconds, arrivalMs / 1000) : eventTimeSeconds;
    if (capped > this.#value) this.#value = capped;
  }

  /** Wall clock: call only while the partition is caught up (see the class comment). */
  observeWallClock(nowSeconds: number, delaySeconds: number): void {
    const candidate = nowSeconds - delaySeconds;
    if (candidate > this.#value) this.#value = candidate;
  }

  /** Restores a persisted value (never moves the clock back). */
  restore(value: number): void {
    if (value > this.#value) this.#value = value;
  }
}
