import type { WindowResult } from '@eric/shared';
import { describe, expect, it } from 'vitest';
import { Collator } from '../src/collator.js';

const NOW = 1_732_471_300;

function result(overrides: Partial<WindowResult> = {}): WindowResult {
  return {
    account_id: 1,
    store_id: 'web',
    window: [1_732_471_200, 1_732_471_260],
    count: 1,
    final: false,
    partition: 0,
    emitted_at: NOW,
    ...overrides,
  };
}

function collator(options: { retentionSeconds?: number; maxKeys?: number } = {}) {
  return new Collator({ retentionSeconds: options.retentionSeconds ?? 3600, maxKeys: options.maxKeys ?? 1000 });
}

describe('Collator', () => {
  it('shows the latest count of a key in the original message shape plus final', () => {
    const c = collator();
    c.apply(result({ count: 3 }), NOW);
    const outcome = c.apply(result({ count: 5 }), NOW);
    expect(outcome).toEqual({
      changed: true,
      view: { account_id: 1, store_id: 'web', ts_from: 1_732_471_200, ts_to: 1_732_471_260, count: 5, final: false },
    });
    expect(c.snapshot().views).toEqual([outcome.changed && outcome.view]);
    expect(c.size).toBe(1);
  });

  it('lets a final count supersede provisional ones, and ignores a provisional that arrives after it', () => {
    const c = collator();
    c.apply(result({ count: 4 }), NOW);
    expect(c.apply(result({ count: 6, final: true }), NOW)).toMatchObject({ changed: true, view: { count: 6, final: true } });
    expect(c.apply(result({ count: 5, final: false }), NOW)).toEqual({ changed: false, reason: 'stale_provisional' });
    expect(c.snapshot().views).toMatchObject([{ count: 6, final: true }]);
  });

  it('reports a repeated identical result as unchanged, so no frame goes out for it', () => {
    const c = collator();
    expect(c.apply(result({ count: 2 }), NOW).changed).toBe(true);
    expect(c.apply(result({ count: 2 }), NOW)).toEqual({ changed: false, reason: 'unchanged' });
  });

  it('shows a new key even when its first count is 0', () => {
    expect(collator().apply(result({ count: 0 }), NOW)).toMatchObject({ changed: true, view: { count: 0 } });
  });

  it('sums the latest count of each source partition after a rescale, final only when all are final', () => {
    const c = collator();
    c.apply(result({ partition: 0, count: 3 }), NOW);
    c.apply(result({ partition: 0, count: 4 }), NOW); // replaces partition 0's 3
    expect(c.apply(result({ partition: 2, count: 2 }), NOW)).toMatchObject({ changed: true, view: { count: 6, final: false } });
    // Partition 0 closes; partition 2 is still open, so the sum is still provisional and unchanged.
    expect(c.apply(result({ partition: 0, count: 4, final: true }), NOW)).toEqual({ changed: false, reason: 'unchanged' });
    expect(c.apply(result({ partition: 2, count: 3, final: true }), NOW)).toMatchObject({ changed: true, view: { count: 7, final: true } });
  });

  it('keeps keys apart by account, store (null is not "null") and window', () => {
    const c = collator();
    c.apply(result({ account_id: 1, store_id: null, count: 1 }), NOW);
    c.apply(result({ account_id: 1, store_id: 'null', count: 2 }), NOW);
    c.apply(result({ account_id: 2, store_id: null, count: 3 }), NOW);
    c.apply(result({ account_id: 1, store_id: null, window: [1_732_471_260, 1_732_471_320], count: 4 }), NOW);
    expect(c.size).toBe(4);
    expect(c.snapshot().views.map((v) => [v.account_id, v.store_id, v.ts_from, v.count])).toEqual([
      [1, null, 1_732_471_200, 1],
      [1, 'null', 1_732_471_200, 2],
      [2, null, 1_732_471_200, 3],
      [1, null, 1_732_471_260, 4],
    ]);
  });

  it('snapshots the most recent windows only, oldest first, through a filter', () => {
    const c = collator();
    for (let w = 0; w < 5; w += 1) {
      const start = 1_732_471_000 + w * 60;
      c.apply(result({ account_id: 1, window: [start, start + 60], count: w }), NOW);
      c.apply(result({ account_id: 2, window: [start, start + 60], count: 10 + w }), NOW);
    }
    const recent = c.snapshot((v) => v.account_id === 2, 2).views;
    expect(recent.map((v) => [v.account_id, v.ts_from, v.count])).toEqual([
      [2, 1_732_471_180, 13],
      [2, 1_732_471_240, 14],
    ]);
  });

  it('evicts windows that ended longer ago than the retention, and ignores results for them', () => {
    const c = collator({ retentionSeconds: 600 });
    c.apply(result({ window: [NOW - 700, NOW - 640] }), NOW - 100); // current when it arrived
    c.apply(result({ window: [NOW - 120, NOW - 60] }), NOW);
    expect(c.size).toBe(2);
    expect(c.evictExpired(NOW)).toBe(1);
    expect(c.size).toBe(1);
    expect(c.snapshot().views.map((v) => v.ts_from)).toEqual([NOW - 120]);
    expect(c.apply(result({ window: [NOW - 700, NOW - 640] }), NOW)).toEqual({ changed: false, reason: 'expired' });
  });

  it('holds at most maxKeys entries, dropping the oldest windows first', () => {
    const c = collator({ maxKeys: 3 });
    const windows: Array<[number, number]> = [
      [NOW - 180, NOW - 120],
      [NOW - 120, NOW - 60],
      [NOW - 60, NOW],
    ];
    // Arrival order differs from window order: eviction still goes by window start.
    c.apply(result({ window: windows[1]!, account_id: 1 }), NOW);
    c.apply(result({ window: windows[0]!, account_id: 1 }), NOW);
    c.apply(result({ window: windows[2]!, account_id: 1 }), NOW);
    c.apply(result({ window: windows[2]!, account_id: 2 }), NOW);
    expect(c.size).toBe(3);
    expect(c.snapshot().views.map((v) => [v.ts_from, v.account_id])).toEqual([
      [NOW - 120, 1],
      [NOW - 60, 1],
      [NOW - 60, 2],
    ]);
  });

  it('changes its version exactly when a snapshot would change', () => {
    const c = collator({ retentionSeconds: 600 });
    const v0 = c.version;
    c.apply(result({ count: 1 }), NOW);
    const v1 = c.version;
    expect(v1).not.toBe(v0);
    c.apply(result({ count: 1 }), NOW); // unchanged
    expect(c.version).toBe(v1);
    c.evictExpired(NOW + 10_000);
    expect(c.version).not.toBe(v1);
  });

  it('hands out snapshots that later changes do not alter', () => {
    const c = collator();
    c.apply(result({ count: 1 }), NOW);
    const before = c.snapshot().views;
    c.apply(result({ count: 2 }), NOW);
    expect(before[0]?.count).toBe(1);
  });
  it('snapshots a window of 200 000 keys, and caps a snapshot at the newest maxKeys views', () => {
    const c = collator({ maxKeys: 300_000 });
    const crowded: [number, number] = [NOW - 60, NOW];
    c.apply(result({ account_id: 0, window: [NOW - 120, NOW - 60] }), NOW);
    for (let account = 1; account <= 200_000; account += 1) c.apply(result({ account_id: account, window: crowded }), NOW);

    const whole = c.snapshot();
    expect(whole.truncated).toBe(false);
    expect(whole.views).toHaveLength(200_001);
    expect(whole.views[0]).toMatchObject({ account_id: 0, ts_from: NOW - 120 });

    // The newest window is kept first; the cut goes by key order inside it, and says so.
    const capped = c.snapshot(undefined, Infinity, 1_000);
    expect(capped.truncated).toBe(true);
    expect(capped.views).toHaveLength(1_000);
    expect(capped.views.every((v) => v.ts_from === NOW - 60)).toBe(true);
    expect(capped.views.at(-1)?.account_id).toBe(1_000);
    expect(c.snapshot(undefined, Infinity, 200_001).truncated).toBe(false);
  });
});
