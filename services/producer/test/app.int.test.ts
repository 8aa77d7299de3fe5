/**
 * POST /v1/visits with the real Kafka writer against the test broker: validation per item, and
 * a 202 only once Kafka holds every visit.
 */
import { Readiness, TopicAdmin, createLogger, createMetricsRegistry, type Visit } from '@eric/shared';
import { readRecords, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadProducerConfig } from '../src/config.js';
import { createProducerMetrics } from '../src/metrics.js';
import { VisitWriter } from '../src/visit-writer.js';

const settings = testKafkaSettings(inject('kafkaBrokers'), 'eric-producer-test');
const topic = uniqueName('ingest');
const logger = createLogger('producer-test', 'silent');
const registry = createMetricsRegistry();
const metrics = createProducerMetrics(registry);
const readiness = new Readiness();
let writer: VisitWriter;
let app: FastifyInstance;

beforeAll(async () => {
  const admin = new TopicAdmin(settings);
  await admin.ensureTopics([{ name: topic, partitions: 2 }]);
  admin.close();
  writer = new VisitWriter({ settings, topic, logger, metrics, deliveryTimeoutMs: 10_000, lingerMs: 5, maxQueued: 1000 });
  await writer.connect();
  metrics.observeWriter(() => ({ queued: writer.queued, available: writer.availability().available }));
  readiness.add('kafka', () => ({ ready: writer.availability().available, detail: writer.availability().detail }));
  app = buildApp({ logger, registry, readiness, metrics, writer, ingest: { ...loadProducerConfig({ env: {} }).ingest, bodyLimitBytes: 64 * 1024, maxVisits: 500, retryAfterSeconds: 2 } });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await writer?.close();
});

const now = () => Date.now() / 1000;
const post = (payload: string, contentType = 'application/json') =>
  app.inject({ method: 'POST', url: '/v1/visits', payload, headers: { 'content-type': contentType } });

/** Every visit on the topic so far, by id. */
async function topicVisits(expected: number): Promise<Map<string, Visit>> {
  const records = await readRecords(settings, topic, { partitions: [0, 1], count: expected, idleMs: 1_500 });
  return new Map(records.map((r) => JSON.parse(r.value!.toString()) as Visit).map((v) => [v.id, v]));
}

/** A counter's value, or a histogram's sample count (`series` = `<name>_count`). */
async function metricValue(name: string, labels: Record<string, string>, series = name): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  type Sample = { value: number; labels: Record<string, string | number>; metricName?: string };
  const value = (metric?.values as Sample[] | undefined)?.find(
    (v) => (v.metricName ?? name) === series && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l),
  );
  return value?.value ?? 0;
}

let written = 0;

