/**
 * What travels on the repartition topic, from the repartition stage to the count stages. It is
 * Eric's own topic, so the format is Eric's choice. Three kinds of records:
 *
 *   visits      key null               binary: the visits of one read batch bound for this partition
 *   watermark   key "watermark:<p>"    {"watermark": {"source": p, "time": t | null, "idle": bool}}
 *   one visit   key "account:store"    {"id", "account_id", "store_id", "timestamp"}   (JSON format)
 *
 * Visits travel in batches: a Kafka record costs the producer, the broker and the consumer far
 * more than the ~60 bytes of a visit, so the repartition stage sends the visits of a read batch
 * that belong to one partition as one record (or a few, each below MAX_VISIT_BATCH_BYTES). The
 * value of a visit batch (numbers big-endian):
 *
 *   u8 format (1), then per visit: f64 timestamp, f64 account_id,
 *   i32 store length in bytes (-1: null store), store (UTF-8), u16 id length in bytes, id (UTF-8)
 *
 * The format byte tells a batch from JSON (which starts with "{"). Count stages read all three
 * kinds, so during a rolling upgrade from a version that wrote one JSON record per visit, nothing
 * is lost. Older count stages read only JSON: REPARTITION_FORMAT=json makes the repartition stage
 * write it, for the first step of such an upgrade (docs/aggregator.md).
 *
 * A watermark says: every visit of partition p of `visits` that the sender has read so far has
 * been written before this record, and the event time of partition p has reached `t` (seconds).
 * `t` is null when partition p is idle and its reader has seen no visit since it took it over:
 * nothing of p is pending, and p has no event time to give. Every repartition stage sends a
 * watermark for each partition it reads to every repartition partition, in order with the
 * visits, so each count stage learns the progress of every input partition (see
 * count/event-time.ts). This is how Flink's watermarks travel with the data.
 *
 * Where its visits were read: a record of visits (either format) carries the header
 * `eric.source` — which partition of `visits` they come from and each one's offset there, so
 * the records of a batch are split by source partition too. The value stays as it was, so a
 * count stage that does not know the header reads the record as before. The header (numbers
 * big-endian):
 *
 *   u8 format (1), i32 source partition, then per visit, in the value's order: f64 offset
 *
 * With it the count stage can tell a visit forwarded again (the repartition stage is at least
 * once: a rebalance or a crash forwards the visits read since the last commit once more) from a
 * visit it has never seen — see count/source-offsets.ts.
 */
import type { Visit } from '@eric/shared';
import { accountStoreIdBytes, chunksUnder, readAccountStoreId, writeAccountStoreId } from './binary-fields.js';

export interface Watermark {
  /** The partition of `visits` this watermark is about. */
  source: number;
  /** Event time (epoch seconds) that the source has reached, or null: idle, no event time. */
  time: number | null;
  /** The source is read to its end and `time` includes the wall time since its newest visit. */
  idle: boolean;
}

export type RepartitionRecord = { kind: 'visits'; visits: Visit[] } | { kind: 'watermark'; watermark: Watermark } | { kind: 'unreadable' };

/** How visits are written: batched (binary) or, for readers older than batches, one JSON record each. */
export type RepartitionFormat = 'batch' | 'json';

const VISIT_BATCH_FORMAT = 1;
/** A visit batch's value stays below this (Kafka's default limit for a record is 1 MB). */
export const MAX_VISIT_BATCH_BYTES = 256 * 1024;
const JSON_OBJECT = '{'.charCodeAt(0);

/** The values of the records that carry `visits`, in order, each below MAX_VISIT_BATCH_BYTES. */
export function encodeVisitBatches(visits: readonly Visit[]): Buffer[] {
  const chunks = chunksUnder(visits, (visit) => 8 + accountStoreIdBytes(visit.store_id, visit.id), 1, MAX_VISIT_BATCH_BYTES);
  return chunks.map(({ from, to, bytes }) => encodeVisitBatch(visits, from, to, bytes));
}

function encodeVisitBatch(visits: readonly Visit[], from: number, to: number, size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  let at = buffer.writeUInt8(VISIT_BATCH_FORMAT, 0);
  for (let i = from; i < to; i++) {
    const { id, account_id, store_id, timestamp } = visits[i]!;
    at = writeAccountStoreId(buffer, buffer.writeDoubleBE(timestamp, at), account_id, store_id, id);
  }
  return buffer;
}

function decodeVisitBatch(value: Buffer): RepartitionRecord {
  const visits: Visit[] = [];
  let at = 1;
  while (at + 8 <= value.length) {
    const timestamp = value.readDoubleBE(at);
    const fields = readAccountStoreId(value, at + 8);
    if (!fields) return { kind: 'unreadable' };
    visits.push({ id: fields.id, account_id: fields.account_id, store_id: fields.store_id, timestamp });
    at = fields.next;
  }
  if (at !== value.length) return { kind: 'unreadable' };
  return { kind: 'visits', visits };
}

