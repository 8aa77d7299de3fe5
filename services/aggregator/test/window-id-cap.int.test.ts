/**
 * The cap on distinct ids per (account, store, window), through the real broker: the final count
 * stops at the cap, the ids over it are on the dead-letter topic with the reason, exactly once.
 */
import { describe, expect, inject, it } from 'vitest';
import { finalKey, finalsOf, isolatedRunEnv, produceRecords, readRecords, testKafkaSettings, uniqueName, waitForFinals } from '@eric/shared/testing';
import { AggregatorProcess, buildAggregator } from './support/aggregator-process.js';

const settings = testKafkaSettings(inject('kafkaBrokers'));
const SIZE = 3;
const CAP = 50;

describe('aggregator: AGGREGATOR_MAX_IDS_PER_WINDOW', () => {
  it('counts up to the cap and dead-letters every new id over it; duplicates stay duplicates', async () => {
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
      expect(dead.map((record) => header(record, 'eric.reason'))).toEqual(Array(120 - CAP).fill('window_id_cap'));
      expect(dead.map((record) => (JSON.parse(record.value!.toString()) as { id: string }).id)).toEqual(ids.slice(CAP, 120));
      expect(header(dead[0]!, 'eric.source.topic')).toBe(env.TOPIC_REPARTITION);
      expect(await aggregator.metric('eric_aggregator_visits_dropped_total', 'reason="window_id_cap"')).toBe(120 - CAP);
      expect(await aggregator.metric('eric_aggregator_visits_duplicate_total')).toBe(10);
    } finally {
      await aggregator.stop();
    }
  });
});
