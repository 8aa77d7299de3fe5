/**
 * Integration-test helpers: a gateway running in this process against the real test broker, on
 * its own topic and a free port, and a websocket client that records what it receives.
 */
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';
import { TopicAdmin, createLogger, type KafkaSettings, type WindowResult } from '@eric/shared';
import { produceRecords, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import { loadGatewayConfig } from '../src/config.js';
import { createGateway, type Gateway } from '../src/gateway.js';

export { TestClient, waitUntil, type Frame } from './ws-client.js';
import { waitUntil } from './ws-client.js';

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

let counter = 0; // makes every generated count distinct
/** A window result in the current minute, with fields overridden. */
export function windowResult(overrides: Partial<WindowResult> = {}): WindowResult {
  const start = Math.floor(Date.now() / 60_000) * 60;
  counter += 1;
  return { account_id: 1, store_id: 'web', window: [start, start + 60], count: counter, final: false, partition: 0, emitted_at: Date.now() / 1000, ...overrides };
}

/** Writes values to partition 0 of `topic`, with explicit record timestamps when given (ms). */
export async function produce(topic: string, records: Array<WindowResult | string | { value: WindowResult | string; timestampMs: number }>): Promise<void> {
  await produceRecords(
    settings,
    topic,
    records.map((record) => {
      const { value, timestampMs } = typeof record === 'object' && 'timestampMs' in record ? record : { value: record, timestampMs: Date.now() };
      return { value: typeof value === 'string' ? value : JSON.stringify(value), partition: 0, timestampMs };
    }),
  );
}

