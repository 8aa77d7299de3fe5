/**
 * How far the event time of each partition of `visits` that this repartition stage reads has
 * come: the watermarks it sends (see repartition-records.ts). Pure; the caller passes the time.
 *
 *   - While visits flow, a partition's event time is the largest visit timestamp read from it,
 *     each capped by the visit's arrival in Kafka (its record timestamp), so that one visit
 *     stamped in the future cannot close everybody's window early.
 *   - When the partition is read to its end (checked against Kafka), nothing of it is pending,
 *     and its event time moves on by the wall time elapsed since its newest visit was read:
 *     live traffic closes its windows on time, while old data replayed slowly is never closed
 *     early, since its event time moves only as fast as the wall clock since its last visit.
 *   - A partition taken over from another reader starts from the progress that reader committed
 *     with its offsets (see `checkpoint`), so a restart loses no event time.
 */
import type { Watermark } from '../repartition-records.js';

interface Source {
  /** Largest capped event time read, epoch seconds; null before any. */
  eventTime: number | null;
  /** When (epoch ms, this process's clock) the newest visit was read. */
  readAt: number;
}

/** What is committed with a partition's offset, as its metadata. */
export interface SourceCheckpoint {
  event_time: number;
  read_at: number;
}

export class SourceProgress {
  readonly #sources = new Map<number, Source>();

  /** `advanceWhileIdle`: false keeps an idle partition's event time where its data left it. */
  constructor(private readonly advanceWhileIdle: boolean) {}

  /** A partition this reader now owns, with what its previous reader committed (if anything). */
  takeOver(partition: number, checkpoint: SourceCheckpoint | undefined): void {
    const source = this.#sources.get(partition);
    if (!checkpoint) {
      if (!source) this.#sources.set(partition, { eventTime: null, readAt: 0 });
      return;
    }
    if (!source || source.eventTime === null || checkpoint.event_time > source.eventTime) {
      this.#sources.set(partition, { eventTime: checkpoint.event_time, readAt: Math.max(checkpoint.read_at, source?.readAt ?? 0) });
    }
  }

  release(partition: number): void {
    this.#sources.delete(partition);
  }

  owns(partition: number): boolean {
    return this.#sources.has(partition);
  }

  /** A visit with this timestamp (seconds) and record timestamp (ms) was read at `nowMs`. */
  observe(partition: number, eventTimeSeconds: number, arrivalMs: number, nowMs: number): void {
    const capped = arrivalMs > 0 ? Math.min(eventTimeSeconds, arrivalMs / 1000) : eventTimeSeconds;
    const source = this.#sources.get(partition) ?? { eventTime: null, readAt: 0 };
    source.eventTime = source.eventTime === null ? capped : Math.max(source.eventTime, capped);
    source.readAt = nowMs;
    this.#sources.set(partition, source);
  }

  /** The watermark of a partition whose visits are still being read. */
  flowing(partition: number): Watermark {
    return { source: partition, time: this.#sources.get(partition)?.eventTime ?? null, idle: false };
  }

  /** The watermark of a partition that Kafka said, at `checkedAtMs`, had nothing more to read. */
  idle(partition: number, checkedAtMs: number): Watermark {
    const source = this.#sources.get(partition);
    if (!source || source.eventTime === null) return { source: partition, time: null, idle: true };
    const elapsedSeconds = this.advanceWhileIdle ? Math.max(0, checkedAtMs - source.readAt) / 1000 : 0;
    return { source: partition, time: source.eventTime + elapsedSeconds, idle: true };
  }

  /** What to commit with the partition's offset, so that a next reader can take over from it. */
  checkpoint(partition: number): SourceCheckpoint | undefined {
    const source = this.#sources.get(partition);
    return source && source.eventTime !== null ? { event_time: source.eventTime, read_at: source.readAt } : undefined;
  }
}

export function parseSourceCheckpoint(metadata: string | null | undefined): SourceCheckpoint | undefined {
  if (!metadata) return undefined;
  try {
    const { event_time, read_at } = JSON.parse(metadata) as Partial<SourceCheckpoint>;
    return typeof event_time === 'number' && typeof read_at === 'number' ? { event_time, read_at } : undefined;
  } catch {
    return undefined;
  }
}
