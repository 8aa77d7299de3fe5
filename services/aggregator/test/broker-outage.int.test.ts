/**
 * A broker that goes away and comes back: routine in a rolling upgrade of Kafka. The aggregator
 * must ride it out by itself — no crash, no wedge, exact counts — stay live (a broker outage is
 * not a reason for Kubernetes to restart it), and still stop within its grace period if it is
 * told to stop meanwhile. Each test uses a broker of its own, which it stops or freezes.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TopicAdmin, kafka, rdkafkaConnectionConfig } from '@eric/shared';
import { isolatedRunEnv, produceRecords, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import { PrivateBroker, repositoryRoot } from '@eric/shared/testing/process';
import { AggregatorProcess, buildAggregator, sleep } from './support/aggregator-process.js';
import { expectedFinals, type ModelVisit } from './support/model.js';
import { finalsOf, readResults, waitForFinals } from './support/results.js';

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

async function healthStatus(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
}

describe('aggregator: broker outages', () => {
  it('keeps reading the repartition group offsets through broker restarts, and answers right afterwards', async () => {
    // librdkafka's Admin API aborted the process here ("eonce->refcnt > 0") within the first
    // restart; the answers now come through a consumer of the group, which survives.
    const prefix = uniqueName('upstream');
    const topic = `${prefix}-visits`;
    const group = `${prefix}-repartition`;
    const admin = new TopicAdmin(settings);
    await admin.ensureTopics([{ name: topic, partitions: 4, config: { 'message.timestamp.type': 'LogAppendTime' } }]);
    admin.close();
    await produceVisits(topic, visitsNow(prefix, 40));

    const child = spawn(process.execPath, [`${repositoryRoot}services/aggregator/test/support/upstream-progress-loop.mjs`, broker.brokers, topic, group], {
      cwd: `${repositoryRoot}services/aggregator`,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const answers: Array<{ forwarded?: boolean; error?: string }> = [];
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line) answers.push(JSON.parse(line));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      for (const downMs of [3_000, 6_000]) {
        await sleep(2_000);
        await broker.run('stop');
        await sleep(downMs);
        await broker.run('start');
      }
      // Back up: the group has committed nothing, so the visits are not forwarded...
      const since = answers.length;
      await waitUntil(() => answers.slice(since).some((answer) => answer.forwarded === false), 30_000, 'an answer after the restarts');
      // ...until the group commits the end of every partition.
      await commitEnd(group, topic, 4);
      await waitUntil(() => answers.slice(since).some((answer) => answer.forwarded === true), 30_000, 'the answer after the commit');
      expect(child.exitCode, stderr).toBeNull();
      expect(child.signalCode, stderr).toBeNull();
    } finally {
      child.kill('SIGKILL');
      await exit;
    }
  }, 180_000);

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
      await produceVisits(`${prefix}-visits`, after);

      const expected = expectedFinals([...before, ...after], 1, SIZE, GRACE);
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

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Commits, for `group`, the end of every partition of `topic`, as the repartition stage would. */
async function commitEnd(group: string, topic: string, partitions: number): Promise<void> {
  const consumer = new kafka.KafkaConsumer({ ...rdkafkaConnectionConfig(settings), 'group.id': group, 'enable.auto.commit': false }, {});
  await kafka.connect(consumer);
  try {
    const offsets = [];
    for (let partition = 0; partition < partitions; partition++) {
      const { highOffset } = await kafka.call<{ highOffset: number }>('queryWatermarkOffsets', 10_000, (done) => consumer.queryWatermarkOffsets(topic, partition, 10_000, done));
      offsets.push({ topic, partition, offset: highOffset });
    }
    consumer.commitSync(offsets);
  } finally {
    await kafka.disconnect(consumer);
  }
}
