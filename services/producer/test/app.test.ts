/**
 * The ingest route's answers that need no Kafka: a fake writer stands in for the broker, so these
 * pin what a client sees for a wrong method or an invalid visit.
 */
import { Readiness, createLogger, createMetricsRegistry } from '@eric/shared';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createProducerMetrics } from '../src/metrics.js';

let app: FastifyInstance;

beforeAll(async () => {
  const registry = createMetricsRegistry();
  app = buildApp({
    logger: createLogger('producer-test', 'silent'),
    registry,
    readiness: new Readiness(),
    metrics: createProducerMetrics(registry),
    writer: { write: async (visits) => ({ ok: true, written: visits.length }) },
    ingest: { bodyLimitBytes: 64 * 1024, maxVisits: 100, retryAfterSeconds: 1 },
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
});

describe('the ingest path', () => {
  it.each(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'] as const)('answers %s with 405 and Allow: POST', async (method) => {
    const response = await app.inject({ method, url: '/v1/visits' });
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('POST');
    if (method !== 'HEAD') expect(response.json()).toMatchObject({ error: 'method_not_allowed' });
  });

  it('says an account id beyond 2^53 - 1 is out of range instead of quoting a rounded number', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/visits',
      headers: { 'content-type': 'application/json' },
      payload: '{"account_id": 9007199254740993, "store_id": null}',
    });
    expect(response.statusCode).toBe(400);
    const detail = (response.json() as { invalid: Array<{ detail: string }> }).invalid[0]?.detail;
    expect(detail).toBe('"account_id" is out of range: the largest account id is 9007199254740991 (2^53 - 1)');
    expect(detail).not.toContain('9007199254740992');
  });
});
