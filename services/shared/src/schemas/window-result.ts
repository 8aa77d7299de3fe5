/**
 * A window result on the `active-visitors` topic: the unique-visit count of one
 * (account, store) in one tumbling window, written by the aggregator's count stage.
 *
 *   {"account_id": 352, "store_id": "default", "window": [1732471200, 1732471260],
 *    "count": 17, "final": true, "partition": 2, "emitted_at": 1732471270.4}
 *
 * `final: false` is a provisional count of a window that is still open; `final: true` is the
 * closing count, emitted exactly once. `partition` is the repartition partition that counted it:
 * after a rescale one key's window can be counted by two partitions, and a reader sums the latest
 * result of each.
 */
import { reject, type Validation } from './result.js';

export interface WindowResult {
  account_id: number;
  store_id: string | null;
  /** [start, end) in epoch seconds. */
  window: [number, number];
  count: number;
  final: boolean;
  /** The repartition partition whose count stage produced it. */
  partition: number;
  /** When it was emitted, epoch seconds. */
  emitted_at: number;
}

export type WindowResultRejection = 'invalid_json' | 'invalid_field';

export function parseWindowResult(raw: Buffer | string | null | undefined): Validation<WindowResult, WindowResultRejection> {
  if (raw === null || raw === undefined) return reject('invalid_json', 'empty message');
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (error) {
    return reject('invalid_json', `not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object') return reject('invalid_field', 'expected a JSON object');
  const r = value as Record<string, unknown>;
  const window = r.window;
  if (!Number.isSafeInteger(r.account_id)) return reject('invalid_field', '"account_id" must be an integer');
  if (r.store_id !== null && typeof r.store_id !== 'string') return reject('invalid_field', '"store_id" must be a string or null');
  if (!Array.isArray(window) || window.length !== 2 || !window.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    return reject('invalid_field', '"window" must be [start, end] in epoch seconds');
  }
  if (!Number.isSafeInteger(r.count) || (r.count as number) < 0) return reject('invalid_field', '"count" must be a non-negative integer');
  if (typeof r.final !== 'boolean') return reject('invalid_field', '"final" must be a boolean');
  return {
    ok: true,
    value: {
      account_id: r.account_id as number,
      store_id: r.store_id as string | null,
      window: [window[0] as number, window[1] as number],
      count: r.count as number,
      final: r.final,
      partition: Number.isSafeInteger(r.partition) ? (r.partition as number) : 0,
      emitted_at: typeof r.emitted_at === 'number' ? r.emitted_at : 0,
    },
  };
}
