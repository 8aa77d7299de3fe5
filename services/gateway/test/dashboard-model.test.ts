/**
 * The dashboard's logic, without a browser: the page's modules are plain ES modules, so the
 * rules an operator relies on are pinned here — the current window is the wall clock's, counts
 * ahead of the clock and quiet selections are shown for what they are, the chart keeps final,
 * provisional and future windows apart, and the table stays usable with thousands of keys.
 */
import { describe, expect, it } from 'vitest';
// The page's modules: plain JavaScript, served to browsers as they are (no build step).
import { CountBook } from '../public/dashboard/count-book.js';
import { tableRows } from '../public/dashboard/rows.js';
import { chartSeries } from '../public/dashboard/series.js';
import { summarize } from '../public/dashboard/summary.js';
import { windowPhase, windowStartAt } from '../public/dashboard/windows.js';
import { windowLabel } from '../public/dashboard/format.js';
import { clockSkewSeconds } from '../public/dashboard/clock.js';

const MINUTE = 60;
const NOW = 1_800_000_030; // 30 s into a window
const CURRENT = windowStartAt(NOW, MINUTE);

function count(account: number, store: string | null, start: number, value: number, final = false) {
  return { account_id: account, store_id: store, ts_from: start, ts_to: start + MINUTE, count: value, final };
}

function book(...messages: Array<ReturnType<typeof count>>) {
  const b = new CountBook();
  for (const message of messages) b.apply(message);
  return b;
}

describe('windows against the wall clock', () => {
  it('names each window by where the clock is, not by which has the newest data', () => {
    expect(windowPhase(CURRENT, CURRENT + MINUTE, false, NOW)).toBe('current');
    expect(windowPhase(CURRENT - MINUTE, CURRENT, false, NOW)).toBe('closing');
    expect(windowPhase(CURRENT - MINUTE, CURRENT, true, NOW)).toBe('final');
    expect(windowPhase(CURRENT + 3 * MINUTE, CURRENT + 4 * MINUTE, false, NOW)).toBe('future');
  });

  it('keeps the current window current when one visit is stamped 200 s ahead', () => {
    const b = book(count(1, 'web', CURRENT, 1_990), count(2, 'web', CURRENT, 10), count(1, 'web', windowStartAt(NOW + 200, MINUTE), 1));
    const summary = summarize(b, NOW);
    expect(summary.current).toMatchObject({ start: CURRENT, total: 2_000, keys: 2 });
    expect(summary.future).toEqual([expect.objectContaining({ start: windowStartAt(NOW + 200, MINUTE), total: 1 })]);
  });

  it('shows a quiet selection as quiet, with when it last had visits', () => {
    const fourMinutesAgo = CURRENT - 4 * MINUTE;
    const summary = summarize(book(count(352, 'web', fourMinutesAgo, 12, true)), NOW);
    expect(summary.current).toMatchObject({ start: CURRENT, total: 0, keys: 0 });
    expect(summary.quiet).toBe(true);
    expect(summary.newestWithData).toMatchObject({ start: fourMinutesAgo, total: 12 });
  });

  it('reads the last window as final or closing, and keeps the final before it for comparison', () => {
    const closing = summarize(book(count(1, 'web', CURRENT - MINUTE, 5), count(1, 'web', CURRENT - 2 * MINUTE, 4, true)), NOW);
    expect(closing.last).toMatchObject({ phase: 'closing', total: 5 });
    expect(closing.previousFinal).toMatchObject({ total: 4 });
    const final = summarize(book(count(1, 'web', CURRENT - MINUTE, 6, true), count(2, null, CURRENT - MINUTE, 1, true)), NOW);
    expect(final.last).toMatchObject({ phase: 'final', total: 7, keys: 2 });
  });

  it('labels windows with clock times that never run together', () => {
    expect(windowLabel(Date.UTC(2026, 0, 1, 11, 10) / 1000, Date.UTC(2026, 0, 1, 11, 11) / 1000)).toMatch(/^\d\d:\d\d–\d\d:\d\d$/);
  });
});

describe("the gateway's clock", () => {
  const sent = Date.UTC(2026, 0, 1, 12, 0, 0);
  it('corrects a browser clock that is minutes off, by the Date header', () => {
    // The gateway says 12:05:00 while this browser says 12:00:00.
    expect(clockSkewSeconds('Thu, 01 Jan 2026 12:05:00 GMT', sent, sent + 100)).toBeCloseTo(300.45, 2);
  });

  it('ignores differences within the header resolution and the round trip, and a missing header', () => {
    expect(clockSkewSeconds('Thu, 01 Jan 2026 12:00:01 GMT', sent, sent + 40)).toBe(0);
    expect(clockSkewSeconds(null, sent, sent + 40)).toBe(0);
  });
});

