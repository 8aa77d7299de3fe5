/**
 * The aggregator's configuration: environment variables only, validated at start. See
 * docs/aggregator.md for the table generated from this schema.
 */
import { ConfigError, httpConfigSchema, kafkaConfigSchema, loadConfig, logConfigSchema, topicNameSchema, visitsPartitionsSchema, type LoadOptions } from '@eric/shared';

export const aggregatorConfigSchema = {
  kafka: kafkaConfigSchema('eric-aggregator'),
  http: httpConfigSchema(6070),
  log: logConfigSchema,
  topics: {
    visits: topicNameSchema.visits,
    repartition: topicNameSchema.repartition,
    changelog: topicNameSchema.changelog,
    activeVisitors: topicNameSchema.activeVisitors,
    deadLetter: topicNameSchema.deadLetter,
  },
  visitsPartitions: visitsPartitionsSchema,
  applicationId: {
    doc: 'Prefix of the consumer group (<id>-repartition) and of the transactional ids (<id>-count-<partition>). Two deployments sharing topics need different ids.',
    format: String,
    default: 'eric-aggregator',
    env: 'APPLICATION_ID',
  },
  partitions: {
    doc: 'P: partitions of the repartition and changelog topics, which is also the number of aggregator processes (StatefulSet replicas).',
    format: 'positive-int',
    default: 4,
    env: 'PARTITIONS',
  },
  ordinal: {
    doc: 'The partition this process counts (0 to P-1). -1 = take it from POD_NAME (the StatefulSet ordinal, e.g. eric-aggregator-2).',
    format: 'int',
    default: -1,
    env: 'AGGREGATOR_ORDINAL',
  },
  podName: {
    doc: 'Name of this pod (downward API). Gives the ordinal and the static group membership id (group.instance.id).',
    format: String,
    default: '',
    env: 'POD_NAME',
  },
  podNamespace: {
    doc: 'Namespace of this pod (downward API), for the Kubernetes topology check.',
    format: String,
    default: '',
    env: 'POD_NAMESPACE',
  },
  statefulSetName: {
    doc: 'Name of the StatefulSet whose replicas must equal P; empty = POD_NAME without its ordinal.',
    format: String,
    default: '',
    env: 'STATEFULSET_NAME',
  },
  kubernetesCheck: {
    doc: 'Check inside a cluster that the StatefulSet replicas equal P: auto (when running in a pod), on, off.',
    format: ['auto', 'on', 'off'],
    default: 'auto' as 'auto' | 'on' | 'off',
    env: 'KUBERNETES_CHECK',
  },
  window: {
    sizeSeconds: {
      doc: 'Length of the tumbling windows, seconds.',
      format: 'positive-number',
      default: 60,
      env: 'WINDOW_SECONDS',
    },
    graceSeconds: {
      doc: 'How long after its end a window still accepts late visits, seconds.',
      format: 'non-negative-number',
      default: 10,
      env: 'GRACE_SECONDS',
    },
  },
  emitIntervalMs: {
    doc: 'How often provisional counts (final: false) of changed open windows are emitted, ms; 0 = only final counts.',
    format: 'non-negative-int',
    default: 1000,
    env: 'EMIT_INTERVAL_MS',
  },
  wallClockClose: {
    doc: 'Let the event time of a visits partition that is read to its end move on with the wall clock since its newest visit, so quiet windows close on time (true), or only with newer visits (false, like Kafka Streams).',
    format: Boolean,
    default: true,
    env: 'WALL_CLOCK_CLOSE',
  },
  count: {
    batchSize: {
      doc: 'Most records of the repartition topic (each a batch of visits, or a watermark) the count stage reads for one transaction.',
      format: 'positive-int',
      default: 10000,
      env: 'COUNT_BATCH_SIZE',
    },
    pollMs: {
      doc: 'How long the count stage waits for new visits before it checks the clock, ms (bounds how late a quiet window closes).',
      format: 'positive-int',
      default: 100,
      env: 'COUNT_POLL_MS',
    },
    transactionTimeoutMs: {
      doc: 'transaction.timeout.ms: the broker aborts an open transaction after this long, ms. It must outlast a broker outage (a transaction open when a broker goes away is aborted by the coordinator once this passes, which fences the producer); a vanished pod that is not restarted holds read_committed readers of active-visitors back for at most this long.',
      format: 'positive-int',
      default: 120000,
      env: 'TRANSACTION_TIMEOUT_MS',
    },
    maxIdsPerWindow: {
      doc: 'Most distinct visit ids counted per (account, store, window); a new id over it is not counted and goes to the dead-letter topic (reason window_id_cap). Bounds the memory one key can take (~175 bytes per id): the default keeps two windows of one key (a window and the previous one in its grace) under 90 MiB of the chart\'s 512 MiB.',
      format: 'positive-int',
      default: 250000,
      env: 'AGGREGATOR_MAX_IDS_PER_WINDOW',
    },
    changelogRetentionSeconds: {
      doc: 'retention.ms of the changelog when it is created, seconds; 0 = max(300, 3 × (window + grace)). Bounds restore time; an outage longer than this loses the open windows.',
      format: 'non-negative-int',
      default: 0,
      env: 'CHANGELOG_RETENTION_SECONDS',
    },
  },
  watermarkIntervalMs: {
    doc: 'How often the repartition stage sends the event-time progress (watermarks) of its visits partitions and checks which are read to their end, ms. Bounds how late a quiet window closes.',
    format: 'positive-int',
    default: 200,
    env: 'WATERMARK_INTERVAL_MS',
  },
  repartition: {
    batchSize: {
      doc: 'Most visits the repartition stage forwards per batch (one flush, one commit of offsets). Larger batches cost less CPU per visit but keep more visits in memory while Kafka acknowledges them.',
      format: 'positive-int',
      default: 4000,
      env: 'REPARTITION_BATCH_SIZE',
    },
    format: {
      doc: 'How visits travel on the repartition topic: "batch" (binary, the visits of a read batch for one partition in one record) or "json" (one record per visit, all that aggregators before batches read: for the first step of upgrading from them, see docs/aggregator.md).',
      format: ['batch', 'json'],
      default: 'batch',
      env: 'REPARTITION_FORMAT',
    },
    visitMaxBytes: {
      doc: 'Largest accepted visit message, bytes; larger ones go to the dead-letter topic.',
      format: 'positive-int',
      default: 16384,
      env: 'VISIT_MAX_BYTES',
    },
    visitMaxFutureSeconds: {
      doc: 'How far in the future a visit timestamp may be, seconds; further ones are dead-lettered.',
      format: 'non-negative-number',
      default: 300,
      env: 'VISIT_MAX_FUTURE_SECONDS',
    },
  },
  stallTimeoutSeconds: {
    doc: 'A stage loop that makes no progress for this long while Kafka answers is wedged: /healthz fails (and Kubernetes restarts the pod), seconds. Must exceed the longest Kafka call (about 15 s).',
    format: 'positive-int',
    default: 60,
    env: 'STALL_TIMEOUT_SECONDS',
  },
  shutdownTimeoutMs: {
    doc: 'On SIGTERM, exit after at most this long even if Kafka does not answer, ms.',
    format: 'positive-int',
    default: 10000,
    env: 'SHUTDOWN_TIMEOUT_MS',
  },
};

