/**
 * The producer's Prometheus metrics, all `eric_producer_*`. The produce latency is the time from
 * handing a visit to the Kafka client to the broker's acknowledgement (acks=all): the part of an
 * ingest request's latency that Kafka adds.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Who asked for the visit: the synthetic generator or an HTTP client. */
export type VisitSource = 'generator' | 'http';

/** Why a request to POST /v1/visits was refused before validation or writing (401, 403, 408, 429). */
export type RefusalReason = 'missing_key' | 'unknown_key' | 'account_not_allowed' | 'client_rate_limited' | 'account_over_budget' | 'request_timeout';

/** Why a visit was not written. */
export type FailureReason = 'queue_full' | 'broker_unavailable' | 'delivery_timeout' | 'delivery_error';

export interface ProducerMetrics {
  visitsProduced: Counter<'source'>;
  failures: Counter<'source' | 'reason'>;
  ingestRequests: Counter<'status'>;
  ingestRejectedVisits: Counter<'reason'>;
  ingestRefused: Counter<'reason'>;
  generatedVisits: Counter<'kind'>;
  produceLatency: Histogram<'source'>;
  /** Reports the writer's state at each scrape. */
  observeWriter(state: () => WriterState): void;
}

export interface WriterState {
  queued: number;
  available: boolean;
}

export function createProducerMetrics(registry: Registry): ProducerMetrics {
  let writerState: () => WriterState = () => ({ queued: 0, available: false });
  const registers = [registry];
  new Gauge({
    name: 'eric_producer_queued_visits',
    help: 'Visits handed to the Kafka client and not yet acknowledged.',
    registers,
    collect() {
      this.set(writerState().queued);
    },
  });
  new Gauge({
    name: 'eric_producer_kafka_available',
    help: '1 when the producer can write to Kafka, 0 when the brokers are unreachable or the client failed.',
    registers,
    collect() {
      this.set(writerState().available ? 1 : 0);
    },
  });
  return {
    visitsProduced: new Counter({
      name: 'eric_producer_visits_produced_total',
      help: 'Visits written to Kafka and acknowledged by the brokers (acks=all), by source.',
      labelNames: ['source'],
      registers,
    }),
    failures: new Counter({
      name: 'eric_producer_produce_failures_total',
      help: 'Visits that could not be written (refused or not acknowledged), by source and reason.',
      labelNames: ['source', 'reason'],
      registers,
    }),
    ingestRequests: new Counter({
      name: 'eric_producer_ingest_requests_total',
      help: 'Requests to POST /v1/visits, by HTTP status of the answer.',
      labelNames: ['status'],
      registers,
    }),
    ingestRejectedVisits: new Counter({
      name: 'eric_producer_ingest_rejected_visits_total',
      help: 'Visits refused by POST /v1/visits as invalid, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    ingestRefused: new Counter({
      name: 'eric_producer_ingest_refused_total',
      help: 'Requests to POST /v1/visits refused for who sent them or how fast, by reason (no or unknown key, account not allowed, rate limits, request timeout).',
      labelNames: ['reason'],
      registers,
    }),
    generatedVisits: new Counter({
      name: 'eric_producer_generated_visits_total',
      help: 'Synthetic visits generated, by kind (fresh, duplicate re-send, late).',
      labelNames: ['kind'],
      registers,
    }),
    produceLatency: new Histogram({
      name: 'eric_producer_produce_latency_seconds',
      help: 'Time from handing a visit to the Kafka client to its acknowledgement by the brokers, by source.',
      labelNames: ['source'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    observeWriter(state) {
      writerState = state;
    },
  };
}
