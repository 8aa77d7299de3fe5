/** Window results as written to `active-visitors`. */
import { repartitionKey, type WindowResult } from '@eric/shared';
import type { OpenWindow } from './window-store.js';
import type { WindowSpec } from './windows.js';

export function windowResult(window: OpenWindow, spec: WindowSpec, final: boolean, partition: number, nowSeconds: number): WindowResult {
  return {
    account_id: window.account_id,
    store_id: window.store_id,
    window: [window.start, window.start + spec.sizeSeconds],
    count: window.ids.size,
    final,
    partition,
    emitted_at: nowSeconds,
  };
}

/**
 * A result as the record written to `active-visitors`, keyed by the (account, store) it counts,
 * as on the repartition topic. The topic has one partition, so the key does not route; it lets a
 * reader or a compacted copy group by key.
 */
export function resultRecord(result: WindowResult): { key: string; value: Buffer } {
  return { key: repartitionKey(result), value: Buffer.from(JSON.stringify(result)) };
}
