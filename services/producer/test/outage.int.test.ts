/**
 * Kafka down: POST /v1/visits answers 503 with Retry-After, never a 202 it cannot keep, and
 * recovers when the broker is back; every visit that got a 202 is on the topic afterwards.
 *
 * The shared test broker is never stopped: this file starts its own private broker (other ports,
 * other data directory) and stops it while requests are coming in.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Readiness, TopicAdmin, createLogger, createMetricsRegistry, type Visit } from '@eric/shared';
import { readRecords, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadProducerConfig } from '../src/config.js';
import { createProducerMetrics } from '../src/metrics.js';
import { VisitWriter } from '../src/visit-writer.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// Next to the test broker's port, so that two checkouts testing at once do not collide.
const PRIVATE_PORT = Number(process.env.ERIC_TEST_KAFKA_PORT ?? 19092) + 300;
const privateBroker = `127.0.0.1:${PRIVATE_PORT}`;
const brokerEnv: NodeJS.ProcessEnv = {
  ...process.env,
  KAFKA_PORT: String(PRIVATE_PORT),
  KAFKA_CONTROLLER_PORT: String(PRIVATE_PORT + 1),
  KAFKA_HOME_DIR: `${root}.eric/kafka-producer-test`,
  KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m',
};
delete brokerEnv.KAFKA_BROKERS; // that variable would make the script start nothing

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** scripts/kafka.sh, asynchronously: the requests in flight keep running while it works. */
async function privateKafka(command: 'start' | 'stop' | 'reset'): Promise<void> {
  await promisify(execFile)('bash', [`${root}scripts/kafka.sh`, command], { env: brokerEnv });
}

/**
 * Starts the private broker; tries a second time because scripts/kafka.sh, on a loaded machine,
 * can take the broker for dead in the instant between its fork and exec (it then runs anyway,
 * and the second call finds it).
 */
async function startPrivateKafka(): Promise<void> {
  try {
    await privateKafka('start');
  } catch {
    await sleep(1_000);
    await privateKafka('start');
  }
}

const logger = createLogger('producer-test', 'silent');

type WriterOptions = ConstructorParameters<typeof VisitWriter>[0];

/** The writer and the app, wired as main.ts wires them. */
function buildProducer(options: Omit<WriterOptions, 'logger' | 'metrics'>) {
  const registry = createMetricsRegistry();
  const metrics = createProducerMetrics(registry);
  const writer = new VisitWriter({ ...options, logger, metrics });
  metrics.observeWriter(() => ({ queued: writer.queued, available: writer.availability().available }));
  const readiness = new Readiness().add('kafka', () => ({ ready: writer.availability().available, detail: writer.availability().detail }));
  const app = buildApp({ logger, registry, readiness, metrics, writer, ingest: {
      ...loadProducerConfig({ env: {} }).ingest,
      bodyLimitBytes: 65_536,
      maxVisits: 100,
      retryAfterSeconds: 1,
      // Four clients on one address post as fast as they are answered: the outage is tested here, not the per-address limit.
      clientRequestsPerSecond: 0,
    },
  });
  return { app, registry, writer };
}

const post = (app: FastifyInstance, visits: unknown[]) =>
  app.inject({ method: 'POST', url: '/v1/visits', payload: JSON.stringify(visits), headers: { 'content-type': 'application/json' } });


describe('when Kafka cannot be reached', () => {
  it('a writer that never connected answers 503 with Retry-After and the complete visits to resend', async () => {
    const { app, registry, writer } = buildProducer({ settings: testKafkaSettings('127.0.0.1:1'), topic: 'visits', deliveryTimeoutMs: 2_000, lingerMs: 5, maxQueued: 100 });
    await expect(writer.connect(1_500)).rejects.toThrow();
    const response = await post(app, [{ id: 'retry-me', account_id: 1, store_id: null }]);
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toMatchObject({ error: 'broker_unavailable', visits: [{ id: 'retry-me', account_id: 1, store_id: null }] });
    expect(response.json<{ visits: Visit[] }>().visits[0]!.timestamp).toBeGreaterThan(0);
    expect(response.json<{ message: string }>().message).toMatch(/not connected to Kafka yet\. Nothing was written/);
    expect((await app.inject('/ready')).statusCode).toBe(503);
    expect(await registry.metrics()).toMatch(/eric_producer_produce_failures_total\{source="http",reason="broker_unavailable"\} 1/);
    await app.close();
    await writer.close(0);
  });
});

