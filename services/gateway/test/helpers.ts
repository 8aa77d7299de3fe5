/**
 * Integration-test helpers: a gateway running in this process against the real test broker, on
 * its own topic and a free port, and a websocket client that records what it receives.
 */
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';
import WebSocket from 'ws';
import { TopicAdmin, createLogger, kafka, rdkafkaConnectionConfig, type KafkaSettings, type WindowResult } from '@eric/shared';
import { testKafkaSettings, uniqueName } from '@eric/shared/testing';
import { loadGatewayConfig } from '../src/config.js';
import { createGateway, type Gateway } from '../src/gateway.js';

export const brokers = inject('kafkaBrokers');
export const settings: KafkaSettings = testKafkaSettings(brokers, 'gateway-test');

export interface RunningGateway {
  gateway: Gateway;
  topic: string;
  port: number;
  baseUrl: string;
  wsUrl: string;
  close(): Promise<void>;
}

/** Starts a gateway on `topic` (a fresh one by default) and waits until it is ready. */
export async function startGateway(env: Record<string, string> = {}, topic = uniqueName('active-visitors')): Promise<RunningGateway> {
  const config = loadGatewayConfig({
    env: { KAFKA_BROKERS: brokers, TOPIC_ACTIVE_VISITORS: topic, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', LOG_LEVEL: 'silent', ...env },
  });
  const gateway = await createGateway(config, createLogger('gateway', config.log.level));
  await gateway.app.listen({ host: config.http.host, port: Number(env.HTTP_PORT ?? 0) });
  await gateway.start();
  await waitUntil(async () => (await gateway.readiness.report()).ready, 'the gateway to be ready');
  const { port } = gateway.app.server.address() as AddressInfo;
  return {
    gateway,
    topic,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    async close() {
      await gateway.stop();
      await gateway.app.close();
    },
  };
}

/** Creates the single-partition topic the gateway reads (for tests that write before it starts). */
export async function createTopic(topic: string): Promise<void> {
  const admin = new TopicAdmin(settings);
  try {
    await admin.ensureTopics([{ name: topic, partitions: 1 }]);
  } finally {
    admin.close();
  }
}

let counter = 0;
/** A window result in the current minute, with fields overridden. */
export function windowResult(overrides: Partial<WindowResult> = {}): WindowResult {
  const start = Math.floor(Date.now() / 60_000) * 60;
  counter += 1;
  return { account_id: 1, store_id: 'web', window: [start, start + 60], count: counter, final: false, partition: 0, emitted_at: Date.now() / 1000, ...overrides };
}

/** Writes values to partition 0 of `topic`, with explicit record timestamps when given (ms). */
export async function produce(topic: string, records: Array<WindowResult | string | { value: WindowResult | string; timestampMs: number }>): Promise<void> {
  const producer = new kafka.Producer({ ...rdkafkaConnectionConfig(settings), dr_cb: true, 'linger.ms': 5, 'queue.buffering.max.messages': 1_000_000 });
  let pending = records.length;
  const acked = new Promise<void>((resolve, reject) => {
    if (pending === 0) resolve();
    producer.on('delivery-report', (err) => {
      if (err) reject(err);
      else if (--pending === 0) resolve();
    });
  });
  producer.setPollInterval(10);
  await kafka.connect(producer);
  try {
    for (const record of records) {
      const { value, timestampMs } = typeof record === 'object' && 'timestampMs' in record ? record : { value: record, timestampMs: Date.now() };
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      producer.produce(topic, 0, Buffer.from(text), null, timestampMs);
    }
    await kafka.flush(producer);
    await acked;
  } finally {
    await kafka.disconnect(producer);
  }
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export type Frame = any;

/** A websocket client that keeps every frame it receives. */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.frames.push(JSON.parse(data.toString())));
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(url, options);
    const client = new TestClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Counts only (no error messages). */
  get counts(): Frame[] {
    return this.frames.filter((frame) => frame.type === undefined);
  }

  async waitFor(predicate: (frame: Frame) => boolean, what = 'a frame', timeoutMs = 20_000): Promise<Frame> {
    let found: Frame;
    await waitUntil(() => (found = this.frames.find(predicate)) !== undefined, what, timeoutMs);
    return found;
  }

  /**
   * Sends setFilter and returns once the gateway has applied it: the server handles a client's
   * messages in order, so the error answer to a deliberate bad message comes after the filter.
   */
  async setFilter(filter: Record<string, unknown>): Promise<void> {
    this.send({ type: 'setFilter', filter });
    await this.sync();
  }

  async sync(): Promise<void> {
    const marker = `sync-${++counter}`;
    this.send({ type: marker });
    await this.waitFor((frame) => frame.type === 'error' && String(frame.message).includes(marker), 'the sync answer');
  }

  close(): void {
    this.socket.terminate();
  }
}
