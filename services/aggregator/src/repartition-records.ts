/**
 * What travels on the repartition topic, from the repartition stage to the count stages. It is
 * Eric's own topic, so the format is Eric's choice; two kinds of records, both JSON:
 *
 *   a visit      key "account:store"   {"id", "account_id", "store_id", "timestamp"}
 *   a watermark  key "watermark:<p>"   {"watermark": {"source": p, "time": t | null, "idle": bool}}
 *
 * A watermark says: every visit of partition p of `visits` that the sender has read so far has
 * been written before this record, and the event time of partition p has reached `t` (seconds).
 * `t` is null when partition p is idle and its reader has seen no visit since it took it over:
 * nothing of p is pending, and p has no event time to give. Every repartition stage sends a
 * watermark for each partition it reads to every repartition partition, in order with the
 * visits, so each count stage learns the progress of every input partition (see
 * count/event-time.ts). This is how Flink's watermarks travel with the data.
 */
import type { Visit } from '@eric/shared';

export interface Watermark {
  /** The partition of `visits` this watermark is about. */
  source: number;
  /** Event time (epoch seconds) that the source has reached, or null: idle, no event time. */
  time: number | null;
  /** The source is read to its end and `time` includes the wall time since its newest visit. */
  idle: boolean;
}

export type RepartitionRecord = { kind: 'visit'; visit: Visit } | { kind: 'watermark'; watermark: Watermark } | { kind: 'unreadable' };

export function encodeVisit(visit: Visit): Buffer {
  // Only the contract's four fields travel on: smaller records, and nothing unvalidated.
  return Buffer.from(JSON.stringify({ id: visit.id, account_id: visit.account_id, store_id: visit.store_id, timestamp: visit.timestamp }));
}

export function watermarkKey(source: number): string {
  return `watermark:${source}`;
}

export function encodeWatermark(watermark: Watermark): Buffer {
  return Buffer.from(JSON.stringify({ watermark }));
}

/** The repartition stage writes only these two kinds; anything else is a bug upstream. */
export function decodeRepartitionRecord(value: Buffer | null | undefined): RepartitionRecord {
  if (!value) return { kind: 'unreadable' };
  try {
    const record = JSON.parse(value.toString('utf8')) as Partial<Visit> & { watermark?: Partial<Watermark> };
    if (record.watermark) {
      const { source, time, idle } = record.watermark;
      if (!Number.isInteger(source) || (time !== null && typeof time !== 'number')) return { kind: 'unreadable' };
      return { kind: 'watermark', watermark: { source: source!, time: time ?? null, idle: idle === true } };
    }
    if (typeof record.id !== 'string' || typeof record.account_id !== 'number' || typeof record.timestamp !== 'number') return { kind: 'unreadable' };
    if (record.store_id !== null && typeof record.store_id !== 'string') return { kind: 'unreadable' };
    return { kind: 'visit', visit: record as Visit };
  } catch {
    return { kind: 'unreadable' };
  }
}