describe('the count book', () => {
  it('keeps each window total up to date as counts change and become final', () => {
    const b = book(count(1, 'web', CURRENT, 3), count(1, null, CURRENT, 2));
    b.apply(count(1, 'web', CURRENT, 5));
    expect(b.window(CURRENT)).toEqual({ start: CURRENT, end: CURRENT + MINUTE, total: 7, keys: 2, final: false });
    b.apply(count(1, 'web', CURRENT, 5, true));
    b.apply(count(1, null, CURRENT, 2, true));
    expect(b.window(CURRENT)?.final).toBe(true);
  });

  it('forgets windows older than the chart and the keys only they had', () => {
    const b = book(count(1, 'web', CURRENT - 120 * MINUTE, 3), count(2, 'web', CURRENT, 1));
    b.forgetBefore(CURRENT - 60 * MINUTE);
    expect(b.windows().map((w: { start: number }) => w.start)).toEqual([CURRENT]);
    expect(b.keys.map((k: { account_id: number }) => k.account_id)).toEqual([2]);
  });
});

describe('the chart series', () => {
  it('puts each window of the last hour in exactly one series, by its phase, and leaves gaps for windows without counts', () => {
    const b = book(
      count(1, 'web', CURRENT - 2 * MINUTE, 40, true),
      count(1, 'web', CURRENT - MINUTE, 30),
      count(1, 'web', CURRENT, 20),
      count(1, 'web', CURRENT + 3 * MINUTE, 1),
    );
    const { data, meta } = chartSeries(b, NOW);
    const [xs, final, provisional, future] = data;
    expect(xs[0]).toBe(CURRENT - 59 * MINUTE); // an hour of windows up to the current one…
    expect(xs.at(-1)).toBe(CURRENT + 3 * MINUTE); // …and on to the future window
    const at = (start: number) => xs.indexOf(start);
    expect([final[at(CURRENT - 2 * MINUTE)], provisional[at(CURRENT - 2 * MINUTE)]]).toEqual([40, null]);
    expect([final[at(CURRENT - MINUTE)], provisional[at(CURRENT - MINUTE)]]).toEqual([null, 30]);
    expect(provisional[at(CURRENT)]).toBe(20);
    expect([provisional[at(CURRENT + 3 * MINUTE)], future[at(CURRENT + 3 * MINUTE)]]).toEqual([null, 1]);
    expect([final[at(CURRENT - 10 * MINUTE)], provisional[at(CURRENT - 10 * MINUTE)]]).toEqual([null, null]);
    expect(meta[at(CURRENT - 2 * MINUTE)]).toEqual({ start: CURRENT - 2 * MINUTE, end: CURRENT - MINUTE, phase: 'final', total: 40, keys: 1 });
  });
});

describe('the table rows', () => {
  const columns = [CURRENT, CURRENT - MINUTE];
  const many = () => {
    const b = new CountBook();
    for (let account = 1; account <= 5_000; account += 1) {
      b.apply(count(account, 'web', CURRENT - MINUTE, account % 997, true));
      b.apply(count(account, 'web', CURRENT, 1));
    }
    return b;
  };

  it('shows the top N keys of the last closed window first, out of thousands', () => {
    const { rows, matched, total } = tableRows(many(), columns, { limit: 50 });
    expect([rows.length, matched, total]).toEqual([50, 5_000, 5_000]);
    expect(rows[0].cells[1]).toEqual({ count: 996, final: true });
    expect(rows.map((r: { cells: Array<{ count: number }> }) => r.cells[1]?.count)).toEqual(
      [...rows.map((r: { cells: Array<{ count: number }> }) => r.cells[1]?.count)].sort((a, b) => b - a),
    );
  });

  it('finds any key by account id or store, and sorts by any column', () => {
    const b = many();
    expect(tableRows(b, columns, { search: '4321' }).rows.map((r: { account_id: number }) => r.account_id)).toEqual([4321]);
    b.apply(count(7, 'Shop-Berlin', CURRENT, 3));
    expect(tableRows(b, columns, { search: 'berlin' }).rows).toEqual([
      expect.objectContaining({ account_id: 7, store_id: 'Shop-Berlin', cells: [{ count: 3, final: false }, null] }),
    ]);
    const byAccount = tableRows(b, columns, { sort: { by: 'account', descending: true }, limit: 2 }).rows;
    expect(byAccount.map((r: { account_id: number }) => r.account_id)).toEqual([5_000, 4_999]);
  });
});
