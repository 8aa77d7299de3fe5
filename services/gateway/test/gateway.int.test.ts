import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TopicAdmin } from '@eric/shared';
import { uniqueName } from '@eric/shared/testing';
import { TestClient, createTopic, produce, settings, startGateway, waitUntil, windowResult, type Frame, type RunningGateway } from './helpers.js';

async function metric(gateway: RunningGateway, line: RegExp): Promise<number> {
  const text = await (await fetch(`${gateway.baseUrl}/metrics`)).text();
  const match = text.split('\n').find((l) => line.test(l));
  return match ? Number(match.split(' ').pop()) : 0;
}

describe('gateway on a real broker', () => {
  let gw: RunningGateway;
  const clients: TestClient[] = [];
  const connect = async (url = gw.wsUrl, options?: WebSocket.ClientOptions) => {
    const client = await TestClient.connect(url, options);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await gw?.close();
  });

  it('turns records on active-visitors into websocket frames of the original shape', async () => {
    const client = await connect();
    const result = windowResult({ account_id: 11, store_id: 'web', count: 42 });
    await produce(gw.topic, [result]);
    const frame = await client.waitFor((f) => f.account_id === 11);
    expect(frame).toEqual({ account_id: 11, store_id: 'web', ts_from: result.window[0], ts_to: result.window[1], count: 42, final: false });
  });

  it('collates through Kafka: partitions summed, the final superseding provisional counts', async () => {
    const client = await connect();
    const window: [number, number] = [Math.floor(Date.now() / 60_000) * 60 - 60, Math.floor(Date.now() / 60_000) * 60];
    await produce(gw.topic, [
      windowResult({ account_id: 12, store_id: null, window, partition: 0, count: 3 }),
      windowResult({ account_id: 12, store_id: null, window, partition: 1, count: 2 }),
      windowResult({ account_id: 12, store_id: null, window, partition: 0, count: 4, final: true }),
      windowResult({ account_id: 12, store_id: null, window, partition: 1, count: 2, final: true }),
      windowResult({ account_id: 12, store_id: null, window, partition: 1, count: 1, final: false }), // stale re-delivery
    ]);
    await client.waitFor((f) => f.account_id === 12 && f.final === true);
    await client.sync();
    expect(client.counts.filter((f) => f.account_id === 12).map((f) => [f.count, f.final])).toEqual([
      [3, false],
      [5, false],
      [6, false],
      [6, true],
    ]);
  });

  it('gives a new client the current counts first, then live updates', async () => {
    const first = windowResult({ account_id: 13, store_id: 'a', count: 7 });
    const second = windowResult({ account_id: 13, store_id: 'b', count: 9 });
    await produce(gw.topic, [first, second]);
    await waitUntil(async () => {
      const body = (await (await fetch(`${gw.baseUrl}/api/active-visitors?account=13`)).json()) as Frame;
      return body.results.length === 2;
    }, 'the REST snapshot');

    const client = await connect();
    await client.sync();
    expect(client.counts.filter((f) => f.account_id === 13)).toEqual([
      { account_id: 13, store_id: 'a', ts_from: first.window[0], ts_to: first.window[1], count: 7, final: false },
      { account_id: 13, store_id: 'b', ts_from: second.window[0], ts_to: second.window[1], count: 9, final: false },
    ]);
    await produce(gw.topic, [windowResult({ account_id: 13, store_id: 'a', count: 8 })]);
    await client.waitFor((f) => f.account_id === 13 && f.store_id === 'a' && f.count === 8);
  });

  it('serves the same counts over REST, filtered by account and store', async () => {
    const response = await fetch(`${gw.baseUrl}/api/active-visitors?account=13&store=b`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Frame;
    expect(body.caught_up).toBe(true);
    expect(body.results).toEqual([expect.objectContaining({ account_id: 13, store_id: 'b', count: 9 })]);
    expect((await fetch(`${gw.baseUrl}/api/active-visitors?account=minus-one`)).status).toBe(400);
  });

  it('applies setFilter by account and by account and store, with a fresh snapshot', async () => {
    const client = await connect();
    await client.setFilter({ account: 13 });
    const snapshot = client.counts.slice();
    expect(snapshot.length).toBeGreaterThan(0);
    // What arrived after the filter was set is account 13 only (the first frames are the
    // unfiltered connect snapshot).
    const before = client.frames.length;
    await produce(gw.topic, [windowResult({ account_id: 14, count: 1 }), windowResult({ account_id: 13, store_id: 'b', count: 10 })]);
    await client.waitFor((f) => f.account_id === 13 && f.count === 10);
    expect(client.frames.slice(before).filter((f) => f.account_id === 14)).toEqual([]);

    await client.setFilter({ account: 13, store: 'a' });
    const mark = client.frames.length;
    await produce(gw.topic, [windowResult({ account_id: 13, store_id: 'b', count: 11 }), windowResult({ account_id: 13, store_id: 'a', count: 12 })]);
    await client.waitFor((f) => f.store_id === 'a' && f.count === 12);
    expect(client.counts.filter((f) => f.store_id === 'b' && f.count === 11)).toEqual([]);
    expect(client.frames.slice(mark).every((f) => f.type === 'error' || (f.account_id === 13 && f.store_id === 'a'))).toBe(true);

    await client.setFilter({});
    await produce(gw.topic, [windowResult({ account_id: 15, count: 1 })]);
    await client.waitFor((f) => f.account_id === 15);
  });

  it('answers invalid messages with an error and keeps the connection', async () => {
    const client = await connect();
    client.send('this is not json');
    client.send({ type: 'setFilter', filter: { account: -3 } });
    client.send({ type: 'dance' });
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await waitUntil(() => client.frames.filter((f) => f.type === 'error').length === 4, 'four errors');
    expect(client.frames.filter((f) => f.type === 'error').map((f) => f.error)).toEqual([
      'invalid_json',
      'invalid_filter',
      'unknown_type',
      'binary_not_supported',
    ]);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    await produce(gw.topic, [windowResult({ account_id: 16, count: 5 })]);
    await client.waitFor((f) => f.account_id === 16);
    expect(await metric(gw, /^eric_gateway_client_messages_rejected_total\{error="invalid_json"\}/)).toBeGreaterThanOrEqual(1);
  });

  it('closes on the text close (1000) and refuses an oversized frame (1009)', async () => {
    const polite = await connect();
    polite.send('close');
    expect((await polite.closed).code).toBe(1000);

    const rude = await connect();
    rude.send(JSON.stringify({ type: 'setFilter', filter: { store: 'x'.repeat(10_000) } }));
    expect((await rude.closed).code).toBe(1009);
    expect(await metric(gw, /^eric_gateway_clients_dropped_total\{reason="oversized_message"\}/)).toBe(1);
  });

  it('skips a malformed record and goes on with the next', async () => {
    const client = await connect();
    await produce(gw.topic, ['{"not": "a window result"}', 'garbage', windowResult({ account_id: 17, count: 1 })]);
    await client.waitFor((f) => f.account_id === 17);
    expect(await metric(gw, /^eric_gateway_records_consumed_total\{outcome="invalid"\}/)).toBe(2);
  });

  it('reports ready with its position and exposes the eric_gateway metrics', async () => {
    const ready = await fetch(`${gw.baseUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as Frame).checks['active-visitors']).toMatchObject({ ready: true });
    const text = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    for (const name of [
      'eric_gateway_clients_connected',
      'eric_gateway_messages_sent_total',
      'eric_gateway_clients_dropped_total',
      'eric_gateway_fanout_latency_seconds_bucket',
      'eric_gateway_records_consumed_total',
      'eric_gateway_keys_held',
    ]) {
      expect(text).toContain(name);
    }
    expect(await metric(gw, /^eric_gateway_keys_held /)).toBeGreaterThan(5);
  });
});

describe('heartbeat', () => {
  it('drops a peer that stops answering pings, and keeps one that answers', async () => {
    // A gateway of its own: a short ping interval on the shared one could drop a client of
    // another test on a loaded machine.
    const gw = await startGateway({ GATEWAY_WS_PING_INTERVAL_SECONDS: '1' });
    const dead = await TestClient.connect(gw.wsUrl, { autoPong: false });
    const alive = await TestClient.connect(gw.wsUrl);
    try {
      await dead.closed;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(alive.socket.readyState).toBe(WebSocket.OPEN);
      expect(await metric(gw, /^eric_gateway_clients_dropped_total\{reason="ping_timeout"\}/)).toBe(1);
    } finally {
      alive.close();
      dead.close();
      await gw.close();
    }
  });
});

describe('gateway start-up', () => {
  it('rebuilds the view from the configured history, by record timestamp, before it reports ready', async () => {
    const topic = uniqueName('active-visitors');
    await createTopic(topic);
    const now = Date.now();
    // The first record is older than the 10-minute history (by its Kafka timestamp): the seek skips it.
    await produce(topic, [
      { value: windowResult({ account_id: 21, count: 1 }), timestampMs: now - 20 * 60_000 },
      { value: windowResult({ account_id: 22, count: 2 }), timestampMs: now - 5 * 60_000 },
      { value: windowResult({ account_id: 22, count: 3 }), timestampMs: now - 60_000 },
    ]);
    const gw = await startGateway({ GATEWAY_HISTORY_SECONDS: '600' }, topic);
    try {
      // startGateway returned once /ready said caught up: the history is in, nothing to wait for.
      const body = (await (await fetch(`${gw.baseUrl}/api/active-visitors`)).json()) as Frame;
      expect(body.results.map((r: { account_id: number; count: number }) => [r.account_id, r.count])).toEqual([[22, 3]]);
    } finally {
      await gw.close();
    }
  });

  it('refuses an active-visitors topic with more than one partition', async () => {
    const topic = uniqueName('active-visitors');
    const admin = new TopicAdmin(settings);
    await admin.ensureTopics([{ name: topic, partitions: 2 }]);
    admin.close();
    await expect(startGateway({}, topic)).rejects.toThrow(/has 2 partitions but 1 are required/);
  });
});
