/**
 * Event time you can trust: a window closes only when every partition of `visits` has passed its
 * end + grace (watermarks), so how the visits reach the aggregator — a backlog over many
 * partitions with one read slower, a stage stopped for longer than the grace period, year-old
 * visits replayed at a trickle — changes nothing in the finals. Each case is one that a clock
 * taking the largest time seen (Kafka Streams' stream time), or closing on "now", gets wrong.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TopicAdmin } from '@eric/shared';
import { finalKey, finalsOf, isolatedRunEnv, produceRecords, readResults, testKafkaSettings, uniqueName, waitForFinals, type OutgoingRecord } from '@eric/shared/testing';
import { AggregatorProcess, buildAggregator, sleep } from './support/aggregator-process.js';
import type { ModelVisit } from './support/model.js';

const settings = testKafkaSettings(inject('kafkaBrokers'));
let running: AggregatorProcess[] = [];
afterEach(async () => {
  await Promise.all(running.map((aggregator) => aggregator.stop()));
  running = [];
});

async function startAggregators(prefix: string, count: number, env: Record<string, string>): Promise<AggregatorProcess[]> {
  buildAggregator();
  const common = { KAFKA_BROKERS: settings.brokers, ...isolatedRunEnv(prefix), PARTITIONS: String(count), ...env };
  running = Array.from({ length: count }, (_, i) => new AggregatorProcess(`${prefix}-${i}`, { ...common, AGGREGATOR_ORDINAL: String(i) }));
  await Promise.all(running.map((aggregator) => aggregator.start()));
  await Promise.all(running.map((aggregator) => aggregator.ready(90_000)));
  return running;
}

async function createVisitsTopic(prefix: string, partitions: number): Promise<void> {
  const admin = new TopicAdmin(settings);
  await admin.ensureTopics([{ name: `${prefix}-visits`, partitions, config: { 'message.timestamp.type': 'LogAppendTime' } }]);
  admin.close();
}

/** Every distinct id per (account, store, window): the finals when no visit is late. */
function distinctIds(visits: ModelVisit[], size: number): Map<string, number> {
  const ids = new Map<string, Set<string>>();
  for (const visit of visits) {
    const key = finalKey(visit.account_id, visit.store_id, Math.floor(visit.timestamp / size) * size);
    if (!ids.has(key)) ids.set(key, new Set());
    ids.get(key)!.add(visit.id);
  }
  return new Map([...ids].map(([key, set]) => [key, set.size]));
}

async function lateDrops(aggregators: AggregatorProcess[]): Promise<number> {
  const counts = await Promise.all(aggregators.map((aggregator) => aggregator.metric('eric_aggregator_visits_dropped_total', 'reason="late"')));
  return counts.reduce((a, b) => a + b, 0);
}

