import { describe, expect, it } from 'vitest';
import { MAX_ID_RECORD_BYTES, closeClockRecord, decodeChangelogRecord, idRecords, type CountedId } from '../src/count/changelog.js';

const decode = (record: { key: string; value: Buffer }) => decodeChangelogRecord(Buffer.from(record.key), record.value);

describe('changelog records', () => {
  it('round-trips the ids a batch counted in a window, keeping a null store null', () => {
    const start = 1_750_000_020;
    const ids: CountedId[] = ['default', null, '', 'with "quotes" and :colons: and ünïcode', null].map((store_id, i) => ({
      window: { start, account_id: 352 + i, store_id },
      id: `visit-${i}-ß`,
    }));
    const records = idRecords(start, 4711, ids);
    expect(records).toHaveLength(1);
    expect(records.map(decode)).toEqual([{ kind: 'ids', ids }]);
  });

  it('gives every batch and window a key of its own, so compaction never drops one', () => {
    const ids = (start: number): CountedId[] => [{ window: { start, account_id: 1, store_id: 's' }, id: 'x' }];
    const keys = [idRecords(60, 10, ids(60)), idRecords(120, 10, ids(120)), idRecords(60, 11, ids(60))].flat().map((record) => record.key);
    expect(new Set(keys).size).toBe(3);
  });

  it('splits the ids of a large batch into records below the size limit, losing none', () => {
    const ids: CountedId[] = Array.from({ length: 20_000 }, (_, i) => ({ window: { start: 60, account_id: i % 7, store_id: `store-${i % 3}` }, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }));
    const records = idRecords(60, 0, ids);
    expect(records.length).toBeGreaterThan(1);
    for (const record of records) expect(record.value.length).toBeLessThanOrEqual(MAX_ID_RECORD_BYTES);
    expect(new Set(records.map((record) => record.key)).size).toBe(records.length);
    expect(records.flatMap((record) => (decode(record) as { ids: CountedId[] }).ids)).toEqual(ids);
  });

  it('reads the records of the first format (one id per record), so a deployment upgrades in place', () => {
    const key = JSON.stringify([1_750_000_020, 352, null, 'visit-1']);
    expect(decodeChangelogRecord(Buffer.from(key), Buffer.from('1'))).toEqual({ kind: 'ids', ids: [{ window: { start: 1_750_000_020, account_id: 352, store_id: null }, id: 'visit-1' }] });
  });

  it('round-trips the close clock and the end up to which windows are final', () => {
    const record = closeClockRecord(1_750_000_090.25, 1_750_000_080.25);
    expect(decodeChangelogRecord(record.key, record.value)).toEqual({ kind: 'close-clock', closeClock: 1_750_000_090.25, finalUntil: 1_750_000_080.25 });
    // A record written before final_until existed still reads.
    expect(decodeChangelogRecord('"close-clock"', Buffer.from('{"close_clock":5}'))).toEqual({ kind: 'close-clock', closeClock: 5 });
  });

  it('reports records it cannot read instead of throwing', () => {
    expect(decodeChangelogRecord(null, null).kind).toBe('unreadable');
    expect(decodeChangelogRecord('not json', null).kind).toBe('unreadable');
    expect(decodeChangelogRecord('[1,2]', null).kind).toBe('unreadable');
    expect(decodeChangelogRecord('"close-clock"', Buffer.from('{}')).kind).toBe('unreadable');
    expect(decodeChangelogRecord('ids/60/0/0', null).kind).toBe('unreadable');
    expect(decodeChangelogRecord('ids/60/0/0', Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0])).kind).toBe('unreadable'); // unknown format
    const cut = idRecords(60, 0, [{ window: { start: 60, account_id: 1, store_id: 's' }, id: 'visit' }])[0]!.value;
    expect(decodeChangelogRecord('ids/60/0/0', cut.subarray(0, cut.length - 2)).kind).toBe('unreadable');
  });
});
