/**
 * The changelog: every state change of a count partition, written in the same transaction as the
 * input offsets, so that state and progress can never disagree. Restoring a partition is replaying
 * its changelog partition.
 *
 * Two kinds of records, both keyed so that compaction keeps what matters:
 *
 *   key ["<start>", account, store, "<visit id>"]  value "1"     one visit id counted in a window
 *   key "close-clock"                              value {"close_clock": 1732471270, "final_until": 1732471260}

 * `final_until` is the end up to which windows are final (close clock − the grace of the time):
 * it keeps them closed after a restart with a longer GRACE_SECONDS, which would otherwise reopen
 * the windows that closed in the last grace period and emit their finals a second time.
 *
 * The topic is `compact,delete` with a retention that follows the window: ids of closed windows
 * age out, so restore time stays bounded however old the topic gets. Restore also skips ids of
 * windows that the restored close clock says are closed, so a closed window is never resurrected.
 */
import type { WindowKey } from './windows.js';

const CLOSE_CLOCK_KEY = '"close-clock"';
const ID_VALUE = Buffer.from('1');

export type ChangelogEntry =
  | { kind: 'id'; window: WindowKey; id: string }
  | { kind: 'close-clock'; closeClock: number; finalUntil?: number }
  | { kind: 'unreadable'; reason: string };

/** A record to write to the changelog partition. */
export interface ChangelogRecord {
  key: string;
  value: Buffer;
}

export function idRecord(window: WindowKey, id: string): ChangelogRecord {
  return { key: JSON.stringify([window.start, window.account_id, window.store_id, id]), value: ID_VALUE };
}

export function closeClockRecord(closeClock: number, finalUntil: number): ChangelogRecord {
  return { key: CLOSE_CLOCK_KEY, value: Buffer.from(JSON.stringify({ close_clock: closeClock, final_until: finalUntil })) };
}

export function decodeChangelogRecord(key: Buffer | string | null | undefined, value: Buffer | null | undefined): ChangelogEntry {
  if (key === null || key === undefined) return { kind: 'unreadable', reason: 'record without key' };
  const text = typeof key === 'string' ? key : key.toString('utf8');
  try {
    if (text === CLOSE_CLOCK_KEY) {
      const parsed = JSON.parse(value?.toString('utf8') ?? 'null') as { close_clock?: unknown; final_until?: unknown } | null;
      const closeClock = parsed?.close_clock;
      if (typeof closeClock !== 'number') return { kind: 'unreadable', reason: 'close-clock record without a number' };
      // Records written before final_until existed: the restore assumes today's grace.
      return typeof parsed?.final_until === 'number' ? { kind: 'close-clock', closeClock, finalUntil: parsed.final_until } : { kind: 'close-clock', closeClock };
    }
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.length === 4) {
      const [start, account_id, store_id, id] = parsed as [unknown, unknown, unknown, unknown];
      if (typeof start === 'number' && typeof account_id === 'number' && (store_id === null || typeof store_id === 'string') && typeof id === 'string') {
        return { kind: 'id', window: { start, account_id, store_id }, id };
      }
    }
    return { kind: 'unreadable', reason: `unexpected key ${text.slice(0, 100)}` };
  } catch (error) {
    return { kind: 'unreadable', reason: `key or value is not JSON: ${(error as Error).message}` };
  }
}
