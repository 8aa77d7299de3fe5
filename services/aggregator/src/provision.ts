/**
 * `provision`: makes Eric's topics match the deployment before the aggregators start. Run it as
 * `node services/aggregator/dist/provision.js` with the aggregator's own environment (the same
 * Kafka, topic, PARTITIONS, window and retention settings); the chart's topic Job and
 * docker-compose's `topics` service do. The topics and their settings come from topic-specs.ts, the
 * one definition the aggregator itself uses at start:
 *
 *   - every missing topic is created, with the settings the aggregator gives it;
 *   - the repartition and changelog topics are grown to PARTITIONS partitions (scaling up);
 *   - it refuses when they have more (Kafka cannot remove partitions: scaling down would leave
 *     partitions nobody counts) or when active-visitors has more than one.
 *
 * It needs no ordinal: it is no aggregator, it prepares them. While Kafka does not answer (a
 * bundled broker still starting) it retries, for up to PROVISION_TIMEOUT_SECONDS.
 *
 * Exit status: 0 = the topics are right; 1 = a topic cannot be made right (the message says what
 * to do) or Kafka did not answer in time; 78 = bad configuration (the message names the variable),
 * as for every Eric service.
 */
import { ConfigError, EXIT_BAD_CONFIG, TopicAdmin, TopicMismatchError, createLogger, loadConfig } from '@eric/shared';
import { provisionConfigSchema } from './config.js';
import { aggregatorTopics } from './topic-specs.js';

const RETRY_DELAY_MS = 2_000;
/** Timeout of each Kafka call: a broker that answers at all answers well within it. */
const CALL_TIMEOUT_MS = 10_000;

async function provision(env: NodeJS.ProcessEnv): Promise<number> {
  let config;
  try {
    config = loadConfig(provisionConfigSchema, { env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`provision: ${error.message}`);
    return EXIT_BAD_CONFIG;
  }
  const logger = createLogger('aggregator-provision', config.log.level);
  const topics = aggregatorTopics(config);
  const deadline = Date.now() + config.provisionTimeoutSeconds * 1000;
  for (let attempt = 1; ; attempt += 1) {
    const admin = new TopicAdmin(config.kafka, { logger, timeoutMs: CALL_TIMEOUT_MS });
    try {
      await admin.provisionTopics(topics);
      logger.info({ topics: topics.map((topic) => topic.name), partitions: config.partitions }, 'topics ready');
      return 0;
    } catch (error) {
      if (error instanceof TopicMismatchError) {
        const scaledDown = topics.find((topic) => topic.name === error.topic)?.followsScale && error.actualPartitions > error.requiredPartitions;
        const hint = scaledDown ? ` (PARTITIONS is the chart's aggregator.replicas: keep it at ${error.actualPartitions} or more.)` : '';
        logger.error({ topic: error.topic, partitions: error.actualPartitions, required: error.requiredPartitions }, `refused: ${error.message}${hint}`);
        return 1;
      }
      if (Date.now() + RETRY_DELAY_MS > deadline) {
        logger.error({ err: error, attempts: attempt, brokers: config.kafka.brokers }, `giving up: Kafka did not answer within PROVISION_TIMEOUT_SECONDS (${config.provisionTimeoutSeconds} s)`);
        return 1;
      }
      logger.warn({ err: error, attempt, brokers: config.kafka.brokers }, 'Kafka not ready, retrying');
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    } finally {
      admin.close();
    }
  }
}

process.exitCode = await provision(process.env);
