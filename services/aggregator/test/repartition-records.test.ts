import { describe, expect, it } from 'vitest';
import type { Visit } from '@eric/shared';
import {
  MAX_VISIT_BATCH_BYTES,
  decodeRepartitionRecord,
  decodeSource,
  encodeSourcedVisit,
  encodeSourcedVisitBatches,
  encodeVisit,
  encodeVisitBatches,
  encodeWatermark,
  sourceHeader,
} from '../src/repartition-records.js';

const visit = (i: number, store_id: string | null = `store-${i % 3}`): Visit => ({ id: `visit-${i}`, account_id: i % 11, store_id, timestamp: 1_750_000_000.125 + i });

describe('repartition records', () => {
  it('round-trips a batch of visits in order, keeping null, empty and non-ASCII stores and ids', () => {
    const visits = [visit(1), visit(2, null), visit(3, ''), { id: 'ünï-😀', account_id: 2 ** 40, store_id: 'caffè "x":y', timestamp: 1.5 }];
    const values = encodeVisitBatches(visits);
    expect(values).toHaveLength(1);
    expect(decodeRepartitionRecord(values[0])).toEqual({ kind: 'visits', visits });
  });

  it('splits a large batch into records below the size limit, losing none', () => {
    const visits = Array.from({ length: 10_000 }, (_, i) => ({ ...visit(i), id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }));
    const values = encodeVisitBatches(visits);
    expect(values.length).toBeGreaterThan(1);
    for (const value of values) expect(value.length).toBeLessThanOrEqual(MAX_VISIT_BATCH_BYTES);
    expect(values.flatMap((value) => (decodeRepartitionRecord(value) as { visits: Visit[] }).visits)).toEqual(visits);
    expect(encodeVisitBatches([])).toEqual([]);
  });

  it('gives each record the source partition and offset of each of its visits, in a header older readers ignore', () => {
    const visits = Array.from({ length: 6_000 }, (_, i) => ({ ...visit(i), id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }));
    const offsets = visits.map((_, i) => 2 ** 40 + 3 * i);
    const records = encodeSourcedVisitBatches({ source: 5, visits, offsets });
    expect(records.length).toBeGreaterThan(1);
    const read = records.map((record) => {
      const decoded = decodeRepartitionRecord(record.value) as { visits: Visit[] };
      return { visits: decoded.visits, source: decodeSource(sourceHeader([{ other: 'x' }, { 'eric.source': record.source }]), decoded.visits.length) };
    });
    expect(read.flatMap((record) => record.visits)).toEqual(visits);
    expect(read.every((record) => record.source?.partition === 5)).toBe(true);
    expect(read.flatMap((record) => record.source!.offsets)).toEqual(offsets);
    // The values are what records without the header hold.
    expect(Buffer.concat(records.map((record) => record.value))).toEqual(Buffer.concat(encodeVisitBatches(visits)));

    const single = encodeSourcedVisit(2, visit(1), 42);
    expect(decodeSource(single.source, 1)).toEqual({ partition: 2, offsets: [42] });
    // A header that does not fit its record's visits is ignored, never trusted.
    expect(decodeSource(single.source, 2)).toBeUndefined();
    expect(decodeSource(undefined, 1)).toBeUndefined();
    expect(decodeSource('text', 1)).toBeUndefined();
    expect(decodeSource(Buffer.from([9, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]), 1)).toBeUndefined();
  }, 30_000);

  it('reads the JSON records of one visit each, as aggregators before batches wrote them', () => {
    expect(decodeRepartitionRecord(encodeVisit(visit(1, null)))).toEqual({ kind: 'visits', visits: [visit(1, null)] });
    expect(decodeRepartitionRecord(encodeWatermark({ source: 2, time: null, idle: true }))).toEqual({ kind: 'watermark', watermark: { source: 2, time: null, idle: true } });
  });

  it('reports a record it cannot read instead of throwing', () => {
    const [batch] = encodeVisitBatches([visit(1)]);
    for (const value of [null, undefined, Buffer.alloc(0), Buffer.from('{not json'), Buffer.from('{"id": 1}'), Buffer.from([7, 1, 2]), batch!.subarray(0, batch!.length - 3)]) {
      expect(decodeRepartitionRecord(value)).toEqual({ kind: 'unreadable' });
    }
  });
});
