/**
 * A visit that Kafka refuses to take onto the repartition topic must never be committed as
 * forwarded. The native client hands delivery reports to JavaScript after flush() returns, so a
 * stage that checks for refusals right after its flush can miss one and commit the offsets of
 * visits that were never written: they would be lost without a trace.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TopicAdmin, kafka, rdkafkaConnectionConfig } from '@eric/shared';
import { isolatedRunEnv, produceRecords, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import { AggregatorProcess, buildAggregator } from './support/aggregator-process.js';

const settings = testKafkaSettings(inject('kafkaBrokers'));
const VISITS = 300;

/** The offset the repartition stage's group committed on partition 0 of `topic` (negative: none). */
async function committedOffset(group: string, topic: string): Promise<number> {
  const consumer = new kafka.KafkaConsumer({ ...rdkafkaConnectionConfig(settings), 'group.id': group, 'enable.auto.commit': false }, {});
  await kafka.connect(consumer);
  try {
    const [entry] = await kafka.call<kafka.TopicPartitionOffset[]>('committed', 10_000, (done) => consumer.committed([{ topic, partition: 0 }], 10_000, done));
    return entry?.offset ?? -1;
  } finally {
    await kafka.disconnect(consumer);
  }
}

describe('aggregator: forwarding Kafka refuses', () => {
  let aggregator: AggregatorProcess | undefined;
  afterEach(async () => {
    await aggregator?.stop();
  });

  it('stops without committing the visits whose records the repartition topic refused', async () => {
    const prefix = uniqueName('agg-forward-refused');
    const env = { KAFKA_BROKERS: settings.brokers, ...isolatedRunEnv(prefix), WINDOW_SECONDS: '3', GRACE_SECONDS: '1', PARTITIONS: '1', VISITS_PARTITIONS: '1', AGGREGATOR_ORDINAL: '0' };
    // A repartition topic whose records may not exceed 1 000 bytes: a batch of 300 visits is refused.
    const admin = new TopicAdmin(settings);
    try {
      await admin.ensureTopics([{ name: env.TOPIC_REPARTITION, partitions: 1, config: { 'max.message.bytes': '1000' } }]);
    } finally {
      admin.close();
    }
    buildAggregator();
    aggregator = new AggregatorProcess(`${prefix}-0`, env);
    await aggregator.start();
    await aggregator.ready();

    const timestamp = Date.now() / 1000;
    // Random ids, so that compression cannot bring the batch under the limit.
    const visits = Array.from({ length: VISITS }, () => ({ value: JSON.stringify({ id: randomUUID(), account_id: 1, store_id: 's', timestamp }), partition: 0 }));
    await produceRecords(settings, env.TOPIC_VISITS, visits);

    const exit = await aggregator.exited();
    expect(exit.code).not.toBe(0);
    expect(aggregator.output()).toContain('could not forward');
    expect(await committedOffset(`${prefix}-repartition`, env.TOPIC_VISITS)).toBeLessThan(VISITS);
  });
});
