/**
 * The producer service (the Kubernetes Deployment): HTTP ingestion of real visits on
 * `POST /v1/visits`, and continuous synthetic visits at PRODUCER_RATE per second (0 = none).
 *
 * Start-up: listen first (so /healthz answers), then create the `visits` topic if missing and
 * connect to Kafka, retrying until the brokers answer; /ready says what it waits for.
 * Shutdown (SIGTERM): not ready, stop generating, wait for the acknowledgements still due, close.
 */
import {
  Readiness,
  KafkaAccessError,
  TopicAdmin,
  createLogger,
  createMetricsRegistry,
  loadConfigOrExit,
  runServiceProcess,
  visitsTopicSpec,
  type Logger,
} from '@eric/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from './app.js';
import { loadProducerConfig, type ProducerConfig } from './config.js';
import { generateVisits } from './generation.js';
import { VisitGenerator } from './generator.js';
import { createProducerMetrics } from './metrics.js';
import { VisitWriter } from './visit-writer.js';

/** Visits per write of the synthetic load: a tenth of a second's worth, at least one. */
function generatorBatchSize(rate: number): number {
  return Math.max(1, Math.min(1000, Math.ceil(rate / 10)));
}

async function main(): Promise<void> {
  const config = loadConfigOrExit(() => loadProducerConfig());

  const logger = createLogger('producer', config.log.level);
  const registry = createMetricsRegistry();
  const metrics = createProducerMetrics(registry);
  const readiness = new Readiness();
  const writer = new VisitWriter({
    settings: config.kafka,
    topic: config.topics.visits,
    logger,
    metrics,
    deliveryTimeoutMs: config.delivery.timeoutMs,
    lingerMs: config.delivery.lingerMs,
    maxQueued: config.delivery.maxQueued,
  });
  metrics.observeWriter(() => ({ queued: writer.queued, available: writer.availability().available }));
  readiness.add('kafka', () => {
    const { available, detail } = writer.availability();
    return { ready: available, detail, queued: writer.queued };
  });

  if (config.ingest.keys === '') {
    logger.warn('PRODUCER_INGEST_KEYS is empty: POST /v1/visits takes visits of any account from anyone who reaches it');
  }
  const http = buildApp({ logger, registry, readiness, metrics, writer, ingest: config.ingest });
  const stopping = new AbortController();
  let generation: Promise<unknown> = Promise.resolve();

  // A fatal client error (e.g. the idempotent producer lost its sequence) cannot be repaired in
  // place. Thrown as an uncaught error, it makes runServiceProcess shut down gracefully and exit
  // with status 1, and Kubernetes starts a fresh process.
  writer.onFatal((error) => {
    setImmediate(() => {
      throw new Error(`fatal Kafka producer error: ${error.message}`, { cause: error });
    });
  });

  await runServiceProcess({
    logger,
    http,
    readiness,
    listen: { host: config.http.host, port: config.http.port },
    async start() {
      await connectWithRetry(config, writer, logger, stopping.signal);
      if (stopping.signal.aborted) return;
      const { rate } = config.generator;
      if (rate > 0) {
        logger.info({ rate, accounts: config.generator.accountIds, stores: config.generator.storeIds }, 'generating synthetic visits');
        generation = generateVisits({
          generator: new VisitGenerator(config.generator),
          writer,
          rate,
          maxVisits: 0,
          batchSize: generatorBatchSize(rate),
          signal: stopping.signal,
          metrics,
          onOutcome: (_visits, outcome) => {
            if (!outcome.ok) logger.warn({ reason: outcome.reason, detail: outcome.detail }, 'synthetic visits not written');
          },
        }).catch((error: unknown) => logger.error({ err: error }, 'the generator stopped'));
      } else {
        logger.info('PRODUCER_RATE is 0: ingestion only');
      }
    },
    async stop() {
      stopping.abort();
      await generation;
      await writer.close(5_000);
    },
  });
}

/**
 * Creates the topic if missing and connects; retries with a growing pause until it works or we
 * stop. Kafka refusing our own settings (credentials, TLS, ACLs) is no outage: it ends the start
 * with an error that names the setting, and the process exits.
 */
async function connectWithRetry(config: ProducerConfig, writer: VisitWriter, logger: Logger, signal: AbortSignal): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    const admin = new TopicAdmin(config.kafka, { logger, timeoutMs: 10_000 });
    try {
      await admin.ensureTopics([visitsTopicSpec(config.topics.visits, config.visitsPartitions)]);
      await writer.connect(10_000);
      logger.info({ brokers: config.kafka.brokers, topic: config.topics.visits }, 'connected to Kafka');
      return;
    } catch (error) {
      if (error instanceof KafkaAccessError) throw error;
      const pauseMs = Math.min(30_000, 1_000 * 2 ** Math.min(attempt - 1, 5));
      logger.warn({ err: error, attempt, retryInMs: pauseMs }, 'cannot reach Kafka yet');
      await sleep(pauseMs, undefined, { signal }).catch(() => undefined);
    } finally {
      admin.close();
    }
  }
}

await main();