describe('POST /v1/visits', () => {

  it('answers 202 only when Kafka already holds every visit of the request', async () => {
    const visits = Array.from({ length: 200 }, (_, i) => ({ id: uniqueName(`batch-${i}`), account_id: i % 5, store_id: i % 2 ? 'us' : null, timestamp: now() }));
    const response = await post(JSON.stringify(visits));
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ accepted: 200, ids: visits.map((v) => v.id) });
    written += 200;
    // Acknowledged means readable at once, by a fresh consumer, with acks=all.
    const onTopic = await topicVisits(written);
    for (const visit of visits) expect(onTopic.get(visit.id)).toEqual(visit);
    expect(await metricValue('eric_producer_visits_produced_total', { source: 'http' })).toBe(200);
    expect(await metricValue('eric_producer_produce_latency_seconds', { source: 'http' }, 'eric_producer_produce_latency_seconds_count')).toBe(200);
    expect(writer.queued).toBe(0);
  });

  it('gives a visit without id a UUID and without timestamp the server time', async () => {
    const before = now();
    const response = await post(JSON.stringify({ account_id: 352, store_id: 'default' }), 'application/x-www-form-urlencoded');
    expect(response.statusCode).toBe(202);
    const [id] = response.json<{ ids: string[] }>().ids;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    written += 1;
    const visit = (await topicVisits(written)).get(id!);
    expect(visit).toMatchObject({ id, account_id: 352, store_id: 'default' });
    expect(visit!.timestamp).toBeGreaterThanOrEqual(before);
    expect(visit!.timestamp).toBeLessThanOrEqual(now());
  });

  it('takes NDJSON', async () => {
    const ids = [uniqueName('nd'), uniqueName('nd')];
    const body = ids.map((id) => JSON.stringify({ id, account_id: 1, store_id: null })).join('\n');
    const response = await post(body, 'application/x-ndjson');
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ accepted: 2, ids });
    written += 2;
    const onTopic = await topicVisits(written);
    for (const id of ids) expect(onTopic.has(id)).toBe(true);
  });

  it('refuses invalid items with 400, each with its reason, and writes none of the request', async () => {
    const good = uniqueName('good');
    const response = await post(
      JSON.stringify([
        { id: good, account_id: 1, store_id: null },
        { account_id: 'one', store_id: null },
        { account_id: 1 },
        { account_id: 1, store_id: null, timestamp: Date.now() },
      ]),
    );
    expect(response.statusCode).toBe(400);
    const body = response.json<{ error: string; invalid: Array<{ index: number; reason: string }> }>();
    expect(body.error).toBe('invalid_visits');
    expect(body.invalid.map(({ index, reason }) => ({ index, reason }))).toEqual([
      { index: 1, reason: 'wrong_type' },
      { index: 2, reason: 'missing_field' },
      { index: 3, reason: 'timestamp_out_of_range' },
    ]);
    expect((await post('{"account_id": 1,')).json()).toMatchObject({ error: 'invalid_json' });
    const onTopic = await topicVisits(written + 1);
    expect(onTopic.size).toBe(written);
    expect(onTopic.has(good)).toBe(false);
    expect(await metricValue('eric_producer_ingest_rejected_visits_total', { reason: 'wrong_type' })).toBe(1);
    expect(await metricValue('eric_producer_ingest_rejected_visits_total', { reason: 'invalid_json' })).toBe(1);
  });

  it('refuses a body over the limit and too many visits with 413', async () => {
    const huge = JSON.stringify([{ account_id: 1, store_id: 'x'.repeat(200) }]).padEnd(70 * 1024, ' ');
    expect((await post(huge)).statusCode).toBe(413);
    const many = JSON.stringify(Array.from({ length: 501 }, () => ({ account_id: 1, store_id: null })));
    const response = await post(many);
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ error: 'too_many_visits' });
  });

  it('counts ingest requests by status and serves /ready and /healthz', async () => {
    expect(await metricValue('eric_producer_ingest_requests_total', { status: '202' })).toBe(3);
    expect(await metricValue('eric_producer_ingest_requests_total', { status: '400' })).toBe(2);
    expect(await metricValue('eric_producer_ingest_requests_total', { status: '413' })).toBe(2);
    expect((await app.inject('/ready')).json()).toMatchObject({ ready: true, checks: { kafka: { ready: true } } });
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    const text = (await app.inject('/metrics')).body;
    expect(text).toMatch(/eric_producer_kafka_available 1/);
    expect(text).toMatch(/eric_producer_queued_visits 0/);
  });
});

describe('POST /v1/visits with ingest keys and account budgets', () => {
  const KEY_SEVEN = 'key-of-account-seven-0123456789';
  const KEY_ALL = 'key-of-every-account-012345678';

  it('writes to Kafka nothing of a request refused with 403 or 429, and everything of the others', async () => {
    const keyedRegistry = createMetricsRegistry();
    const keyed = buildApp({
      logger,
      registry: keyedRegistry,
      readiness,
      metrics: createProducerMetrics(keyedRegistry),
      writer,
      // 5 visits a second with a one-second burst: a sixth visit of an account in a row is over budget.
      ingest: { ...loadProducerConfig({ env: {} }).ingest, keys: `${KEY_SEVEN}=7;${KEY_ALL}=*`, maxVisits: 5, accountVisitsPerSecond: 5, accountBurstSeconds: 1 },
      // A clock that stands still: no budget refills between the requests, however slow the machine.
      now: () => 1_700_000_000,
    });
    const send = (key: string, visits: Visit[]) =>
      keyed.inject({ method: 'POST', url: '/v1/visits', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: JSON.stringify(visits) });
    const visit = (account: number): Visit => ({ id: uniqueName(`keyed-${account}`), account_id: account, store_id: null, timestamp: 1_700_000_000 });

    const accepted = [visit(7), visit(7), visit(7), visit(7), visit(7)];
    expect((await send(KEY_SEVEN, accepted)).statusCode).toBe(202);
    const forbidden = [visit(7), visit(8)];
    expect((await send(KEY_SEVEN, forbidden)).statusCode).toBe(403);
    const overBudget = [visit(9), visit(7)];
    const refused = await send(KEY_ALL, overBudget);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    const other = [visit(9), visit(9), visit(9), visit(9), visit(9)];
    expect((await send(KEY_ALL, other)).statusCode).toBe(202);
    await keyed.close();

    written += accepted.length + other.length;
    const onTopic = await topicVisits(written + 1);
    expect(onTopic.size).toBe(written);
    for (const v of [...accepted, ...other]) expect(onTopic.get(v.id)).toEqual(v);
    for (const v of [...forbidden, ...overBudget]) expect(onTopic.has(v.id)).toBe(false);
  });
});
