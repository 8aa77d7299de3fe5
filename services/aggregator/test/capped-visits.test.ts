/** The refused visits of a batch, packed per window into dead-letter records under 256 KiB. */
import { describe, expect, it } from 'vitest';
import type { Visit } from '@eric/shared';
import { CappedVisits, MAX_CAPPED_RECORD_BYTES, type CappedRecord } from '../src/count/capped-visits.js';
import type { WindowKey } from '../src/count/windows.js';

const shop: WindowKey = { account_id: 3, store_id: 'shop', start: 60 };
const visit = (id: string, store_id: string | null = 'shop'): Visit => ({ id, account_id: 3, store_id, timestamp: 61.5 });
const visitsOf = (record: CappedRecord) => JSON.parse(record.value.toString()) as Visit[];

describe('CappedVisits', () => {
  it('packs the visits of a window into one JSON array, in order, with the offsets that carried them', () => {
    const capped = new CappedVisits();
    capped.add(shop, visit('a'), 7);
    capped.add(shop, visit('b'), 7);
    capped.add(shop, visit('c'), 9);
    expect(capped.visits).toBe(3);
    const [record, ...others] = capped.records();
    expect(others).toEqual([]);
    expect(record).toMatchObject({ window: shop, visits: 3, firstOffset: 7, lastOffset: 9 });
    expect(visitsOf(record!)).toEqual([visit('a'), visit('b'), visit('c')]);
  });

  it('keeps windows apart: the null store, another store, another window', () => {
    const capped = new CappedVisits();
    const windows: WindowKey[] = [shop, { ...shop, store_id: null }, { ...shop, store_id: 'null' }, { ...shop, start: 120 }];
    windows.forEach((window, i) => capped.add(window, visit(`v${i}`, window.store_id), i));
    capped.add(shop, visit('again'), 4);
    const records = capped.records();
    expect(records.map((record) => [record.window, record.visits])).toEqual(windows.map((window, i) => [window, i === 0 ? 2 : 1]));
  });

  it('starts a new record before one would pass 256 KiB, and loses no visit', () => {
    const capped = new CappedVisits();
    const count = 10_000; // ~80 bytes of JSON each: about three records
    for (let i = 0; i < count; i++) capped.add(shop, visit(`visit-${String(i).padStart(12, '0')}`), 100 + Math.floor(i / 1000));
    const records = capped.records();
    expect(records.length).toBeGreaterThan(2);
    for (const record of records) {
      expect(record.value.length).toBeLessThanOrEqual(MAX_CAPPED_RECORD_BYTES);
      expect(visitsOf(record)).toHaveLength(record.visits);
    }
    // The full records are nearly full: few records, not one per visit.
    expect(records[0]!.value.length).toBeGreaterThan(MAX_CAPPED_RECORD_BYTES - 200);
    expect(records.flatMap(visitsOf).map(({ id }) => id)).toEqual(Array.from({ length: count }, (_, i) => `visit-${String(i).padStart(12, '0')}`));
    expect(records.map(({ firstOffset, lastOffset }) => firstOffset <= lastOffset)).not.toContain(false);
    expect(records[0]!.firstOffset).toBe(100);
    expect(records.at(-1)!.lastOffset).toBe(109);
  });

  it('gives a visit larger than a record a record of its own', () => {
    const capped = new CappedVisits();
    capped.add(shop, visit('small'), 1);
    capped.add(shop, visit('x'.repeat(MAX_CAPPED_RECORD_BYTES)), 2);
    capped.add(shop, visit('after'), 3);
    expect(capped.records().map(visitsOf).map((visits) => visits.map(({ id }) => id.slice(0, 5)))).toEqual([['small'], ['xxxxx'], ['after']]);
  });

  it('hands its records over once', () => {
    const capped = new CappedVisits();
    capped.add(shop, visit('a'), 1);
    expect(capped.records()).toHaveLength(1);
    expect(capped.records()).toEqual([]);
  });
});
