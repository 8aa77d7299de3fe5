/**
 * The changelog: every state change of a count partition, written in the same transaction as the
 * input offsets, so that state and progress can never disagree. Restoring a partition is replaying
 * its changelog partition.
 *
 * Two kinds of records:
 *
 *   key "ids/<start>/<offset>/<n>"   value: binary, the ids a batch counted in the window <start>
 *   key "close-clock"                value {"close_clock": 1732471270, "final_until": 1732471260}
 *
 * One id record per window per batch, not one per visit: a Kafka record costs the producer, the
 * broker and a restore far more than the few bytes of an id, so the ids of a batch travel
 * together. The key is unique — <offset> is the first input offset of the batch, which a committed
 * transaction never processes again, and <n> numbers the records of one window when the ids
 * exceed MAX_ID_RECORD_BYTES — so compaction never drops one.
 *
 * The value of an id record (all numbers big-endian):
 *
 *   u8  format (1)        f64 window start
 *   then per id:  f64 account_id, i32 store length in bytes (-1: null store), store (UTF-8),
 *                 u16 id length in bytes, id (UTF-8)
 *
 * Records of the first format — key ["<start>", account, store, "<visit id>"], value "1", one per
 * id — are still read, so a deployment upgrades in place: the new process restores what the old
 * one wrote. An older process cannot read the new records: downgrading means an empty state.
 *
 * `final_until` is the end up to which windows are final (close clock − the grace of the time):
 * it keeps them closed after a restart with a longer GRACE_SECONDS, which would otherwise reopen
 * the windows that closed in the last grace period and emit their finals a second time.
 *
 * The topic is `compact,delete` with a retention that follows the window: ids of closed windows
 * age out, so restore time stays bounded however old the topic gets. Restore also skips ids of
 * windows that the restored close clock says are closed, so a closed window is never resurrected.
 */
import { accountStoreIdBytes, chunksUnder, readAccountStoreId, writeAccountStoreId } from '../binary-fields.js';
import type { WindowKey } from './windows.js';

const CLOSE_CLOCK_KEY = '"close-clock"';
const ID_RECORD_PREFIX = 'ids/';
const ID_RECORD_FORMAT = 1;
/** An id record's value stays below this (Kafka's default limit for a record is 1 MB). */
export const MAX_ID_RECORD_BYTES = 256 * 1024;
const HEADER_BYTES = 1 + 8;

/** One id counted in one window. */
export interface CountedId {
  window: WindowKey;
  id: string;
}

export type ChangelogEntry =
  | { kind: 'ids'; ids: CountedId[] }
  | { kind: 'close-clock'; closeClock: number; finalUntil?: number }
  | { kind: 'unreadable'; reason: string };

/** A record to write to the changelog partition. */
export interface ChangelogRecord {
  key: string;
  value: Buffer;
}

/**
 * The records for the ids a batch counted in the window that starts at `start`, the batch's first
 * input offset being `firstOffset`: as few as fit under MAX_ID_RECORD_BYTES each.
 */
export function idRecords(start: number, firstOffset: number, ids: readonly CountedId[]): ChangelogRecord[] {
  const chunks = chunksUnder(ids, ({ window, id }) => accountStoreIdBytes(window.store_id, id), HEADER_BYTES, MAX_ID_RECORD_BYTES);
  return chunks.map(({ from, to, bytes }, n) => ({ key: `${ID_RECORD_PREFIX}${start}/${firstOffset}/${n}`, value: encodeIds(start, ids.slice(from, to), bytes) }));
}

function encodeIds(start: number, ids: readonly CountedId[], size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  let at = buffer.writeUInt8(ID_RECORD_FORMAT, 0);
  at = buffer.writeDoubleBE(start, at);
  for (const { window, id } of ids) at = writeAccountStoreId(buffer, at, window.account_id, window.store_id, id);
  return buffer;
}

function decodeIds(value: Buffer): ChangelogEntry {
  if (value.length < HEADER_BYTES || value[0] !== ID_RECORD_FORMAT) return { kind: 'unreadable', reason: `id record of unknown format ${value[0]}` };
  const start = value.readDoubleBE(1);
  const ids: CountedId[] = [];
  let at = HEADER_BYTES;
  while (at < value.length) {
    const fields = readAccountStoreId(value, at);
    if (!fields) return { kind: 'unreadable', reason: 'id record cut short' };
    ids.push({ window: { start, account_id: fields.account_id, store_id: fields.store_id }, id: fields.id });
    at = fields.next;
  }
  return { kind: 'ids', ids };
}

export function closeClockRecord(closeClock: number, finalUntil: number): ChangelogRecord {
  return { key: CLOSE_CLOCK_KEY, value: Buffer.from(JSON.stringify({ close_clock: closeClock, final_until: finalUntil })) };
}

export function decodeChangelogRecord(key: Buffer | string | null | undefined, value: Buffer | null | undefined): ChangelogEntry {
  if (key === null || key === undefined) return { kind: 'unreadable', reason: 'record without key' };
  const text = typeof key === 'string' ? key : key.toString('utf8');
  if (text.startsWith(ID_RECORD_PREFIX)) return value ? decodeIds(value) : { kind: 'unreadable', reason: 'id record without value' };
  try {
    if (text === CLOSE_CLOCK_KEY) {
      const parsed = JSON.parse(value?.toString('utf8') ?? 'null') as { close_clock?: unknown; final_until?: unknown } | null;
      const closeClock = parsed?.close_clock;
      if (typeof closeClock !== 'number') return { kind: 'unreadable', reason: 'close-clock record without a number' };
      // Records written before final_until existed: the restore assumes today's grace.
      return typeof parsed?.final_until === 'number' ? { kind: 'close-clock', closeClock, finalUntil: parsed.final_until } : { kind: 'close-clock', closeClock };
    }
    return decodeFirstFormatId(JSON.parse(text), text);
  } catch (error) {
    return { kind: 'unreadable', reason: `key or value is not JSON: ${(error as Error).message}` };
  }
}

/** A record of the first format: one id, its window in the key. */
function decodeFirstFormatId(parsed: unknown, text: string): ChangelogEntry {
  if (Array.isArray(parsed) && parsed.length === 4) {
    const [start, account_id, store_id, id] = parsed as [unknown, unknown, unknown, unknown];
    if (typeof start === 'number' && typeof account_id === 'number' && (store_id === null || typeof store_id === 'string') && typeof id === 'string') {
      return { kind: 'ids', ids: [{ window: { start, account_id, store_id }, id }] };
    }
  }
  return { kind: 'unreadable', reason: `unexpected key ${text.slice(0, 100)}` };
}
