/**
 * The gateway assembled: the follower feeds window results to the collator, every changed count
 * goes to the hub, and the app serves it all. `main.ts` runs it as a process; integration tests
 * run it in-process against the real broker.
 */
import type { FastifyInstance } from 'fastify';
import { Readiness, createMetricsRegistry, parseWindowResult, type Logger, type kafka } from '@eric/shared';
import type { Registry } from 'prom-client';
import { AccessControl, logAccessMode } from './access.js';
import { buildApp } from './app.js';
import { Collator } from './collator.js';
import type { GatewayConfig } from './config.js';
import { ActiveVisitorsFollower } from './follower.js';
import { Hub } from './hub.js';
import { createGatewayMetrics } from './metrics.js';
import { parseAllowedOrigins } from './origin-policy.js';
import type { WindowView } from './protocol.js';

export interface Gateway {
  app: FastifyInstance;
  readiness: Readiness;
  registry: Registry;
  /** Starts following active-visitors (the app may already listen). */
  start(): Promise<void>;
  /** Closes the websocket clients and the Kafka consumer; the caller closes the app. */
  stop(): Promise<void>;
}

const EVICTION_INTERVAL_MS = 10_000;

export async function createGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const registry = createMetricsRegistry();
  // The probes run at scrape time, when collator and follower exist.
  const metrics = createGatewayMetrics(registry, {
    keysHeld: () => collator.size,
    consumerOffset: () => follower.status.nextOffset ?? 0,
    queuedBytes: () => hub.queuedBytes,
  });
  const readiness = new Readiness();
  const access = new AccessControl(config.auth.tokens);
  const collator = new Collator({ retentionSeconds: config.history.seconds, maxKeys: config.history.maxKeys });
  const hub = new Hub({
    maxBufferedBytes: config.ws.maxBufferedBytes,
    memoryBudgetBytes: config.ws.memoryBudgetBytes,
    maxClients: config.ws.maxClients,
    messagesPerSecond: config.ws.messagesPerSecond,
    messageBurst: config.ws.messageBurst,
    pingIntervalMs: config.ws.pingIntervalSeconds * 1000,
    snapshotWindows: config.ws.snapshotWindows,
    snapshotMaxKeys: config.ws.snapshotMaxKeys,
    logger: logger.child({ component: 'hub' }),
    metrics,
    snapshot: (include, windows, maxKeys) => collator.snapshot(include, windows, maxKeys),
    snapshotVersion: () => collator.version,
  });

  const nowSeconds = () => Date.now() / 1000;
  /** One record into the collator; the view when the shown count changed. */
  const collate = (message: kafka.Message): WindowView | null => {
    const parsed = parseWindowResult(message.value);
    if (!parsed.ok) {
      metrics.recordsConsumed.inc({ outcome: 'invalid' });
      logger.warn({ offset: message.offset, reason: parsed.reason, detail: parsed.detail }, 'skipping an invalid window result');
      return null;
    }
    const outcome = collator.apply(parsed.value, nowSeconds());
    metrics.recordsConsumed.inc({ outcome: outcome.changed ? 'applied' : outcome.reason });
    return outcome.changed ? outcome.view : null;
  };
  const follower = new ActiveVisitorsFollower({
    settings: config.kafka,
    topic: config.topics.activeVisitors,
    historySeconds: config.history.seconds,
    logger: logger.child({ component: 'follower' }),
    onBatch(messages, consumedAt) {
      const changed: WindowView[] = [];
      for (const message of messages) {
        const view = collate(message);
        if (view) changed.push(view);
      }
      if (changed.length === 0) return;
      hub.publish(changed);
      const latency = (performance.now() - consumedAt) / 1000;
      for (let i = 0; i < changed.length; i += 1) metrics.fanoutLatency.observe(latency);
    },
  });

  readiness.add('active-visitors', () => {
    const status = follower.status;
    if (!status.assigned) return { ready: false, detail: 'not assigned to active-visitors yet' };
    if (!status.caughtUp) return { ready: false, detail: 'replaying history', startOffset: status.startOffset, nextOffset: status.nextOffset };
    return { ready: true, detail: 'assigned and caught up', nextOffset: status.nextOffset };
  });

  logAccessMode(logger, access);
  const app = await buildApp({
    logger,
    registry,
    readiness,
    metrics,
    access,
    origins: parseAllowedOrigins(config.auth.allowedOrigins),
    refusals: { max: config.auth.maxRefusals, windowSeconds: config.auth.refusalWindowSeconds },
    collator,
    hub,
    caughtUp: () => follower.status.caughtUp,
    maxPayloadBytes: config.ws.maxPayloadBytes,
    snapshotWindows: config.ws.snapshotWindows,
    pageMaxKeys: config.ws.snapshotMaxKeys,
    restRequestsPerMinute: config.rest.requestsPerMinute,
  });

  let evictionTimer: NodeJS.Timeout | undefined;
  return {
    app,
    readiness,
    registry,
    async start() {
      await follower.start();
      evictionTimer = setInterval(() => metrics.keysEvicted.inc(collator.evictExpired(nowSeconds())), EVICTION_INTERVAL_MS);
      evictionTimer.unref();
    },
    async stop() {
      clearInterval(evictionTimer);
      hub.close();
      await follower.stop();
    },
  };
}