/** Visits read from one partition of `visits`, with each one's offset there. */
export interface SourcedVisits {
  source: number;
  visits: readonly Visit[];
  offsets: readonly number[];
}

/** Where the visits of a record were read: a partition of `visits`, and each visit's offset there. */
export interface VisitSource {
  partition: number;
  offsets: number[];
}

/** A record of the repartition topic as the repartition stage writes it. */
export interface VisitRecord {
  value: Buffer;
  /** The `eric.source` header's value. */
  source: Buffer;
}

export const SOURCE_HEADER = 'eric.source';
const SOURCE_FORMAT = 1;

/** The records that carry visits of one source partition, each below MAX_VISIT_BATCH_BYTES, with their source header. */
export function encodeSourcedVisitBatches({ source, visits, offsets }: SourcedVisits): VisitRecord[] {
  const chunks = chunksUnder(visits, (visit) => 8 + accountStoreIdBytes(visit.store_id, visit.id), 1, MAX_VISIT_BATCH_BYTES);
  return chunks.map(({ from, to, bytes }) => ({ value: encodeVisitBatch(visits, from, to, bytes), source: encodeSource(source, offsets.slice(from, to)) }));
}

/** One visit as one JSON record (REPARTITION_FORMAT=json), with its source header. */
export function encodeSourcedVisit(source: number, visit: Visit, offset: number): VisitRecord {
  return { value: encodeVisit(visit), source: encodeSource(source, [offset]) };
}

function encodeSource(partition: number, offsets: readonly number[]): Buffer {
  const buffer = Buffer.allocUnsafe(5 + 8 * offsets.length);
  let at = buffer.writeUInt8(SOURCE_FORMAT, 0);
  at = buffer.writeInt32BE(partition, at);
  for (const offset of offsets) at = buffer.writeDoubleBE(offset, at);
  return buffer;
}

/**
 * The source of a record's `visits` visits, from its `eric.source` header; undefined when there
 * is none (a record written before the header) or it does not fit them (then the visits are
 * counted as visits of unknown source, as before the header).
 */
export function decodeSource(header: Buffer | string | undefined, visits: number): VisitSource | undefined {
  if (!Buffer.isBuffer(header) || visits < 1 || header.length !== 5 + 8 * visits || header[0] !== SOURCE_FORMAT) return undefined;
  const partition = header.readInt32BE(1);
  const offsets: number[] = [];
  for (let at = 5; at < header.length; at += 8) offsets.push(header.readDoubleBE(at));
  if (partition < 0 || !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0)) return undefined;
  return { partition, offsets };
}

/** The `eric.source` header among a consumed record's headers. */
export function sourceHeader(headers: ReadonlyArray<Readonly<Record<string, Buffer | string>>> | undefined): Buffer | string | undefined {
  if (!headers) return undefined;
  for (const header of headers) if (SOURCE_HEADER in header) return header[SOURCE_HEADER];
  return undefined;
}

/** One visit as one JSON record (REPARTITION_FORMAT=json): only the contract's four fields. */
export function encodeVisit(visit: Visit): Buffer {
  return Buffer.from(visitJson(visit));
}

/** A visit as JSON text: the contract's four fields, as `visits` takes them. */
export function visitJson(visit: Visit): string {
  return JSON.stringify({ id: visit.id, account_id: visit.account_id, store_id: visit.store_id, timestamp: visit.timestamp });
}

export function watermarkKey(source: number): string {
  return `watermark:${source}`;
}

export function encodeWatermark(watermark: Watermark): Buffer {
  return Buffer.from(JSON.stringify({ watermark }));
}

/** The repartition stage writes only these kinds; anything else is a bug upstream. */
export function decodeRepartitionRecord(value: Buffer | null | undefined): RepartitionRecord {
  if (!value || value.length === 0) return { kind: 'unreadable' };
  if (value[0] === VISIT_BATCH_FORMAT) return decodeVisitBatch(value);
  if (value[0] !== JSON_OBJECT) return { kind: 'unreadable' };
  try {
    const record = JSON.parse(value.toString('utf8')) as Partial<Visit> & { watermark?: Partial<Watermark> };
    if (record.watermark) {
      const { source, time, idle } = record.watermark;
      if (!Number.isInteger(source) || (time !== null && typeof time !== 'number')) return { kind: 'unreadable' };
      return { kind: 'watermark', watermark: { source: source!, time: time ?? null, idle: idle === true } };
    }
    if (typeof record.id !== 'string' || typeof record.account_id !== 'number' || typeof record.timestamp !== 'number') return { kind: 'unreadable' };
    if (record.store_id !== null && typeof record.store_id !== 'string') return { kind: 'unreadable' };
    return { kind: 'visits', visits: [record as Visit] };
  } catch {
    return { kind: 'unreadable' };
  }
}
