/**
 * Issue 7: the whole pipeline as a user sees it. Visits go in through the producer's HTTP API,
 * P = 4 aggregators count them, the gateway pushes the counts to a websocket client, and the
 * final counts must equal values computed here from what the producer acknowledged — also
 * through crashes, restarts and a broker outage. Every window must have exactly one final on
 * active-visitors.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TopicAdmin, type Visit } from '@eric/shared';
import { finalKey, finalsOf, readResults, testKafkaSettings } from '@eric/shared/testing';
import { PrivateBroker, sleep } from '@eric/shared/testing/process';
import { DashboardClient, expectedCounts } from './support/dashboard-client.js';
import { Pipeline, Traffic } from './support/pipeline.js';

const brokers = inject('kafkaBrokers');
const settings = testKafkaSettings(brokers);
// Short windows keep the tests short; the grace covers a pod restart (see docs/aggregator.md).
const WINDOW = 4;
const GRACE = 6;

let pipeline: Pipeline | undefined;
let client: DashboardClient | undefined;
afterEach(async () => {
  client?.close();
  await pipeline?.stop();
  pipeline = undefined;
  client = undefined;
});

async function startPipeline(partitions = 4, options: { brokers?: string; graceSeconds?: number } = {}): Promise<{ pipeline: Pipeline; client: DashboardClient }> {
  pipeline = new Pipeline({ brokers: options.brokers ?? brokers, partitions, windowSeconds: WINDOW, graceSeconds: options.graceSeconds ?? GRACE });
  await pipeline.start();
  client = await DashboardClient.connect(pipeline.gateway.port);
  return { pipeline, client };
}

/** Waits for a final of every expected window on the websocket, then checks them and the topic. */
async function expectExactFinals(p: Pipeline, c: DashboardClient, visits: Visit[], kafkaSettings = settings): Promise<void> {
  const expected = expectedCounts(visits, WINDOW);
  await c.waitFor(() => [...expected.keys()].every((key) => c.finals().has(key)), 90_000, `${expected.size} final counts on the websocket`);
  const finals = c.finals();
  for (const [key, count] of expected) expect(finals.get(key), key).toBe(count);
  // On the topic, as a read_committed consumer sees it: one final per window and partition, same counts.
  const results = await readResults(kafkaSettings, p.activeVisitorsTopic, 1000);
  const onTopic = finalsOf(results); // throws if a window has two finals
  for (const [key, count] of expected) expect(onTopic.get(key), key).toBe(count);
}

