/**
 * A broker that goes away and comes back: routine in a rolling upgrade of Kafka. The aggregator
 * must ride it out by itself — no crash, no wedge, exact counts — stay live (a broker outage is
 * not a reason for Kubernetes to restart it), and still stop within its grace period if it is
 * told to stop meanwhile. Each test uses a broker of its own, which it stops or freezes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalsOf, isolatedRunEnv, produceRecords, readResults, testKafkaSettings, uniqueName, waitForFinals } from '@eric/shared/testing';
import { PrivateBroker } from '@eric/shared/testing/process';
import { AggregatorProcess, buildAggregator, sleep } from './support/aggregator-process.js';
import { expectedFinals, type ModelVisit } from './support/model.js';

const broker = new PrivateBroker('aggregator-outage', 700);
const settings = testKafkaSettings(broker.brokers);
const SIZE = 4;
const GRACE = 2;

beforeAll(async () => {
  buildAggregator();
  await broker.run('reset');
  await broker.run('start');
}, 120_000);
afterAll(() => broker.run('reset'), 60_000);

function aggregatorEnv(prefix: string, extra: Record<string, string> = {}) {
  return {
    KAFKA_BROKERS: broker.brokers,
    ...isolatedRunEnv(prefix),
    WINDOW_SECONDS: String(SIZE),
    GRACE_SECONDS: String(GRACE),
    PARTITIONS: '1',
    AGGREGATOR_ORDINAL: '0',
    VISITS_PARTITIONS: '1',
    ...extra,
  };
}

function visitsNow(prefix: string, count: number): ModelVisit[] {
  const now = Date.now() / 1000;
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}-${i % Math.ceil(count * 0.8)}`, account_id: 1 + (i % 3), store_id: i % 2 ? 's' : null, timestamp: now }));
}

async function produceVisits(topic: string, visits: ModelVisit[]): Promise<void> {
  await produceRecords(settings, topic, visits.map((visit) => ({ value: JSON.stringify(visit) })));
}

/**
 * Produces once the broker takes the visits again. A fresh producer right after a 30 s freeze
 * (connect, producer id, write) has been seen to need more than one flush (10 s) on a loaded
 * machine; this test is about the aggregator, so its producer simply tries again. A try that
 * timed out may have written some visits already: their ids repeat, which unique counting ignores.
 */
async function produceVisitsOnceServing(topic: string, visits: ModelVisit[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await produceVisits(topic, visits);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

async function healthStatus(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
}

describe('aggregator: broker outages', () => {
  it('stays live through a frozen broker longer than the stall limit, then counts exactly', async () => {
    const prefix = uniqueName('agg-freeze');
    const aggregator = new AggregatorProcess(`${prefix}-0`, aggregatorEnv(prefix, { STALL_TIMEOUT_SECONDS: '20' }));
    await aggregator.start();
    try {
      await aggregator.ready(90_000);
      const before = visitsNow(`${prefix}-a`, 300);
      await produceVisits(`${prefix}-visits`, before);
      await sleep(1_000);
      // Frozen, not stopped: requests hang until their timeouts instead of being refused.
      broker.signal('SIGSTOP');
      const statuses: number[] = [];
      try {
        const until = Date.now() + 30_000;
        while (Date.now() < until) {
          statuses.push(await healthStatus(aggregator.port));
          await sleep(500);
        }
      } finally {
        broker.signal('SIGCONT');
      }
      expect(statuses.every((status) => status === 200)).toBe(true);
      await aggregator.ready(90_000);
      const after = visitsNow(`${prefix}-b`, 300);
      await produceVisitsOnceServing(`${prefix}-visits`, after);

      const expected = expectedFinals([...before, ...after], SIZE, GRACE);
      await waitForFinals(settings, `${prefix}-active-visitors`, expected.finals.size, 60_000);
      const finals = finalsOf(await readResults(settings, `${prefix}-active-visitors`)); // throws on a second final
      expect(finals).toEqual(expected.finals);
      expect(await healthStatus(aggregator.port)).toBe(200);
    } finally {
      await aggregator.stop();
    }
  }, 240_000);

  it('ends within its shutdown timeout when told to stop while the broker is frozen', async () => {
    const prefix = uniqueName('agg-term-frozen');
    const aggregator = new AggregatorProcess(`${prefix}-0`, aggregatorEnv(prefix, { SHUTDOWN_TIMEOUT_MS: '4000' }));
    await aggregator.start();
    try {
      await aggregator.ready(90_000);
      await produceVisits(`${prefix}-visits`, visitsNow(prefix, 100));
      await sleep(500);
      broker.signal('SIGSTOP');
      await sleep(3_000); // Kafka calls now hang inside librdkafka
      const stopped = Date.now();
      aggregator.kill('SIGTERM');
      await aggregator.exited();
      expect(Date.now() - stopped).toBeLessThan(4_000 + 1_500);
    } finally {
      broker.signal('SIGCONT');
      await aggregator.stop();
    }
  }, 180_000);
});

