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

/** What the aggregators did with the visits, for the test's output (a replay shows here). */
async function tallies(aggregators: AggregatorProcess[]): Promise<string> {
  const sum = async (name: string, labels = '') => (await Promise.all(aggregators.map((aggregator) => aggregator.metric(name, labels)))).reduce((a, b) => a + b, 0);
  const figures = {
    forwarded: await sum('eric_aggregator_visits_forwarded_total'),
    counted: await sum('eric_aggregator_visits_counted_total'),
    duplicates: await sum('eric_aggregator_visits_duplicate_total'),
    replayed: await sum('eric_aggregator_visits_replayed_total'),
    late: await sum('eric_aggregator_visits_dropped_total', 'reason="late"'),
  };
  return Object.entries(figures).map(([name, value]) => `${name} ${value}`).join(', ');
}

/** The first of `aggregators` whose repartition stage has forwarded a visit. */
async function firstForwarding(aggregators: AggregatorProcess[], timeoutMs: number): Promise<AggregatorProcess> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
    for (const aggregator of aggregators) {
      if ((await aggregator.metric('eric_aggregator_visits_forwarded_total').catch(() => 0)) > 0) return aggregator;
    }
  }
  throw new Error(`no aggregator forwarded a visit within ${timeoutMs} ms`);
}

/** A deterministic random source, so that a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/**
 * A backlog on `<prefix>-visits`: per partition, `count` visits in time order over `windows`
 * windows ending 6 windows ago, with a jitter well inside the grace (none is late within its own
 * partition), and a share `resent` of them sent again (a copy of one of the 50 before it).
 */
async function produceBacklog(prefix: string, counts: readonly number[], options: { seed: number; size: number; windows: number; resent: number }): Promise<ModelVisit[]> {
  const { size, windows } = options;
  const random = seeded(options.seed);
  const start = Math.floor(Date.now() / 1000 / size) * size - (windows + 6) * size;
  const records: OutgoingRecord[] = [];
  const visits: ModelVisit[] = [];
  counts.forEach((count, partition) => {
    for (let i = 0; i < count; i++) {
      const resent = i > 0 && random() < options.resent;
      const visit: ModelVisit = resent
        ? visits[visits.length - 1 - Math.floor(random() * Math.min(50, i))]!
        : { id: `p${partition}-${i}`, account_id: 1 + Math.floor(random() * 5), store_id: ['a', 'b', null][Math.floor(random() * 3)]!, timestamp: start + (i / count) * windows * size + (random() - 0.5) * 3 };
      visits.push(visit);
      records.push({ value: JSON.stringify(visit), partition });
    }
  });
  for (let i = 0; i < records.length; i += 20_000) await produceRecords(settings, `${prefix}-visits`, records.slice(i, i + 20_000));
  return visits;
}

describe('event time over every input partition', () => {
  it('gives exact finals for a backlog of 210 000 visits on 4 partitions, one four times fuller and so read slower', async () => {
    const SIZE = 10;
    const GRACE = 5;
    const prefix = uniqueName('et-backlog');
    await createVisitsTopic(prefix, 4);
    // Partition 0 gets four times as many.
    const visits = await produceBacklog(prefix, [120_000, 30_000, 30_000, 30_000], { seed: 7, size: SIZE, windows: 40, resent: 0.1 });

    const aggregators = await startAggregators(prefix, 2, { WINDOW_SECONDS: String(SIZE), GRACE_SECONDS: String(GRACE), VISITS_PARTITIONS: '4' });
    const expected = distinctIds(visits, SIZE);
    await waitForFinals(settings, `${prefix}-active-visitors`, expected.size, 120_000);
    const finals = finalsOf(await readResults(settings, `${prefix}-active-visitors`)); // throws on a second final
    console.log(`backlog: ${await tallies(aggregators)}`);
    expect(finals).toEqual(expected);
    expect(await lateDrops(aggregators)).toBe(0);
  }, 240_000);

  it('calls the visits forwarded again after a repartition member lost its session mid-backlog duplicates, not late', async () => {
    // The repartition stage is at least once. A process starved of CPU — or stopped, here — for
    // longer than session.timeout.ms (30 s) loses its partitions of visits: the next reader
    // forwards again what it had not committed, and the woken process may still forward the
    // batch it held. Meanwhile the other partitions moved the close clock on: these second copies
    // must be told from late visits, by their source offsets.
    const SIZE = 10;
    const GRACE = 5;
    const prefix = uniqueName('et-replay');
    await createVisitsTopic(prefix, 4);
    const visits = await produceBacklog(prefix, [25_000, 25_000, 25_000, 25_000], { seed: 11, size: SIZE, windows: 40, resent: 0 });

    buildAggregator();
    // Large read batches: a member spends most of its time between forwarding and committing.
    const common = { KAFKA_BROKERS: settings.brokers, ...isolatedRunEnv(prefix), PARTITIONS: '2', WINDOW_SECONDS: String(SIZE), GRACE_SECONDS: String(GRACE), VISITS_PARTITIONS: '4', REPARTITION_BATCH_SIZE: '10000' };
    running = [0, 1].map((i) => new AggregatorProcess(`${prefix}-${i}`, { ...common, AGGREGATOR_ORDINAL: String(i) }));
    await Promise.all(running.map((aggregator) => aggregator.start()));
    // Stop the first member seen forwarding, just after its first batch: it then holds visits it
    // forwarded but has not committed. (Which member that is depends on which one joined the group
    // first: on a busy machine one can take every partition and forward the whole backlog alone.)
    const victim = await firstForwarding(running, 60_000);
    await sleep(200);
    victim.kill('SIGSTOP');
    try {
      await sleep(40_000);
    } finally {
      victim.kill('SIGCONT');
    }
    const expected = distinctIds(visits, SIZE);
    await waitForFinals(settings, `${prefix}-active-visitors`, expected.size, 150_000);
    expect(finalsOf(await readResults(settings, `${prefix}-active-visitors`))).toEqual(expected);
    // No visit of this backlog is sent twice: every duplicate is a replay.
    console.log(`session lost: ${await tallies(running)} (of ${visits.length} visits)`);
    expect(await lateDrops(running)).toBe(0);
  }, 300_000);

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