describe('the whole pipeline', { timeout: 150_000 }, () => {
  it('delivers exact final counts of a known workload to a websocket client', async () => {
    const { pipeline: p, client: c } = await startPipeline();
    // Windows that start in the future, so that every visit below is on time.
    const w0 = Math.ceil((Date.now() / 1000 + 1) / WINDOW) * WINDOW;
    const visits: Visit[] = [];
    for (const account_id of [352, 7, 8]) {
      for (const store_id of ['default', 'web', null]) {
        for (let i = 0; i < 30; i++) {
          visits.push({ id: `${account_id}-${store_id}-${i % 20}`, account_id, store_id, timestamp: w0 + (i % WINDOW) + 0.5 });
          visits.push({ id: `next-${account_id}-${store_id}-${i}`, account_id, store_id, timestamp: w0 + WINDOW + (i % WINDOW) });
        }
      }
    }
    await p.postUntilAcknowledged(visits.slice(0, 200));
    await p.postUntilAcknowledged(visits.slice(150)); // 50 sent twice: duplicates
    // Once window 0 is final, visits for it are late and must not change it.
    const firstKey = finalKey(352, 'default', w0);
    await c.waitFor(() => c.finals().has(firstKey), 60_000, 'the first final');
    const late = [{ id: 'late-1', account_id: 352, store_id: 'default', timestamp: w0 + 1 }];
    await p.postUntilAcknowledged(late);
    await expectExactFinals(p, c, visits);
    expect(c.finals().get(firstKey)).toBe(20);
    expect(c.frames.some((frame) => !frame.final)).toBe(true); // provisional counts came first
  });

  it('stays exact when one aggregator is SIGKILLed mid-window and restarted', async () => {
    const { pipeline: p, client: c } = await startPipeline();
    const traffic = new Traffic(p);
    traffic.start();
    await sleep(2500);
    const victim = p.aggregators[1]!;
    victim.kill('SIGKILL');
    await victim.exited();
    await sleep(3000);
    await victim.start();
    await sleep(3000);
    await traffic.stop();
    await expectExactFinals(p, c, traffic.acknowledged);
  });

  it('stays exact when every aggregator is SIGKILLed at once and restarted', async () => {
    const { pipeline: p, client: c } = await startPipeline();
    const traffic = new Traffic(p);
    traffic.start();
    await sleep(2500);
    for (const aggregator of p.aggregators) aggregator.kill('SIGKILL');
    await Promise.all(p.aggregators.map((a) => a.exited()));
    await sleep(2000);
    await Promise.all(p.aggregators.map((a) => a.start()));
    await sleep(3000);
    await traffic.stop();
    await expectExactFinals(p, c, traffic.acknowledged);
  });

  it('stays exact through a rolling restart, one aggregator after the other, as Kubernetes does', async () => {
    const { pipeline: p, client: c } = await startPipeline();
    const traffic = new Traffic(p);
    traffic.start();
    for (const aggregator of p.aggregators) {
      await aggregator.stop(); // SIGTERM: finishes or aborts its transaction, exits
      await aggregator.start();
      await aggregator.ready();
    }
    await traffic.stop();
    await expectExactFinals(p, c, traffic.acknowledged);
  });

  it('recovers by itself from a broker stopped and restarted while traffic flows, losing nothing acknowledged', async () => {
    // A private broker: stopping the shared test broker would disturb other test files.
    const broker = new PrivateBroker('e2e-outage', 600);
    await broker.run('reset');
    await broker.run('start');
    try {
      // A longer grace: visits the producer could not write during the outage are retried after
      // it, with their original timestamps.
      const { pipeline: p, client: c } = await startPipeline(4, { brokers: broker.brokers, graceSeconds: 20 });
      const traffic = new Traffic(p);
      traffic.start();
      await sleep(2500);
      await broker.run('stop');
      await sleep(3000);
      await broker.run('start'); // returns once the broker serves metadata
      await Promise.all([...p.aggregators, p.gateway, p.producer].map((service) => service.ready(90_000)));
      // Traffic acknowledged after the restart, so that the pipeline is seen to count again.
      const acknowledgedBefore = traffic.acknowledged.length;
      while (traffic.acknowledged.length < acknowledgedBefore + 100) await sleep(100);
      await traffic.stop();
      await expectExactFinals(p, c, traffic.acknowledged, testKafkaSettings(broker.brokers));
    } finally {
      client?.close();
      await pipeline?.stop();
      pipeline = undefined;
      client = undefined;
      await broker.run('reset');
    }
  });

  it('gives a reconnecting client the snapshot again after a gateway restart', async () => {
    const { pipeline: p, client: c } = await startPipeline();
    const now = Date.now() / 1000;
    await p.postUntilAcknowledged([
      { id: 'g1', account_id: 5, store_id: 's', timestamp: now },
      { id: 'g2', account_id: 5, store_id: 's', timestamp: now },
    ]);
    const key = finalKey(5, 's', Math.floor(now / WINDOW) * WINDOW);
    await c.waitFor(() => c.frames.some((f) => finalKey(f.account_id, f.store_id, f.ts_from) === key && f.count === 2), 30_000, 'the count of 2');
    c.close();
    await p.gateway.stop();
    await p.gateway.start(); // same port
    await p.gateway.ready();
    client = await DashboardClient.connect(p.gateway.port);
    const reconnected = client;
    await reconnected.waitFor(() => reconnected.frames.some((f) => finalKey(f.account_id, f.store_id, f.ts_from) === key && f.count === 2), 30_000, 'the snapshot after the restart');
  });

  it('scales from 4 to 6 aggregators by the documented procedure without losing a count', async () => {
    const { pipeline: p, client: c } = await startPipeline();
    // No re-sent ids here: during the scaling a key's window may be counted by two partitions
    // (see docs/aggregator.md, "Scaling"), and an id sent to both would be counted by both.
    const traffic = new Traffic(p, { resend: false });
    traffic.start();
    await sleep(2000);
    // 1. Grow the repartition and changelog topics to the new P.
    const admin = new TopicAdmin(settings);
    try {
      await admin.addPartitions(`${p.prefix}-repartition`, 6);
      await admin.addPartitions(`${p.prefix}-changelog`, 6);
    } finally {
      admin.close();
    }
    // 2. Start the two new aggregators (their count partitions are empty; the group rebalances once).
    const added = p.addAggregators(6);
    await Promise.all(added.map((a) => a.start()));
    await Promise.all(added.map((a) => a.ready()));
    // 3. Roll the existing ones to PARTITIONS=6, one at a time, each back to ready before the next.
    for (const aggregator of p.aggregators.slice(0, 4)) {
      await aggregator.stop();
      aggregator.setEnv({ PARTITIONS: '6' });
      await aggregator.start();
      await aggregator.ready();
    }
    await sleep(3000);
    await traffic.stop();
    // A key that moved partition has its window counted by two partitions; the gateway sums the
    // finals of each, and the sum is exact.
    await expectScaledFinals(p, c, traffic.acknowledged);
  });
});

async function expectScaledFinals(p: Pipeline, c: DashboardClient, visits: Visit[]): Promise<void> {
  const expected = expectedCounts(visits, WINDOW);
  // On the topic: the finals of each window, summed over the partitions that counted it.
  const deadline = Date.now() + 90_000;
  let summed = new Map<string, number>();
  while (Date.now() < deadline) {
    summed = new Map();
    for (const result of (await readResults(settings, p.activeVisitorsTopic, 1000)).filter((r) => r.final)) {
      const key = finalKey(result.account_id, result.store_id, result.window[0]);
      summed.set(key, (summed.get(key) ?? 0) + result.count);
    }
    if ([...expected.keys()].every((key) => summed.has(key))) break;
  }
  await sleep(3000);
  const late = await Promise.all(p.aggregators.map((a) => a.metric('eric_aggregator_visits_dropped_total', 'reason="late"')));
  expect(late.reduce((a, b) => a + b)).toBe(0);
  expect(new Map([...expected.keys()].map((key) => [key, summed.get(key)])), 'sums of finals on active-visitors').toEqual(expected);
  // Wait until every window has a final (the gateway marks a sum final once every partition that
  // counted the window sent its final), and a little longer for late partial finals.
  await c.waitFor(() => [...expected.keys()].every((key) => c.finals().has(key)), 90_000, 'final counts of every window');
  await sleep(3000);
  const finals = c.finals();
  expect(new Map([...expected.keys()].map((key) => [key, finals.get(key)]))).toEqual(expected);
  const results = await readResults(settings, p.activeVisitorsTopic, 1000);
  const byPartition = new Set<string>();
  for (const result of results.filter((r) => r.final)) {
    const id = `${finalKey(result.account_id, result.store_id, result.window[0])}#${result.partition}`;
    expect(byPartition.has(id), `two finals for ${id}`).toBe(false);
    byPartition.add(id);
  }
}
