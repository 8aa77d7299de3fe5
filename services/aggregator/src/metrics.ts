/**
 * The aggregator's metrics, `eric_aggregator_*`. Modelled on Kafka Streams' metric set: process
 * rate, dropped records by reason, commit latency, restore progress, emit-final latency.
 */
import { VISIT_REJECTIONS } from '@eric/shared';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createAggregatorMetrics(registry: Registry) {
  const metrics = defineMetrics(registry);
  // Every known label value starts at 0, so that rate() and alerts see the first increment.
  for (const reason of VISIT_REJECTIONS) metrics.visitsInvalid.inc({ reason }, 0);
  for (const reason of ['late', 'unreadable', 'window_id_cap']) metrics.visitsDropped.inc({ reason }, 0);
  for (const copy of ['truncated', 'headers_only']) metrics.deadLetterFailures.inc({ copy }, 0);
  for (const kind of ['provisional', 'final']) metrics.resultsEmitted.inc({ kind }, 0);
  for (const trigger of ['stream-time', 'wall-clock']) metrics.windowsClosed.inc({ trigger }, 0);
  return metrics;
}

function defineMetrics(registry: Registry) {
  const registers = [registry];
  return {
    // Repartition stage
    recordsConsumed: new Counter({
      name: 'eric_aggregator_records_consumed_total',
      help: 'Records read, by stage (repartition reads visits, count reads the repartition topic).',
      labelNames: ['stage'] as const,
      registers,
    }),
    visitsForwarded: new Counter({
      name: 'eric_aggregator_visits_forwarded_total',
      help: 'Valid visits forwarded to the repartition topic.',
      registers,
    }),
    visitsInvalid: new Counter({
      name: 'eric_aggregator_visits_invalid_total',
      help: 'Visits sent to the dead-letter topic, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    deadLetterFailures: new Counter({
      name: 'eric_aggregator_dead_letter_failures_total',
      help: 'Dead letters Kafka refused, by copy: truncated (then sent again as headers_only), headers_only (given up: only the log line names the record).',
      labelNames: ['copy'] as const,
      registers,
    }),
    // Count stage
    visitsCounted: new Counter({
      name: 'eric_aggregator_visits_counted_total',
      help: 'Visits whose id was new in its window.',
      registers,
    }),
    visitsDuplicate: new Counter({
      name: 'eric_aggregator_visits_duplicate_total',
      help: 'Visits whose id was already counted in its window, or that came again from a source offset already seen after their window closed (not counted again).',
      registers,
    }),
    visitsReplayed: new Counter({
      name: 'eric_aggregator_visits_replayed_total',
      help: 'Of the duplicates: visits forwarded again by the repartition stage (after a rebalance or a crash) whose window had closed since their first copy, told from late visits by their source offset.',
      registers,
    }),
    visitsDropped: new Counter({
      name: 'eric_aggregator_visits_dropped_total',
      help: 'Visits not counted by the count stage, by reason (late: their window had closed; window_id_cap: their window held the most ids allowed, sent to the dead-letter topic; unreadable).',
      labelNames: ['reason'] as const,
      registers,
    }),
    lateness: new Histogram({
      name: 'eric_aggregator_late_visit_lateness_seconds',
      help: 'How long after its window closed a late visit arrived.',
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 3600],
      registers,
    }),
    windowsClosed: new Counter({
      name: 'eric_aggregator_windows_closed_total',
      help: 'Windows closed (one final result each), by trigger.',
      labelNames: ['trigger'] as const,
      registers,
    }),
    resultsEmitted: new Counter({
      name: 'eric_aggregator_results_emitted_total',
      help: 'Window results written to active-visitors, by kind (provisional or final).',
      labelNames: ['kind'] as const,
      registers,
    }),
    stateWindows: new Gauge({ name: 'eric_aggregator_state_windows', help: 'Open windows held in memory.', registers }),
    stateIds: new Gauge({ name: 'eric_aggregator_state_ids', help: 'Visit ids held in memory across open windows.', registers }),
    transactionSeconds: new Histogram({
      name: 'eric_aggregator_transaction_commit_seconds',
      help: 'Latency of committing one count transaction (changelog, results, offsets).',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    transactionsAborted: new Counter({
      name: 'eric_aggregator_transactions_aborted_total',
      help: 'Count transactions aborted (state is then restored from the changelog).',
      registers,
    }),
    transactionCallRetries: new Counter({
      name: 'eric_aggregator_transaction_call_retries_total',
      help: 'Transactional calls made again after a retriable error (e.g. a timeout while a broker is away), by call.',
      labelNames: ['call'] as const,
      registers,
    }),
    producersReplaced: new Counter({
      name: 'eric_aggregator_producers_replaced_total',
      help: 'Transactional producers given up because a call never answered, and replaced by a new one (which fences the old).',
      registers,
    }),
    batchSize: new Histogram({
      name: 'eric_aggregator_count_batch_records',
      help: 'Visits per count transaction.',
      buckets: [1, 10, 100, 1000, 5000, 10000, 50000],
      registers,
    }),
    consumerLag: new Gauge({
      name: 'eric_aggregator_consumer_lag_records',
      help: 'Records not yet read, by stage and partition.',
      labelNames: ['stage', 'topic', 'partition'] as const,
      registers,
    }),
    closeClock: new Gauge({
      name: 'eric_aggregator_close_clock_seconds',
      help: 'The close clock (epoch seconds): windows whose end + grace is before it are final.',
      registers,
    }),
    finalLatency: new Histogram({
      name: 'eric_aggregator_final_emit_delay_seconds',
      help: 'Wall-clock time from a window\'s end + grace to its final result being committed.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    endToEndLatency: new Histogram({
      name: 'eric_aggregator_end_to_end_latency_seconds',
      help: 'From a visit\'s timestamp to the commit of the transaction that counted it.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    restoreRecords: new Counter({
      name: 'eric_aggregator_restore_records_total',
      help: 'Changelog records read while restoring.',
      registers,
    }),
    restoreSeconds: new Gauge({
      name: 'eric_aggregator_restore_duration_seconds',
      help: 'Duration of the last state restore.',
      registers,
    }),
    restoreRemaining: new Gauge({
      name: 'eric_aggregator_restore_remaining_records',
      help: 'Changelog records still to read before the count stage can start.',
      registers,
    }),
    partitionLayoutMismatch: new Gauge({
      name: 'eric_aggregator_topology_mismatch',
      help: '1 when StatefulSet replicas or topic partitions differ from P (see /ready for how to fix it).',
      registers,
    }),
  };
}

export type AggregatorMetrics = ReturnType<typeof defineMetrics>;