/** A deterministic random source, so that a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

describe('event time over every input partition', () => {
  it('gives exact finals for a backlog of 210 000 visits on 4 partitions, one four times fuller and so read slower', async () => {
    const SIZE = 10;
    const GRACE = 5;
    const prefix = uniqueName('et-backlog');
    await createVisitsTopic(prefix, 4);
    const random = seeded(7);
    const windows = 40;
    const start = Math.floor(Date.now() / 1000 / SIZE) * SIZE - (windows + 6) * SIZE;
    // Per partition, visits in time order with a jitter well inside the grace: none is late
    // within its own partition. Partition 0 gets four times as many.
    const records: OutgoingRecord[] = [];
    const visits: ModelVisit[] = [];
    for (const [partition, count] of [[0, 120_000], [1, 30_000], [2, 30_000], [3, 30_000]] as const) {
      for (let i = 0; i < count; i++) {
        const resent = i > 0 && random() < 0.1;
        const visit: ModelVisit = resent
          ? visits[visits.length - 1 - Math.floor(random() * Math.min(50, i))]!
          : { id: `p${partition}-${i}`, account_id: 1 + Math.floor(random() * 5), store_id: ['a', 'b', null][Math.floor(random() * 3)]!, timestamp: start + (i / count) * windows * SIZE + (random() - 0.5) * 3 };
        visits.push(visit);
        records.push({ value: JSON.stringify(visit), partition });
      }
    }
    for (let i = 0; i < records.length; i += 20_000) await produceRecords(settings, `${prefix}-visits`, records.slice(i, i + 20_000));

    const aggregators = await startAggregators(prefix, 2, { WINDOW_SECONDS: String(SIZE), GRACE_SECONDS: String(GRACE), VISITS_PARTITIONS: '4' });
    const expected = distinctIds(visits, SIZE);
    await waitForFinals(settings, `${prefix}-active-visitors`, expected.size, 120_000);
    const finals = finalsOf(await readResults(settings, `${prefix}-active-visitors`)); // throws on a second final
    expect(finals).toEqual(expected);
    expect(await lateDrops(aggregators)).toBe(0);
  }, 240_000);

  it('stays exact when one aggregator is stopped (SIGSTOP) for three times the grace period under live traffic', async () => {
    const SIZE = 4;
    const GRACE = 4;
    const prefix = uniqueName('et-stop');
    await createVisitsTopic(prefix, 4);
    const aggregators = await startAggregators(prefix, 2, { WINDOW_SECONDS: String(SIZE), GRACE_SECONDS: String(GRACE), VISITS_PARTITIONS: '4' });
    const visits: ModelVisit[] = [];
    let n = 0;
    const send = async () => {
      const batch = Array.from({ length: 20 }, (_, i) => ({ id: `v${n++}`, account_id: 1 + (n % 4), store_id: n % 3 ? 's' : null, timestamp: Date.now() / 1000 }));
      await produceRecords(settings, `${prefix}-visits`, batch.map((visit, i) => ({ value: JSON.stringify(visit), partition: i % 4 })));
      visits.push(...batch);
    };
    const trafficFor = async (ms: number) => {
      for (const until = Date.now() + ms; Date.now() < until; await sleep(100)) await send();
    };
    await trafficFor(3_000);
    // Its repartition stage holds two partitions of visits; its count stage one partition.
    aggregators[1]!.kill('SIGSTOP');
    try {
      await trafficFor(3 * GRACE * 1000);
    } finally {
      aggregators[1]!.kill('SIGCONT');
    }
    await trafficFor(3_000);
    const expected = distinctIds(visits, SIZE);
    await waitForFinals(settings, `${prefix}-active-visitors`, expected.size, 90_000);
    expect(finalsOf(await readResults(settings, `${prefix}-active-visitors`))).toEqual(expected);
    expect(await lateDrops(aggregators)).toBe(0);
  }, 180_000);

  it('gives exact finals for year-old visits trickled at 1 000/s with pauses of half the grace period', async () => {
    const SIZE = 4;
    const GRACE = 4;
    const prefix = uniqueName('et-old');
    await createVisitsTopic(prefix, 2);
    const aggregators = await startAggregators(prefix, 1, { WINDOW_SECONDS: String(SIZE), GRACE_SECONDS: String(GRACE), VISITS_PARTITIONS: '2' });
    const yearAgo = Math.floor((Date.now() / 1000 - 365 * 24 * 3600) / SIZE) * SIZE;
    const visits: ModelVisit[] = [];
    // Ten bursts; each is 1 000 visits sent over one second, covering 3 s of (old) event time,
    // then a pause of GRACE / 2. Closing on "now" would make everything after the first pause late.
    for (let burst = 0; burst < 10; burst++) {
      for (let slice = 0; slice < 10; slice++) {
        const batch = Array.from({ length: 100 }, (_, i) => {
          const index = burst * 1000 + slice * 100 + i;
          return { id: `old-${index % 9000}`, account_id: 1 + (index % 3), store_id: null, timestamp: yearAgo + index * 0.003 };
        });
        await produceRecords(settings, `${prefix}-visits`, batch.map((visit, i) => ({ value: JSON.stringify(visit), partition: i % 2 })));
        visits.push(...batch);
        await sleep(100);
      }
      await sleep((GRACE / 2) * 1000);
    }
    const expected = distinctIds(visits, SIZE);
    await waitForFinals(settings, `${prefix}-active-visitors`, expected.size, 60_000);
    expect(finalsOf(await readResults(settings, `${prefix}-active-visitors`))).toEqual(expected);
    expect(await lateDrops(aggregators)).toBe(0);
  }, 180_000);
});
