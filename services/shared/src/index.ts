/**
 * @eric/shared: what every Eric service shares, exported by name: only what the services use.
 * Test helpers are apart, in `@eric/shared/testing` and `@eric/shared/testing/process`.
 */

// Configuration, logs, metrics, process lifecycle.
export { ConfigError, describeSchema, EXIT_BAD_CONFIG, loadConfig, loadConfigOrExit, type LoadOptions } from './config.js';
export { createLogger, logConfigSchema, type Logger } from './logger.js';
export { createMetricsRegistry } from './metrics.js';
export { runServiceProcess, type RunningService } from './lifecycle.js';

// HTTP: the server, /healthz and /ready.
export { createHttpServer, httpConfigSchema, operationsRoutes } from './http/base.js';
export { Readiness, type CheckResult } from './http/readiness.js';
export { Liveness, type ProgressWatch } from './http/liveness.js';

// Access: token lists (secrets mapped to the accounts they may reach).
export {
  ALL_ACCOUNTS,
  TokenTable,
  bearerToken,
  parseTokens,
  scopeAllows,
  tokenDigest,
  tokenListFormat,
  type AccountScope,
} from './access/token-list.js';

// Kafka: settings, topics, the native client's calls, transactions.
export { kafkaConfigSchema, rdkafkaConnectionConfig, type KafkaSettings } from './kafka/settings.js';
export { TopicAdmin, TopicMismatchError, type TopicSpec } from './kafka/topic-admin.js';
export { AccessWatch, KafkaAccessError, accessErrorOf } from './kafka/access-errors.js';
export { topicNameSchema, visitsPartitionsSchema, visitsTopicSpec } from './kafka/topic-names.js';
import * as kafka from './kafka/rdkafka.js';
export { kafka };
export { logClientErrors } from './kafka/client-errors.js';
export { KafkaReachability } from './kafka/reachability.js';
export { ShutdownInterrupted, TransactionStuck, TransactionalProducer } from './kafka/transactions.js';

// Messages: the visit, the window result, and their keys and partitions.
export { reject, type Validation } from './schemas/result.js';
export {
  DEFAULT_VISIT_LIMITS,
  VISIT_REJECTIONS,
  parseVisit,
  repartitionKey,
  validateVisit,
  type Visit,
  type VisitLimits,
  type VisitRejection,
} from './schemas/visit.js';
export { parseWindowResult, type WindowResult } from './schemas/window-result.js';
export { partitionForKey } from './partitioner.js';
