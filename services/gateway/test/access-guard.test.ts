/**
 * The access guard of /ws and /api on a real loopback socket (no broker): origin and host checks,
 * throttling of refused tokens, and the metric of every refusal.
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createHttpServer, createLogger, createMetricsRegistry } from '@eric/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessControl } from '../src/access.js';
import { createGuard } from '../src/access-guard.js';
import { createGatewayMetrics, type GaugeProbes } from '../src/metrics.js';
import { checkOrigin, parseAllowedOrigins } from '../src/origin-policy.js';

const TOKEN = 'team-token-0123456789abcdef';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** A GET with exactly these headers (fetch would not let a test set Host). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('access guard', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  /** A one-route app behind the guard, listening on 127.0.0.1. */
  async function guarded({ tokens = `${TOKEN}=1`, origins = '', max = 3 } = {}) {
    const registry = createMetricsRegistry();
    // No gauge is read here: every probe answers 0, whatever probes the metrics grow.
    const metrics = createGatewayMetrics(registry, new Proxy({} as GaugeProbes, { get: () => () => 0 }));
    app = createHttpServer(createLogger('gateway', 'silent'));
    await app.register(async (api) => {
      const guard = await createGuard(api, { access: new AccessControl(tokens), origins: parseAllowedOrigins(origins), refusals: { max, windowSeconds: 60 }, metrics });
      api.get('/api/probe', async (request, reply) => ((await guard(request, reply)) === null ? reply : { ok: true }));
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const refused = async (reason: string) =>
      Number((await registry.metrics()).split('\n').find((line) => line.startsWith(`eric_gateway_requests_refused_total{reason="${reason}"}`))?.split(' ').pop() ?? 0);
    return { port, refused };
  }

  it('refuses a page of a foreign origin with 403 and the reason; its own host, a listed origin and a non-browser pass', async () => {
    const { port, refused } = await guarded({ tokens: '', origins: 'https://dash.example.com' });
    const foreign = await get(port, '/api/probe', { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ error: 'forbidden', reason: 'origin_not_allowed' });
    expect((await get(port, '/api/probe', { origin: 'null' })).status).toBe(403);
    expect((await get(port, '/api/probe', { origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect((await get(port, '/api/probe', { origin: 'https://dash.example.com' })).status).toBe(200);
    expect((await get(port, '/api/probe')).status).toBe(200);
    expect(await refused('origin_not_allowed')).toBe(2);
  });

  it('on loopback refuses a Host that is not a loopback name (DNS rebinding), even with a matching Origin', async () => {
    const { port, refused } = await guarded({ tokens: '' });
    const rebound = await get(port, '/api/probe', { host: `evil.example:${port}`, origin: `http://evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toMatchObject({ reason: 'host_not_allowed' });
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost']) {
      expect((await get(port, '/api/probe', { host })).status).toBe(200);
    }
    expect(await refused('host_not_allowed')).toBe(1);
  });

  it('answers 429 with Retry-After after max refused tokens from one address, then even to the right token', async () => {
    const { port, refused } = await guarded({ max: 3 });
    for (let i = 0; i < 3; i += 1) {
      expect((await get(port, '/api/probe', { authorization: `Bearer wrong-token-0123456789abcd${i}` })).status).toBe(401);
    }
    const throttled = await get(port, '/api/probe', { authorization: `Bearer ${TOKEN}` });
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(throttled.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(throttled.body).toMatchObject({ reason: 'throttled' });
    expect(await refused('token_rejected')).toBe(3);
    expect(await refused('throttled')).toBe(1);
  });

  it('does not count good tokens or origin refusals against an address', async () => {
    const { port } = await guarded({ max: 2 });
    for (let i = 0; i < 5; i += 1) {
      expect((await get(port, '/api/probe', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
      expect((await get(port, '/api/probe', { origin: 'http://evil.example' })).status).toBe(403);
    }
    expect((await get(port, '/api/probe')).status).toBe(401);
    expect((await get(port, '/api/probe', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });
});

describe('origin policy', () => {
  const none = parseAllowedOrigins('');

  it('checks the Host only on a loopback address', () => {
    expect(checkOrigin(none, undefined, 'eric.example.com', '10.0.0.7')).toBeNull();
    expect(checkOrigin(none, undefined, 'eric.example.com', '127.0.0.1')).toMatchObject({ reason: 'host_not_allowed' });
    expect(checkOrigin(none, undefined, 'eric.example.com', '::ffff:127.0.0.1')).toMatchObject({ reason: 'host_not_allowed' });
    expect(checkOrigin(none, undefined, 'eric.example.com', '::1')).toMatchObject({ reason: 'host_not_allowed' });
  });

  it('compares the Origin with the Host, default ports included', () => {
    expect(checkOrigin(none, 'https://eric.example.com', 'eric.example.com:443', '10.0.0.7')).toBeNull();
    expect(checkOrigin(none, 'https://eric.example.com', 'eric.example.com:6066', '10.0.0.7')).not.toBeNull();
    expect(checkOrigin(parseAllowedOrigins('*'), 'http://anything.example', 'eric.example.com', '10.0.0.7')).toBeNull();
  });

  it.each([['dash.example.com'], ['https://dash.example.com/path'], ['ftp://dash.example.com'], ['https://user@dash.example.com']])(
    'refuses %s as an allowed origin',
    (entry) => {
      expect(() => parseAllowedOrigins(entry)).toThrow(/not an origin/);
    },
  );
});
