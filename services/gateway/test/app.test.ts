/**
 * The HTTP and websocket surface without Kafka: the collator is fed directly, the hub fans out to
 * real websocket clients on a loopback port.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Readiness, createLogger, createMetricsRegistry, type WindowResult } from '@eric/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessControl } from '../src/access.js';
import { parseAllowedOrigins } from '../src/origin-policy.js';
import { buildApp } from '../src/app.js';
import { Collator } from '../src/collator.js';
import type { WindowView } from '../src/protocol.js';
import { SOCKET_WRITE_WINDOW } from '../src/send-queue.js';
import { Hub, type HubOptions } from '../src/hub.js';
import { createGatewayMetrics } from '../src/metrics.js';
import { TestClient, closeCodeAfterUnreadSend, waitUntil, type Frame } from './ws-client.js';

const NOW = Math.floor(Date.now() / 1000);
const WINDOW: [number, number] = [NOW - (NOW % 60), NOW - (NOW % 60) + 60];

/** Log lines as objects, for tests of what the gateway logs. */
function capturingLogger(lines: Array<Record<string, unknown>>) {
  return createLogger('gateway', 'debug', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
}

interface HarnessOptions {
  hub?: Partial<HubOptions>;
  collatorMaxKeys?: number;
  pageMaxKeys?: number;
  restRequestsPerMinute?: number;
}

async function harness(tokens = '', maxClients = 100, logger = createLogger('gateway', 'silent'), options: HarnessOptions = {}) {
  const registry = createMetricsRegistry();
  const collator = new Collator({ retentionSeconds: 3600, maxKeys: options.collatorMaxKeys ?? 1000 });
  const metrics = createGatewayMetrics(registry, { keysHeld: () => collator.size, consumerOffset: () => 0, queuedBytes: () => hub.queuedBytes });
  const hub = new Hub({
    maxBufferedBytes: 1 << 20,
    memoryBudgetBytes: 64 << 20,
    maxClients,
    messagesPerSecond: 5,
    messageBurst: 20,
    pingIntervalMs: 60_000,
    snapshotWindows: 30,
    snapshotMaxKeys: 50_000,
    logger,
    metrics,
    snapshot: (include, windows, maxKeys) => collator.snapshot(include, windows, maxKeys),
    ...options.hub,
    snapshotVersion: () => collator.version,
  });
  const app = await buildApp({
    logger,
    registry,
    readiness: new Readiness(),
    metrics,
    access: new AccessControl(tokens),
    origins: parseAllowedOrigins(''),
    refusals: { max: 10, windowSeconds: 60 },
    collator,
    hub,
    caughtUp: () => true,
    maxPayloadBytes: 4096,
    snapshotWindows: 30,
    pageMaxKeys: options.pageMaxKeys ?? 50_000,
    restRequestsPerMinute: options.restRequestsPerMinute ?? 1000,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  /** Applies results and publishes the changes as one batch, as the follower does. */
  const feed = (...results: Array<Partial<WindowResult>>) => {
    const changed: WindowView[] = [];
    for (const r of results) {
      const outcome = collator.apply({ account_id: 1, store_id: 'web', window: WINDOW, count: 1, final: false, partition: 0, emitted_at: NOW, ...r }, NOW);
      if (outcome.changed) changed.push(outcome.view);
    }
    return hub.publish(changed);
  };
  const metric = async (line: RegExp) => Number((await registry.metrics()).split('\n').find((l) => line.test(l))?.split(' ').pop() ?? 0);
  return { app, hub, collator, feed, metric, port, ws: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}` };
}

describe('gateway app (no broker)', () => {
  let app: FastifyInstance | undefined;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await app?.close();
  });
  const connect = async (url: string) => {
    const client = await TestClient.connect(url);
    clients.push(client);
    return client;
  };

  it('serves the dashboard and everything it loads itself, under a strict content security policy', async () => {
    const h = await harness();
    app = h.app;
    const response = await fetch(`${h.http}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'; script-src 'self'; style-src 'self'");
    const html = await response.text();
    expect(html).toContain('<title>Eric');
    // Nothing from another host (no CDN): every file the page names is the gateway's own.
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
    expect(references).toEqual(['vendor/uPlot.min.css', 'dashboard/dashboard.css', 'dashboard/main.js']);
    for (const path of [...references, 'vendor/uPlot.esm.js', 'dashboard/chart.js']) {
      const asset = await fetch(`${h.http}/${path}`);
      expect({ path, status: asset.status }).toEqual({ path, status: 200 });
      expect(asset.headers.get('content-type')).toMatch(path.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    }
    expect((await fetch(`${h.http}/dashboard/missing.js`)).status).toBe(404);
  });

  it('says why a request without a usable token is refused, and what a token may see', async () => {
    const h = await harness('scoped-token-0123456789abc=2,1;admin-token-0123456789abcde=*');
    app = h.app;
    const missing = await fetch(`${h.http}/api/access`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: 'unauthorized', reason: 'token_required' });
    const wrong = await fetch(`${h.http}/api/access?token=wrong-token-0123456789abcd`);
    expect(await wrong.json()).toMatchObject({ error: 'unauthorized', reason: 'token_rejected' });
    expect(await (await fetch(`${h.http}/api/access?token=scoped-token-0123456789abc`)).json()).toEqual({ access_control: true, accounts: [1, 2] });
    expect(await (await fetch(`${h.http}/api/access`, { headers: { authorization: 'Bearer admin-token-0123456789abcde' } })).json()).toEqual({ access_control: true, accounts: '*' });
  });

  it('sends as many windows in the snapshot as ?windows= asks', async () => {
    const h = await harness();
    app = h.app;
    for (let ago = 0; ago < 40; ago += 1) h.feed({ window: [WINDOW[0] - ago * 60, WINDOW[1] - ago * 60], count: ago + 1 });
    const byDefault = await connect(h.ws);
    const hour = await connect(`${h.ws}?windows=60`);
    await byDefault.sync();
    await hour.sync();
    expect([byDefault.counts.length, hour.counts.length]).toEqual([30, 40]);
    await expect(TestClient.connect(`${h.ws}?windows=0`)).rejects.toThrow('HTTP 400');
  });

  it('sends the snapshot on connect, then batches of changes, each to the clients that want them', async () => {
    const h = await harness();
    app = h.app;
    h.feed({ account_id: 1, count: 5 });
    const all = await connect(h.ws);
    const two = await connect(h.ws);
    await two.setFilter({ account: 2 });
    const afterFilter = two.frames.length; // before it: the unfiltered snapshot
    await all.waitFor((f) => f.count === 5);

    expect(h.feed({ account_id: 1, count: 6 }, { account_id: 2, count: 7 }, { account_id: 2, count: 7 })).toBe(3); // 2 to all, 1 to two
    await all.waitFor((f) => f.account_id === 2 && f.count === 7);
    await two.waitFor((f) => f.account_id === 2 && f.count === 7);
    await all.sync();
    await two.sync();
    expect(all.counts.map((f) => [f.account_id, f.count])).toEqual([[1, 5], [1, 6], [2, 7]]);
    expect(two.frames.slice(afterFilter).filter((f) => f.type === undefined).map((f) => [f.account_id, f.count])).toEqual([[2, 7]]);
  });

  it('gives clients connecting after a change the new snapshot (the shared one is refreshed)', async () => {
    const h = await harness();
    app = h.app;
    h.feed({ account_id: 1, count: 1 });
    const first = await connect(h.ws);
    await first.sync();
    h.feed({ account_id: 1, count: 2 }, { account_id: 4, count: 3 });
    const second = await connect(h.ws);
    await second.sync();
    expect(first.counts.map((f) => [f.account_id, f.count])).toEqual([[1, 1], [1, 2], [4, 3]]);
    expect(second.counts.map((f) => [f.account_id, f.count])).toEqual([[1, 2], [4, 3]]);
  });

  it('keeps a restricted client to its accounts, with or without a filter', async () => {
    const h = await harness('restricted-token-0123456789=2');
    app = h.app;
    const client = await connect(`${h.ws}?token=restricted-token-0123456789`);
    h.feed({ account_id: 1, count: 1 }, { account_id: 2, count: 2 });
    h.feed({ account_id: 3, count: 3 });
    h.feed({ account_id: 2, count: 4 });
    await client.waitFor((f) => f.count === 4);
    client.send({ type: 'setFilter', filter: { account: 1 } });
    await client.waitFor((f) => f.error === 'forbidden');
    await client.setFilter({});
    expect(client.counts.every((f) => f.account_id === 2)).toBe(true);
  });

  it('validates the REST parameters and the token', async () => {
    const h = await harness('rest-token-0123456789abcdef=1');
    app = h.app;
    h.feed({ account_id: 1, count: 9 }, { account_id: 5, count: 1 });
    const auth = { headers: { authorization: 'Bearer rest-token-0123456789abcdef' } };
    expect((await fetch(`${h.http}/api/active-visitors`)).status).toBe(401);
    expect((await fetch(`${h.http}/api/active-visitors?account=x`, auth)).status).toBe(400);
    expect((await fetch(`${h.http}/api/active-visitors?windows=0`, auth)).status).toBe(400);
    expect((await fetch(`${h.http}/api/active-visitors?account=5`, auth)).status).toBe(403);
    const body = (await (await fetch(`${h.http}/api/active-visitors?store=web`, auth)).json()) as Frame;
    expect(body).toEqual({
      caught_up: true,
      results: [{ account_id: 1, store_id: 'web', ts_from: WINDOW[0], ts_to: WINDOW[1], count: 9, final: false }],
      next_cursor: null,
    });
  });

  it('turns away clients beyond the limit with 1013', async () => {
    const h = await harness('', 1);
    app = h.app;
    const first = await connect(h.ws);
    const second = await connect(h.ws);
    expect(await second.closed).toEqual({ code: 1013, reason: 'too many clients' });
    expect(first.socket.readyState).toBe(1);
  });

  it('closes on a 10 MB frame with 1009, counts each one, and logs one warning without a stack', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const h = await harness('', 100, capturingLogger(lines));
    app = h.app;
    for (let i = 0; i < 3; i += 1) expect(await closeCodeAfterUnreadSend(h.port, 10 * 1024 * 1024)).toBe(1009);
    await waitUntil(async () => (await h.metric(/^eric_gateway_clients_dropped_total\{reason="oversized_message"\}/)) === 3, 'three drops counted');
    expect(lines.filter((line) => (line.level as number) >= 50)).toEqual([]);
    expect(lines.filter((line) => line.err !== undefined)).toEqual([]);
    expect(lines.filter((line) => line.level === 40)).toEqual([
      expect.objectContaining({ reason: 'oversized_message', msg: expect.stringContaining('over the size limit') }),
    ]);
  });

  it('refuses bad messages with a rate-limited warning, never an error', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const h = await harness('', 100, capturingLogger(lines), { hub: { messageBurst: 100 } });
    app = h.app;
    const client = await connect(h.ws);
    for (let i = 0; i < 50; i += 1) client.send({ type: 'setFilter', filter: { acount: 352 } });
    await waitUntil(() => client.frames.filter((f) => f.error === 'invalid_filter').length === 50, 'fifty refusals');
    expect(await h.metric(/^eric_gateway_client_messages_rejected_total\{error="invalid_filter"\}/)).toBe(50);
    expect(lines.filter((line) => (line.level as number) >= 40)).toEqual([
      expect.objectContaining({ level: 40, error: 'invalid_filter', msg: 'websocket client message refused' }),
    ]);
  });

  it('closes every client with 1001 when the hub shuts down', async () => {
    const h = await harness();
    app = h.app;
    const client = await connect(h.ws);
    h.hub.close();
    expect((await client.closed).code).toBe(1001);
  });

  // Hostile or heavy clients.
  /** `keys` counts in the current window, one per account, all of store "web". */
  const fill = (collator: Collator, keys: number) => {
    for (let account = 1; account <= keys; account += 1) {
      collator.apply({ account_id: account, store_id: 'web', window: WINDOW, count: 1, final: false, partition: 0, emitted_at: NOW }, NOW);
    }
  };
  const openConnections = (h: { app: FastifyInstance }) =>
    new Promise<number>((resolve, reject) => h.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

  it('closes a client that floods messages with 1008 and keeps serving the others', async () => {
    const h = await harness();
    app = h.app;
    const flooder = await connect(h.ws);
    const calm = await connect(h.ws);
    for (let i = 0; i < 30; i += 1) flooder.send({ type: 'setFilter', filter: { account: i } });
    expect(await flooder.closed).toEqual({ code: 1008, reason: 'too many messages' });
    expect(await h.metric(/^eric_gateway_clients_dropped_total\{reason="message_flood"\}/)).toBe(1);
    h.feed({ account_id: 1, count: 3 });
    await calm.waitFor((f) => f.count === 3, 'the live count at the calm client');
  });

  it('keeps its memory flat when a client that never reads sends setFilter after setFilter, and drops it', async () => {
    const h = await harness('', 100, undefined, { collatorMaxKeys: 30_000 });
    app = h.app;
    fill(h.collator, 20_000);
    const reader = await connect(h.ws);
    await reader.sync();
    const rssBefore = process.memoryUsage().rss;
    const hostile = await connect(h.ws);
    hostile.socket.pause(); // never reads: every snapshot would stay queued in the gateway
    for (let i = 0; i < 400; i += 1) hostile.send({ type: 'setFilter', filter: { store: 'web' } });
    await waitUntil(async () => (await h.metric(/^eric_gateway_clients_dropped_total\{reason="message_flood"\}/)) === 1, 'the flooder to be dropped');
    const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    // 400 snapshots of 20 000 counts are ~800 MB; one is ~2 MB.
    expect(grownMiB).toBeLessThan(200);
    expect(h.hub.queuedBytes).toBe(SOCKET_WRITE_WINDOW); // the reader's window: the flooder's queue is gone
    // It never answers the close frame: its connection is cut after the close timeout, not held 30 s.
    await waitUntil(async () => (await openConnections(h)) === 1, "the flooder's connection to be cut", 20_000);
    expect(reader.socket.readyState).toBe(1);
  }, 60_000); // it waits out the 5 s close timeout on purpose

  it('closes a client whose own snapshot would overdraw the memory budget with 1013', async () => {
    const h = await harness('', 100, undefined, { collatorMaxKeys: 30_000, hub: { memoryBudgetBytes: 1 << 20 } });
    app = h.app;
    fill(h.collator, 20_000);
    const everything = await connect(h.ws); // the shared snapshot: held once, not charged per client
    const filtered = await connect(h.ws);
    filtered.send({ type: 'setFilter', filter: { store: 'web' } }); // ~2 MB encoded for it alone
    expect(await filtered.closed).toEqual({ code: 1013, reason: 'gateway memory budget reached: try again later' });
    expect(await h.metric(/^eric_gateway_clients_dropped_total\{reason="memory_budget"\}/)).toBe(1);
    await waitUntil(() => everything.counts.length === 20_000, 'the whole shared snapshot');
  });

  it('serves a window of more keys than a snapshot holds: a capped websocket snapshot, and every key over REST pages', async () => {
    // The limits scaled down tenfold (collator.test.ts snapshots 200 000 keys in one window).
    const h = await harness('', 100, undefined, { collatorMaxKeys: 30_000, pageMaxKeys: 5_000, hub: { snapshotMaxKeys: 5_000 } });
    app = h.app;
    fill(h.collator, 20_000);

    const client = await connect(h.ws);
    await client.sync();
    expect(client.counts.length).toBe(5_000);
    expect(await h.metric(/^eric_gateway_snapshots_truncated_total\{surface="websocket"\}/)).toBe(1);

    const seen = new Set<number>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '' : `?cursor=${cursor}`;
      const response = await fetch(`${h.http}/api/active-visitors${query}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as { results: WindowView[]; next_cursor: string | null };
      expect(page.results.length).toBeLessThanOrEqual(5_000);
      for (const view of page.results) seen.add(view.account_id);
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect([seen.size, pages]).toEqual([20_000, 4]);
    expect((await fetch(`${h.http}/api/active-visitors?cursor=bm9wZQ`)).status).toBe(400);
  });
  it('tells an address that polls the REST snapshot in a loop to slow down (429), without touching the websocket', async () => {
    const h = await harness('', 100, undefined, { restRequestsPerMinute: 3 });
    app = h.app;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await fetch(`${h.http}/api/active-visitors`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await fetch(`${h.http}/api/active-visitors`);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const client = await connect(h.ws);
    h.feed({ account_id: 2, count: 4 });
    await client.waitFor((f) => f.count === 4, 'a live count');
  });
});
