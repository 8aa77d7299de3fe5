/**
 * The ingest route's answers that need no Kafka: a fake writer stands in for the broker, so these
 * pin what a client sees for a wrong method, an invalid visit, a missing or wrong ingest key, a
 * flood, and a body that never finishes arriving.
 */
import { Readiness, createLogger, createMetricsRegistry, type Visit } from '@eric/shared';
import type { FastifyInstance } from 'fastify';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type IngestSettings } from '../src/app.js';
import { loadProducerConfig } from '../src/config.js';
import { createProducerMetrics } from '../src/metrics.js';

const NOW = 1_700_000_000;

/** An app with the default ingest settings but `changes`, a fixed clock, and a writer that records what it was given. */
function testApp(changes: Partial<IngestSettings> = {}) {
  const registry = createMetricsRegistry();
  const written: Visit[] = [];
  const app = buildApp({
    logger: createLogger('producer-test', 'silent'),
    registry,
    readiness: new Readiness(),
    metrics: createProducerMetrics(registry),
    writer: {
      write: async (visits) => {
        written.push(...visits);
        return { ok: true, written: visits.length };
      },
    },
    ingest: { ...loadProducerConfig({ env: {} }).ingest, bodyLimitBytes: 64 * 1024, maxVisits: 100, ...changes },
    now: () => NOW,
  });
  const refused = async (reason: string) => {
    const metric = await registry.getSingleMetric('eric_producer_ingest_refused_total')?.get();
    return metric?.values.find((value) => value.labels.reason === reason)?.value ?? 0;
  };
  return { app, written, refused };
}

const visit = (account: number, id = `v-${account}-${Math.random()}`) => ({ id, account_id: account, store_id: null, timestamp: NOW });

function post(app: FastifyInstance, visits: unknown, headers: Record<string, string> = {}, remoteAddress = '10.0.0.1') {
  return app.inject({ method: 'POST', url: '/v1/visits', remoteAddress, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(visits) });
}

let app: FastifyInstance;

beforeAll(async () => {
  app = testApp().app;
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

describe('ingest keys', () => {
  const KEY_ONE = 'key-of-account-one-0123456789ab';
  const KEY_ALL = 'key-of-every-account-0123456789';
  const { app: keyed, written, refused } = testApp({ keys: `${KEY_ONE}=1;${KEY_ALL}=*` });
  afterAll(() => keyed.close());

  it('lets a key send the accounts it is bound to', async () => {
    const response = await post(keyed, [visit(1, 'one-a')], { authorization: `Bearer ${KEY_ONE}` });
    expect(response.statusCode).toBe(202);
    expect((await post(keyed, [visit(2, 'two-a')], { authorization: `Bearer ${KEY_ALL}` })).statusCode).toBe(202);
    expect(written.map((v) => v.id)).toEqual(['one-a', 'two-a']);
  });

  it('refuses with 403 a request with a visit of another account, and writes none of it', async () => {
    const before = written.length;
    const response = await post(keyed, [visit(1), visit(2), visit(3)], { authorization: `bearer ${KEY_ONE}` });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ error: 'account_not_allowed', accounts: [2, 3] });
    expect(response.json().message).toContain('account 2, 3');
    expect(written.length).toBe(before);
    expect(await refused('account_not_allowed')).toBe(1);
  });

  it.each([
    ['no key', {}, 'missing_key'],
    ['a wrong key', { authorization: `Bearer ${KEY_ONE}x` }, 'unknown_key'],
    ['another scheme', { authorization: `Basic ${KEY_ONE}` }, 'missing_key'],
  ])('refuses %s with 401', async (_what, headers: Record<string, string>, reason) => {
    const response = await post(keyed, [visit(1)], headers);
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.json()).toMatchObject({ error: reason });
  });

  it('never takes a key from the URL (proxies and access logs keep URLs)', async () => {
    const response = await keyed.inject({ method: 'POST', url: `/v1/visits?token=${KEY_ONE}&key=${KEY_ONE}`, payload: JSON.stringify([visit(1)]) });
    expect(response.statusCode).toBe(401);
  });

  it('counts the refusals by reason', async () => {
    expect(await refused('missing_key')).toBeGreaterThanOrEqual(2);
    expect(await refused('unknown_key')).toBe(1);
  });
});

