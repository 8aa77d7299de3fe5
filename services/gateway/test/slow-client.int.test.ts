import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, produce, startGateway, waitUntil, windowResult, type RunningGateway } from './helpers.js';

async function droppedSlow(gw: RunningGateway): Promise<number> {
  const text = await (await fetch(`${gw.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('eric_gateway_clients_dropped_total{reason="slow_consumer"}'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('a slow client', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ GATEWAY_WS_MAX_BUFFERED_BYTES: '16384' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('is disconnected with 1008 once its send queue is full, while the others get everything', async () => {
    const fast = await TestClient.connect(gw.wsUrl);
    const slow = await TestClient.connect(gw.wsUrl);
    // Stop reading: the kernel buffers fill, then the gateway's queue for this client grows.
    slow.socket.pause();

    // Distinct counts of one key, so each record is a change and a frame for both clients.
    let count = 0;
    for (let round = 0; round < 20 && (await droppedSlow(gw)) === 0; round += 1) {
      await produce(gw.topic, Array.from({ length: 10_000 }, () => windowResult({ account_id: 5, store_id: 'load', count: ++count })));
      await fast.waitFor((f) => f.count === count, `count ${count} at the fast client`);
    }
    expect(await droppedSlow(gw)).toBe(1);
    // The fast client saw every change, in order, without a gap.
    expect(fast.counts.filter((f) => f.account_id === 5).length).toBe(count);

    // Once the slow client reads again it finds the close frame behind what was queued.
    slow.socket.resume();
    const closed = await slow.closed;
    expect(closed).toEqual({ code: 1008, reason: 'send queue full: client too slow' });
    await waitUntil(async () => {
      const text = await (await fetch(`${gw.baseUrl}/metrics`)).text();
      return text.includes('eric_gateway_clients_connected 1');
    }, 'the connected gauge to count only the fast client');
    fast.close();
  });
});