describe('when the broker goes down and comes back', () => {
  const topic = uniqueName('outage');
  const settings = testKafkaSettings(privateBroker, 'eric-producer-outage-test');
  let writer: VisitWriter;
  let app: FastifyInstance;

  beforeAll(async () => {
    await startPrivateKafka();
    const admin = new TopicAdmin(settings);
    await admin.ensureTopics([{ name: topic, partitions: 1 }]);
    admin.close();
    ({ app, writer } = buildProducer({ settings, topic, deliveryTimeoutMs: 3_000, lingerMs: 5, maxQueued: 10_000, probeIntervalMs: 500 }));
    await writer.connect();
  });

  afterAll(async () => {
    await app?.close();
    await writer?.close(1_000);
    await privateKafka('reset');
  });

  it('answers 503 + Retry-After while it is down, 202 again after, and loses no acknowledged visit', async () => {
    type Answer = { id: string; status: number; retryAfter: unknown; at: number };
    const answers: Answer[] = [];
    let phase: 'up' | 'stopping' | 'down' | 'starting' | 'back' = 'up';
    const downAnswers: Answer[] = [];
    let sending = true;

    // Four clients posting one visit at a time, as browsers beaconing visits would.
    const client = async (n: number) => {
      for (let i = 0; sending; i++) {
        const id = `${topic}-${n}-${i}`;
        const response = await post(app, [{ id, account_id: n, store_id: null }]);
        const answer = { id, status: response.statusCode, retryAfter: response.headers['retry-after'], at: Date.now() };
        answers.push(answer);
        if (phase === 'down') downAnswers.push(answer);
        await sleep(response.statusCode === 202 ? 10 : 100);
      }
    };
    const clients = Promise.all([0, 1, 2, 3].map(client));

    await sleep(1_000);
    phase = 'stopping';
    await privateKafka('stop');
    phase = 'down';
    await sleep(4_000);
    const readyWhileDown = await app.inject('/ready');
    phase = 'starting';
    await startPrivateKafka();
    const restarted = Date.now();
    while (Date.now() - restarted < 30_000 && !answers.some((a) => a.status === 202 && a.at > restarted)) await sleep(100);
    await sleep(1_000);
    phase = 'back';
    sending = false;
    await clients;

    // While down: only 503s, each with Retry-After, and not ready.
    expect(downAnswers.length).toBeGreaterThan(4);
    expect(downAnswers.every((a) => a.status === 503 && a.retryAfter === '1')).toBe(true);
    expect(readyWhileDown.statusCode).toBe(503);
    // Before and after: 202s.
    expect(answers.filter((a) => a.status === 202 && a.at < restarted).length).toBeGreaterThan(10);
    expect(answers.filter((a) => a.status === 202 && a.at > restarted).length).toBeGreaterThan(0);
    expect(answers.every((a) => a.status === 202 || a.status === 503)).toBe(true);
    expect((await app.inject('/ready')).statusCode).toBe(200);

    // Nothing that was acknowledged is missing.
    const acknowledged = answers.filter((a) => a.status === 202).map((a) => a.id);
    const records = await readRecords(settings, topic, { partitions: [0], count: answers.length, idleMs: 3_000 });
    const onTopic = new Set(records.map((r) => (JSON.parse(r.value!.toString()) as Visit).id));
    expect(acknowledged.filter((id) => !onTopic.has(id))).toEqual([]);
  });
});