/** The `provision` command's settings (provision.ts): the aggregator's, plus how long to wait for Kafka. */
export const provisionConfigSchema = {
  ...aggregatorConfigSchema,
  provisionTimeoutSeconds: {
    doc: 'provision command only: how long it retries while Kafka does not answer, seconds (a broker may still be starting).',
    format: 'positive-int',
    default: 300,
    env: 'PROVISION_TIMEOUT_SECONDS',
  },
};

export type AggregatorConfig = ReturnType<typeof loadAggregatorConfig>;

export function loadAggregatorConfig(options?: LoadOptions) {
  const config = loadConfig(aggregatorConfigSchema, options);
  const ordinal = resolveOrdinal(config.ordinal, config.podName);
  if (ordinal >= config.partitions) {
    throw new ConfigError(`AGGREGATOR_ORDINAL (ordinal) ${ordinal} must be below PARTITIONS (partitions) ${config.partitions}: scale the topics first (see the scaling procedure in docs/aggregator.md)`);
  }
  return { ...config, ordinal, instanceId: config.podName || `${config.applicationId}-${ordinal}` };
}

/** The ordinal from the setting, or from a StatefulSet pod name such as "eric-aggregator-2". */
export function resolveOrdinal(ordinal: number, podName: string): number {
  if (ordinal >= 0) return ordinal;
  const match = /-(\d+)$/.exec(podName);
  if (!match) {
    throw new ConfigError('AGGREGATOR_ORDINAL (ordinal) is not set and POD_NAME (podName) does not end in -<ordinal>: set one of them');
  }
  return Number(match[1]);
}

/** retention.ms of the changelog: long enough for every open window, short enough to restore fast. */
export function changelogRetentionMs(config: Pick<AggregatorConfig, 'window' | 'count'>): number {
  const seconds = config.count.changelogRetentionSeconds || Math.max(300, 3 * (config.window.sizeSeconds + config.window.graceSeconds));
  return Math.round(seconds * 1000);
}
