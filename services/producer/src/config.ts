/**
 * The producer's configuration: environment variables only, validated at start. docs/producer.md
 * lists every key; keep the two in step.
 */
import {
  ConfigError,
  httpConfigSchema,
  kafkaConfigSchema,
  loadConfig,
  logConfigSchema,
  tokenListFormat,
  topicNameSchema,
  visitsPartitionsSchema,
  type LoadOptions,
} from '@eric/shared';

/** Parses "1,2,3" into account ids; throws a message convict shows next to the variable. */
export function parseAccountIds(text: string): number[] {
  const items = splitList(text);
  if (items.length === 0) throw new Error('must list at least one account id');
  return items.map((item) => {
    const id = Number(item);
    if (!/^\d+$/.test(item) || !Number.isSafeInteger(id)) throw new Error(`must be a comma-separated list of non-negative integers, "${item}" is not`);
    return id;
  });
}

/** Parses "us,uk" into store ids; an empty list means every synthetic visit has a null store. */
export function parseStoreIds(text: string): string[] {
  const items = splitList(text);
  for (const item of items) {
    if (item.length > 256) throw new Error(`a store id has at most 256 characters, "${item.slice(0, 20)}…" has ${item.length}`);
  }
  return items;
}

function splitList(text: string): string[] {
  return String(text)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export const producerConfigSchema = {
  kafka: kafkaConfigSchema('eric-producer'),
  http: httpConfigSchema(6060),
  log: logConfigSchema,
  topics: { visits: topicNameSchema.visits },
  visitsPartitions: visitsPartitionsSchema,
  generator: {
    rate: {
      doc: 'Synthetic visits per second generated continuously; 0 = none (ingestion only).',
      format: 'non-negative-number',
      default: 0,
      env: 'PRODUCER_RATE',
    },
    accountIds: {
      doc: 'Account ids of synthetic visits, comma-separated; each visit picks one at random.',
      format: (value: unknown) => void parseAccountIds(String(value)),
      default: '352',
      env: 'PRODUCER_ACCOUNT_IDS',
    },
    storeIds: {
      doc: 'Store ids of synthetic visits, comma-separated; each visit picks one of them or null at random.',
      format: (value: unknown) => void parseStoreIds(String(value)),
      default: 'default',
      env: 'PRODUCER_STORE_IDS',
    },
    duplicates: {
      doc: 'Share (0-1) of synthetic visits that re-send a recent visit with the same id.',
      format: 'ratio',
      default: 0,
      env: 'PRODUCER_DUPLICATES',
    },
    late: {
      doc: 'Share (0-1) of synthetic visits stamped PRODUCER_LATE_BY_SECONDS in the past (after their window closed).',
      format: 'ratio',
      default: 0,
      env: 'PRODUCER_LATE',
    },
    lateBySeconds: {
      doc: 'How far in the past a late synthetic visit is stamped, in seconds (more than window + grace).',
      format: 'positive-number',
      default: 120,
      env: 'PRODUCER_LATE_BY_SECONDS',
    },
  },
  ingest: {
    bodyLimitBytes: {
      doc: 'Largest accepted POST /v1/visits body, in bytes; larger bodies get 413.',
      format: 'positive-int',
      default: 1_048_576,
      env: 'PRODUCER_INGEST_BODY_LIMIT_BYTES',
    },
    maxVisits: {
      doc: 'Most visits in one POST /v1/visits request; more get 413.',
      format: 'positive-int',
      default: 10_000,
      env: 'PRODUCER_INGEST_MAX_VISITS',
    },
    retryAfterSeconds: {
      doc: 'Value of the Retry-After header of a 503 answer, in seconds.',
      format: 'positive-int',
      default: 1,
      env: 'PRODUCER_RETRY_AFTER_SECONDS',
    },
    keys: {
      doc: 'Ingest keys and the accounts each may send, "key=1,2;other=*" (keys of 128 random bits); empty = ingestion open to anyone (logged as a warning at start).',
      format: tokenListFormat,
      default: '',
      env: 'PRODUCER_INGEST_KEYS',
      sensitive: true,
    },
    maxFutureSeconds: {
      doc: 'How far ahead of the producer\'s clock a visit timestamp may be, in seconds; further ones get 400 (a visit from the future opens a window the dashboard shows early).',
      format: 'non-negative-number',
      default: 60,
      env: 'PRODUCER_INGEST_MAX_FUTURE_SECONDS',
    },
    requestTimeoutMs: {
      doc: 'Time a client has to send a whole request (headers and body), and the longest a connection may stay silent, in ms; then 408 and the connection is closed.',
      format: 'positive-int',
      default: 10_000,
      env: 'PRODUCER_INGEST_REQUEST_TIMEOUT_MS',
    },
    clientRequestsPerSecond: {
      doc: 'POST /v1/visits requests per second one client address may make; more get 429. 0 = no limit.',
      format: 'non-negative-int',
      default: 100,
      env: 'PRODUCER_INGEST_CLIENT_REQUESTS_PER_SECOND',
    },
    accountVisitsPerSecond: {
      doc: 'Visits per second one account may send, on average; a request over the budget gets 429 and nothing of it is written. 0 = no limit.',
      format: 'non-negative-number',
      default: 1000,
      env: 'PRODUCER_INGEST_ACCOUNT_VISITS_PER_SECOND',
    },
    accountBurstSeconds: {
      doc: 'How many seconds of its budget an idle account may send at once; budget × burst must hold PRODUCER_INGEST_MAX_VISITS.',
      format: 'positive-number',
      default: 10,
      env: 'PRODUCER_INGEST_ACCOUNT_BURST_SECONDS',
    },
    maxTrackedClients: {
      doc: 'Most client addresses whose request counts are kept; the least recently seen are forgotten first.',
      format: 'positive-int',
      default: 10_000,
      env: 'PRODUCER_INGEST_MAX_TRACKED_CLIENTS',
    },
    maxTrackedAccounts: {
      doc: 'Most accounts whose visit budgets are kept; the least recently seen are forgotten first (and come back with a full budget).',
      format: 'positive-int',
      default: 10_000,
      env: 'PRODUCER_INGEST_MAX_TRACKED_ACCOUNTS',
    },
  },
  delivery: {
    timeoutMs: {
      doc: 'How long the Kafka client tries to deliver a visit before giving up (message.timeout.ms), in ms; an ingest request waits at most this long.',
      format: 'positive-int',
      default: 10_000,
      env: 'PRODUCER_DELIVERY_TIMEOUT_MS',
    },
    lingerMs: {
      doc: 'How long the Kafka client waits to fill a batch (linger.ms), in ms: latency against throughput.',
      format: 'non-negative-int',
      default: 5,
      env: 'PRODUCER_LINGER_MS',
    },
    maxQueued: {
      doc: 'Most visits waiting for a Kafka acknowledgement; above it ingest requests get 503 and the generator waits.',
      format: 'positive-int',
      default: 100_000,
      env: 'PRODUCER_MAX_QUEUED_VISITS',
    },
  },
};

type Raw = ReturnType<typeof loadRaw>;

function loadRaw(options?: LoadOptions) {
  return loadConfig(producerConfigSchema, options);
}

export type ProducerConfig = Omit<Raw, 'generator'> & {
  generator: Omit<Raw['generator'], 'accountIds' | 'storeIds'> & { accountIds: number[]; storeIds: string[] };
};

/** Loads and validates the configuration (throws `ConfigError`), with the lists parsed. */
export function loadProducerConfig(options?: LoadOptions): ProducerConfig {
  const raw = loadRaw(options);
  checkAccountBudget(raw.ingest);
  return {
    ...raw,
    generator: {
      ...raw.generator,
      accountIds: parseAccountIds(raw.generator.accountIds),
      storeIds: parseStoreIds(raw.generator.storeIds),
    },
  };
}

/**
 * A request is admitted whole (all or nothing), so a budget whose burst is smaller than the largest
 * request would refuse every full-sized request forever: stop at start instead.
 */
function checkAccountBudget(ingest: Raw['ingest']): void {
  const { accountVisitsPerSecond, accountBurstSeconds, maxVisits } = ingest;
  if (accountVisitsPerSecond === 0 || accountVisitsPerSecond * accountBurstSeconds >= maxVisits) return;
  throw new ConfigError(
    `PRODUCER_INGEST_ACCOUNT_VISITS_PER_SECOND (${accountVisitsPerSecond}) × PRODUCER_INGEST_ACCOUNT_BURST_SECONDS (${accountBurstSeconds}) ` +
      `must be at least PRODUCER_INGEST_MAX_VISITS (${maxVisits}): a request of one account with that many visits could never be admitted`,
  );
}
