/**
 * The aggregator process: one StatefulSet pod, ordinal i. It runs the repartition stage (a
 * member of the consumer group over `visits`) and the count stage (partition i of the
 * repartition topic), and serves /healthz, /ready and /metrics.
 */
import {
  ConfigError,
  DEFAULT_VISIT_LIMITS,
  KafkaReachability,
  Liveness,
  Readiness,
  TopicAdmin,
  createLogger,
  createMetricsRegistry,
  runServiceProcess,
  type RunningService,
} from '@eric/shared';
import { buildAggregatorHttp } from './app.js';
import { loadAggregatorConfig } from './config.js';
import { CountStage } from './count/count-stage.js';
import { createAggregatorMetrics } from './metrics.js';
import { RepartitionStage } from './repartition/repartition-stage.js';
import { PartitionLayoutCheck, StatefulSetReplicas } from './partition-layout.js';
import { aggregatorTopics } from './topics.js';

let config;
try {
  config = loadAggregatorConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

const logger = createLogger('aggregator', config.log.level).child({ partition: config.ordinal, instance: config.instanceId });
const registry = createMetricsRegistry();
const metrics = createAggregatorMetrics(registry);
const readiness = new Readiness();
// Kafka's answers come from a client of the repartition stage, created below.
let reachability: KafkaReachability | undefined;
const liveness = new Liveness({ stallAfterMs: config.stallTimeoutSeconds * 1000, reachableSince: () => reachability?.reachableSince });
let running: RunningService | undefined;
const onFatal = (error: Error) => {
  if (running) running.fail(error);
  else {
    logger.fatal({ err: error }, 'cannot start');
    process.exit(1);
  }
};

const admin = new TopicAdmin(config.kafka, { logger });
const inCluster = Boolean(process.env.KUBERNETES_SERVICE_HOST);
const checkKubernetes = config.kubernetesCheck === 'on' || (config.kubernetesCheck === 'auto' && inCluster);
const statefulSet = checkKubernetes
  ? new StatefulSetReplicas(config.statefulSetName || config.podName.replace(/-\d+$/, ''), config.podNamespace || 'default', inCluster)
  : undefined;
const partitionLayout = new PartitionLayoutCheck({
  partitions: config.partitions,
  topics: config.topics,
  admin,
  statefulSet,
  logger,
  onResult: (mismatch) => metrics.partitionLayoutMismatch.set(mismatch ? 1 : 0),
});

const repartition = new RepartitionStage({
  settings: config.kafka,
  applicationId: config.applicationId,
  instanceId: config.instanceId,
  partitions: config.partitions,
  topics: config.topics,
  batchSize: config.repartition.batchSize,
  limits: { ...DEFAULT_VISIT_LIMITS, maxBytes: config.repartition.visitMaxBytes, maxFutureSeconds: config.repartition.visitMaxFutureSeconds },
  logger,
  metrics,
  onFatal,
  progress: liveness.watch('repartition'),
  watermarkIntervalMs: config.watermarkIntervalMs,
  advanceWhileIdle: config.wallClockClose,
});

const count = new CountStage({
  settings: config.kafka,
  applicationId: config.applicationId,
  partition: config.ordinal,
  topics: config.topics,
  window: config.window,
  emitIntervalMs: config.emitIntervalMs,
  batchSize: config.count.batchSize,
  pollMs: config.count.pollMs,
  transactionTimeoutMs: config.count.transactionTimeoutMs,
  logger,
  metrics,
  onFatal,
  progress: liveness.watch('count'),
});

readiness
  .add('count', () => count.readiness())
  .add('repartition', () => repartition.readiness())
  .add('topology', () => partitionLayout.result)
  .add('progress', () => liveness.readiness());

running = await runServiceProcess({
  logger,
  http: await buildAggregatorHttp({ logger, registry, readiness, liveness }),
  readiness,
  listen: config.http,
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  async start() {
    logger.info({ partitions: config.partitions, window: config.window, topics: config.topics }, 'starting');
    await admin.ensureTopics(aggregatorTopics(config));
    const partitionsNow = await admin.partitionCount(config.topics.repartition);
    if (config.ordinal >= partitionsNow) {
      throw new ConfigError(
        `this is aggregator ${config.ordinal} but ${config.topics.repartition} has only ${partitionsNow} partitions: add partitions first (docs/aggregator.md, "Scaling")`,
      );
    }
    await partitionLayout.start();
    await repartition.start();
    reachability = new KafkaReachability({ client: repartition.kafkaClient, topic: config.topics.visits });
    reachability.start();
    await count.start();
    logger.info('running');
  },
  async stop() {
    // Count first: it finishes or aborts its transaction while the repartition stage still runs.
    await count.stop();
    await repartition.stop();
    reachability?.stop();
    partitionLayout.stop();
    admin.close();
  },
});
