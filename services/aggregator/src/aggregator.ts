/**
 * The aggregator assembled: one StatefulSet pod, ordinal i. It runs the repartition stage (a
 * member of the consumer group over `visits`) and the count stage (partition i of the
 * repartition topic), checks the partition layout, and serves /healthz, /ready and /metrics.
 * `main.ts` runs it as a process.
 *
 *   visits ──▶ repartition stage ──▶ visits-repartition[i] ──▶ count stage ──▶ active-visitors
 *                                                                  │▲
 *                                                            changelog[i]
 */
import {
  ConfigError,
  DEFAULT_VISIT_LIMITS,
  KafkaReachability,
  Liveness,
  Readiness,
  TopicAdmin,
  createMetricsRegistry,
  type Logger,
} from '@eric/shared';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { buildAggregatorHttp } from './app.js';
import type { AggregatorConfig } from './config.js';
import { CountStage } from './count/count-stage.js';
import { createAggregatorMetrics } from './metrics.js';
import { PartitionLayoutCheck, StatefulSetReplicas } from './partition-layout.js';
import { RepartitionStage } from './repartition/repartition-stage.js';
import type { RepartitionFormat } from './repartition-records.js';
import { aggregatorTopics } from './topic-specs.js';

export interface Aggregator {
  http: FastifyInstance;
  readiness: Readiness;
  registry: Registry;
  /** Creates the topics, then starts the stages; resolves once the count stage has restored its state. */
  start(): Promise<void>;
  /** Stops the stages, finishing or aborting the open transaction; the caller closes `http`. */
  stop(): Promise<void>;
}

export interface AggregatorHooks {
  /** A stage cannot go on (fenced, a fatal Kafka error): the process must end. */
  onFatal(error: Error): void;
}

export async function createAggregator(config: AggregatorConfig, logger: Logger, hooks: AggregatorHooks): Promise<Aggregator> {
  const registry = createMetricsRegistry();
  const metrics = createAggregatorMetrics(registry);
  const readiness = new Readiness();
  // Kafka's answers come from a client of the repartition stage, created at start.
  let reachability: KafkaReachability | undefined;
  const liveness = new Liveness({ stallAfterMs: config.stallTimeoutSeconds * 1000, reachableSince: () => reachability?.reachableSince });
  const onFatal = (error: Error) => hooks.onFatal(error);

  const admin = new TopicAdmin(config.kafka, { logger });
  const partitionLayout = new PartitionLayoutCheck({
    partitions: config.partitions,
    topics: config.topics,
    admin,
    statefulSet: statefulSetOf(config),
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
    format: config.repartition.format as RepartitionFormat,
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
    maxIdsPerWindow: config.count.maxIdsPerWindow,
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

  return {
    http: await buildAggregatorHttp({ logger, registry, readiness, liveness }),
    readiness,
    registry,
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
  };
}

/** The StatefulSet whose replicas must equal P, when the Kubernetes check is on. */
function statefulSetOf(config: AggregatorConfig): StatefulSetReplicas | undefined {
  const inCluster = Boolean(process.env.KUBERNETES_SERVICE_HOST);
  const checkKubernetes = config.kubernetesCheck === 'on' || (config.kubernetesCheck === 'auto' && inCluster);
  if (!checkKubernetes) return undefined;
  return new StatefulSetReplicas(config.statefulSetName || config.podName.replace(/-\d+$/, ''), config.podNamespace || 'default', inCluster);
}
