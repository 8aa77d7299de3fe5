/**
 * The gateway's metrics, `eric_gateway_*`, on the process registry (which also carries Node's
 * default process metrics: CPU, memory, event-loop lag).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type DropReason = 'slow_consumer' | 'ping_timeout' | 'oversized_message' | 'invalid_frame' | 'too_many_clients' | 'message_flood' | 'memory_budget';

/** Values read at scrape time rather than kept in step on every record. */
export interface GaugeProbes {
  keysHeld(): number;
  consumerOffset(): number;
  /** Bytes charged to the websocket clients' memory budget. */
  queuedBytes(): number;
}

export function createGatewayMetrics(registry: Registry, probes: GaugeProbes) {
  return {
    clientsConnected: new Gauge({
      name: 'eric_gateway_clients_connected',
      help: 'Websocket clients connected now.',
      registers: [registry],
    }),
    messagesSent: new Counter({
      name: 'eric_gateway_messages_sent_total',
      help: 'Count messages written to websocket clients, by kind (snapshot on connect or filter change, live update).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    clientsDropped: new Counter({
      name: 'eric_gateway_clients_dropped_total',
      help: 'Websocket clients disconnected by the gateway, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    clientErrors: new Counter({
      name: 'eric_gateway_client_messages_rejected_total',
      help: 'Client messages answered with an error, by error code.',
      labelNames: ['error'] as const,
      registers: [registry],
    }),
    requestsRefused: new Counter({
      name: 'eric_gateway_requests_refused_total',
      help: '/ws upgrades and /api requests refused, by reason: token_required, token_rejected (401), origin_not_allowed, host_not_allowed (403), throttled (429).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    fanoutLatency: new Histogram({
      name: 'eric_gateway_fanout_latency_seconds',
      help: 'From a record consumed from active-visitors to its frame written to every interested client.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    recordsConsumed: new Counter({
      name: 'eric_gateway_records_consumed_total',
      help: 'Records read from active-visitors, by outcome: applied (the shown count changed), unchanged, stale_provisional, expired, invalid.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    keysHeld: new Gauge({
      name: 'eric_gateway_keys_held',
      help: '(account, store, window) entries held in memory.',
      registers: [registry],
      collect() {
        this.set(probes.keysHeld());
      },
    }),
    queuedBytes: new Gauge({
      name: 'eric_gateway_ws_queued_bytes',
      help: 'Bytes charged to the memory budget of all websocket clients (GATEWAY_WS_MEMORY_BUDGET_BYTES): frames waiting for a client, and each connection\'s socket write window.',
      registers: [registry],
      collect() {
        this.set(probes.queuedBytes());
      },
    }),
    snapshotsTruncated: new Counter({
      name: 'eric_gateway_snapshots_truncated_total',
      help: 'Snapshots cut at GATEWAY_SNAPSHOT_MAX_KEYS views (the newest windows kept), by surface (websocket, rest).',
      labelNames: ['surface'] as const,
      registers: [registry],
    }),
    keysEvicted: new Counter({
      name: 'eric_gateway_keys_evicted_total',
      help: 'Entries evicted because their window ended longer ago than the history.',
      registers: [registry],
    }),
    consumerOffset: new Gauge({
      name: 'eric_gateway_consumer_offset',
      help: 'Offset of the next record to read from active-visitors.',
      registers: [registry],
      collect() {
        this.set(probes.consumerOffset());
      },
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
