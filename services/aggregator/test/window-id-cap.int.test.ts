/**
 * The cap on distinct ids per (account, store, window), through the real broker: the final count
 * stops at the cap, the ids over it are on the dead-letter topic with the reason, exactly once —
 * packed, a few records per window and transaction, each a JSON array of the visits.
 */
import { describe, expect, inject, it } from 'vitest';
import { finalKey, finalsOf, isolatedRunEnv, produceRecords, readRecords, testKafkaSettings, uniqueName, waitForFinals } from '@eric/shared/testing';
import { AggregatorProcess, buildAggregator } from './support/aggregator-process.js';

const settings = testKafkaSettings(inject('kafkaBrokers'));
const SIZE = 3;
const CAP = 50;

describe('aggregator: AGGREGATOR_MAX_IDS_PER_WINDOW', () => {
  it('counts up to the cap and dead-letters every new id over it, packed; duplicates stay duplicates', async () => {
    const prefix = uniqueName('agg-cap');
    const env = { KAFKA_BROKERS: settings.brokers, ...isolatedRunEnv(prefix), WINDOW_SECONDS: String(SIZE), GRACE_SECONDS: '1', PARTITIONS: '1', VISITS_PARTITIONS: '1', AGGREGATOR_ORDINAL: '0', AGGREGATOR_MAX_IDS_PER_WINDOW: String(CAP) };
    buildAggregator();
    const aggregator = new AggregatorProcess(`${prefix}-0`, env);
    await aggregator.start();
    try {
      await aggregator.ready();
      const timestamp = Date.now() / 1000;
      const ids = [...Array.from({ length: 120 }, (_, i) => `v-${i}`), ...Array.from({ length: 10 }, (_, i) => `v-${i}`)];
      await produceRecords(settings, env.TOPIC_VISITS, ids.map((id) => ({ value: JSON.stringify({ id, account_id: 3, store_id: 'shop', timestamp }), partition: 0 })));

      const finals = finalsOf(await waitForFinals(settings, env.TOPIC_ACTIVE_VISITORS, 1, 30_000));
      expect(finals).toEqual(new Map([[finalKey(3, 'shop', Math.floor(timestamp / SIZE) * SIZE), CAP]]));

      const dead = await readRecords(settings, env.TOPIC_DEAD_LETTER, { partitions: [0], idleMs: 1_000 });
      const header = (record: (typeof dead)[number], name: string) => record.headers?.find((h) => name in h)?.[name]?.toString();
      const start = Math.floor(timestamp / SIZE) * SIZE;
      for (const record of dead) {
        expect(header(record, 'eric.reason')).toBe('window_id_cap');
        expect(record.key?.toString()).toBe('3:shop');
        expect([header(record, 'eric.window.start'), header(record, 'eric.window.end')]).toEqual([String(start), String(start + SIZE)]);
        expect(header(record, 'eric.source.topic')).toBe(env.TOPIC_REPARTITION);
        expect(header(record, 'eric.source.partition')).toBe('0');
        expect(Number(header(record, 'eric.source.offset'))).toBeLessThanOrEqual(Number(header(record, 'eric.source.offset.last')));
      }
      // Every refused visit as it was sent, once, in order: the records' arrays put end to end.
      const visits = dead.map((record) => JSON.parse(record.value!.toString()) as Array<{ id: string; account_id: number; store_id: string | null; timestamp: number }>);
      expect(visits.flat()).toEqual(ids.slice(CAP, 120).map((id) => ({ id, account_id: 3, store_id: 'shop', timestamp })));
      expect(dead.map((record) => Number(header(record, 'eric.visits')))).toEqual(visits.map((packed) => packed.length));
      expect(dead.length).toBeLessThan(10); // packed: a record per transaction, not one per visit
      expect(await aggregator.metric('eric_aggregator_visits_dropped_total', 'reason="window_id_cap"')).toBe(120 - CAP);
      expect(await aggregator.metric('eric_aggregator_visits_duplicate_total')).toBe(10);
    } finally {
      await aggregator.stop();
    }
  });
});
