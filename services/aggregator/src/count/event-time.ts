/**
 * The event-time clock of a count partition: the time, in epoch seconds, up to which windows are
 * closed. A window closes when the clock reaches its end + grace; a visit for a closed window is
 * late. Pure; fed by the watermarks that the repartition stages send (repartition-records.ts).
 *
 * The clock is the MINIMUM, over every partition of `visits`, of how far that partition's event
 * time has come: a window closes only when every input partition has passed its end + grace, as
 * with Flink's watermarks. So a backlog replayed over many partitions, a slow partition, or a
 * repartition stage that was down gives exactly the finals of the live run, where a clock that
 * takes the largest time seen (Kafka Streams' stream time) would call the slower partitions'
 * visits late.
 *
 *   - A partition not heard from yet holds the clock back (it may hold visits of any age).
 *   - An idle partition whose reader has seen no visit of it does not count: nothing of it is
 *     pending, and it has no event time to give.
 *   - Two readers of one partition (during a rebalance) both tell the truth about what they
 *     wrote; the larger time wins.
 *
 * The clock never goes back: it starts from the value a restore found (`restore`) and only grows.
 */
import type { Watermark } from '../repartition-records.js';

type SourceTime = { time: number; idle: boolean } | 'idle';

export class EventTimeClock {
  readonly #sources = new Map<number, SourceTime>();
  #sourceCount = 0;
  #value = Number.NEGATIVE_INFINITY;
  /** Whether the clock's last move came from an idle partition's wall-clock advance. */
  #lastMoveIdle = false;

  get value(): number {
    return this.#value;
  }

  /** 'wall-clock' when idle time, not data, moved the clock last (for metrics). */
  get lastMove(): 'stream-time' | 'wall-clock' {
    return this.#lastMoveIdle ? 'wall-clock' : 'stream-time';
  }

  /** The partitions of `visits` now (it can only grow): every one of them takes part. */
  setSourceCount(count: number): void {
    this.#sourceCount = Math.max(this.#sourceCount, count);
    this.#advance();
  }

  get sourceCount(): number {
    return this.#sourceCount;
  }

  observe(watermark: Watermark): void {
    const { source, time, idle } = watermark;
    const known = this.#sources.get(source);
    if (time === null) this.#sources.set(source, 'idle');
    else if (known === undefined || known === 'idle' || time > known.time) this.#sources.set(source, { time, idle });
    this.#sourceCount = Math.max(this.#sourceCount, source + 1);
    this.#advance();
  }

  /** Restores a persisted value (never moves the clock back). */
  restore(value: number): void {
    if (value > this.#value) this.#value = value;
  }

  /** How far each partition of `visits` has come, for /ready and logs. */
  sources(): Record<number, number | 'idle' | 'unknown'> {
    const view: Record<number, number | 'idle' | 'unknown'> = {};
    for (let source = 0; source < this.#sourceCount; source++) {
      const known = this.#sources.get(source);
      view[source] = known === undefined ? 'unknown' : known === 'idle' ? 'idle' : known.time;
    }
    return view;
  }

  #advance(): void {
    let minimum = Number.POSITIVE_INFINITY;
    let minimumIdle = false;
    for (let source = 0; source < this.#sourceCount; source++) {
      const known = this.#sources.get(source);
      if (known === undefined) return; // not heard from: it holds the clock
      if (known !== 'idle' && known.time < minimum) {
        minimum = known.time;
        minimumIdle = known.idle;
      }
    }
    if (minimum !== Number.POSITIVE_INFINITY && minimum > this.#value) {
      this.#value = minimum;
      this.#lastMoveIdle = minimumIdle;
    }
  }
}