describe('rate limits', () => {
  it('answers a flood from one address with 429 and Retry-After, and still serves another address', async () => {
    const { app: limited, refused } = testApp({ clientRequestsPerSecond: 5 });
    // 40 requests against 5 a second: even a machine slow enough to roll the one-second window
    // over a few times refuses most of them.
    const statuses: number[] = [];
    let tooMany: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 40; i++) {
      const response = await post(limited, [visit(1)], {}, '10.0.0.66');
      statuses.push(response.statusCode);
      if (response.statusCode === 429) tooMany = response;
    }
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(20);
    expect(tooMany?.headers['retry-after']).toMatch(/^\d+$/);
    expect(tooMany?.json()).toMatchObject({ error: 'client_rate_limited' });
    expect(await refused('client_rate_limited')).toBeGreaterThan(20);

    expect((await post(limited, [visit(1)], {}, '10.0.0.7')).statusCode).toBe(202);
    // The operations routes are never limited.
    expect((await limited.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.0.0.66' })).statusCode).toBe(200);
    await limited.close();
  });

  it('refuses a request over its account budget whole with 429, and another account still gets through', async () => {
    // 10 visits a second with a one-second burst; the clock stands still, so nothing refills.
    const { app: limited, written, refused } = testApp({ accountVisitsPerSecond: 10, accountBurstSeconds: 1, maxVisits: 10 });
    const ten = Array.from({ length: 10 }, (_, i) => visit(1, `one-${i}`));
    expect((await post(limited, ten)).statusCode).toBe(202);

    const over = await post(limited, [visit(2, 'two-first'), visit(1, 'one-over')]);
    expect(over.statusCode).toBe(429);
    expect(over.headers['retry-after']).toBe('1');
    expect(over.json()).toMatchObject({ error: 'account_over_budget', account: 1 });
    expect(written.map((v) => v.id)).not.toContain('two-first');
    expect(written.map((v) => v.id)).not.toContain('one-over');
    expect(await refused('account_over_budget')).toBe(1);

    // Account 2 was not charged for the refused request: its whole budget is left.
    const otherTen = Array.from({ length: 10 }, (_, i) => visit(2, `two-${i}`));
    expect((await post(limited, otherTen, {}, '10.0.0.2')).statusCode).toBe(202);
    await limited.close();
  });
});

describe('timestamps ahead of the clock', () => {
  it('takes a visit up to 60 s ahead by default, and refuses one 120 s ahead', async () => {
    expect((await post(app, [{ ...visit(1), timestamp: NOW + 50 }])).statusCode).toBe(202);
    const response = await post(app, [{ ...visit(1), timestamp: NOW + 120 }]);
    expect(response.statusCode).toBe(400);
    expect(response.json().invalid[0]).toMatchObject({ reason: 'timestamp_out_of_range' });
  });
});

describe('the request timeout', () => {
  it('cuts off a body trickled byte by byte with 408 and closes the connection', async () => {
    const { app: timed, refused } = testApp({ requestTimeoutMs: 500 });
    await timed.listen({ host: '127.0.0.1', port: 0 });
    const { port } = timed.server.address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(`POST /v1/visits HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n[`);
    // One byte every 20 ms would take 20 minutes to finish; give up trickling after 30 s.
    let sent = 0;
    const trickle = setInterval(() => {
      if (!socket.destroyed && sent++ < 1500) socket.write(' ');
    }, 20);
    await closed;
    clearInterval(trickle);
    expect(sent).toBeLessThan(1500);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(await refused('request_timeout')).toBe(1);
    await timed.close();
  }, 60_000);
});
