/**
 * The native Kafka client (librdkafka through `@confluentinc/kafka-javascript`), its callback API
 * turned into promises. Eric uses the callback ("RdKafka") API rather than the KafkaJS-style one:
 * it has `assign()` for consumers that own a fixed partition, the transactional producer calls,
 * and it is the faster of the two.
 */
import rdkafka from '@confluentinc/kafka-javascript';
import type {
  KafkaConsumer as KafkaConsumerType,
  LibrdKafkaError,
  Message,
  Producer as ProducerType,
  TopicPartitionOffset,
} from '@confluentinc/kafka-javascript/types/rdkafka.js';

// The package is CommonJS: its classes are reached through the default export.
export const { KafkaConsumer, Producer, AdminClient, CODES } = rdkafka;
export type KafkaConsumer = KafkaConsumerType;
export type Producer = ProducerType;
export type {
  LibrdKafkaError,
  Message,
  TopicPartitionOffset,
  TopicPartition,
  MessageHeader,
  IAdminClient,
  ConsumerGlobalConfig,
  ProducerGlobalConfig,
} from '@confluentinc/kafka-javascript/types/rdkafka.js';

export const ErrorCode = CODES.ERRORS;

/** Resolves when a callback of the form `(err, value)` is called; rejects on `err`. */
export function callback<T = void>(call: (done: (err: LibrdKafkaError | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    call((err, value) => (err ? reject(err) : resolve(value as T)));
  });
}

type AnyClient = ProducerType | KafkaConsumerType;

export function connect(client: AnyClient, timeoutMs = 30_000): Promise<void> {
  return callback<unknown>((done) => client.connect({ timeout: timeoutMs }, done)).then(() => undefined);
}

/** Disconnects; a producer first flushes for up to `flushTimeoutMs`. */
export function disconnect(client: AnyClient, flushTimeoutMs = 5_000): Promise<void> {
  if (!client.isConnected()) return Promise.resolve();
  // Only the producer's disconnect takes a timeout (for its flush), whatever the typings say.
  return callback<unknown>((done) =>
    client instanceof Producer ? client.disconnect(flushTimeoutMs, done) : client.disconnect(done),
  ).then(() => undefined);
}

/**
 * Makes consume(n) return as soon as at least one record is there and the local queue is drained,
 * instead of waiting until n records arrived or the consume timeout passed without a record: under
 * a steady trickle the default behaviour holds a batch for seconds. The typings lack the method.
 */
export function returnBatchesPromptly(consumer: KafkaConsumerType): void {
  (consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void }).setDefaultIsTimeoutOnlyForFirstMessage(true);
}

/** Consumes up to `max` messages, waiting at most the consumer's consume timeout for the first. */
export function consumeBatch(consumer: KafkaConsumerType, max: number): Promise<Message[]> {
  return callback<Message[]>((done) => consumer.consume(max, done));
}

export function flush(producer: ProducerType, timeoutMs = 10_000): Promise<void> {
  return callback((done) => producer.flush(timeoutMs, done));
}

/** The transactional calls of a producer, each with its own timeout. */
export const transactions = {
  init: (producer: ProducerType, timeoutMs: number) => callback((done) => producer.initTransactions(timeoutMs, done)),
  begin: (producer: ProducerType) => callback((done) => producer.beginTransaction(done)),
  commit: (producer: ProducerType, timeoutMs: number) => callback((done) => producer.commitTransaction(timeoutMs, done)),
  abort: (producer: ProducerType, timeoutMs: number) => callback((done) => producer.abortTransaction(timeoutMs, done)),
  sendOffsets: (producer: ProducerType, offsets: TopicPartitionOffset[], consumer: KafkaConsumerType, timeoutMs: number) =>
    callback((done) => producer.sendOffsetsToTransaction(offsets, consumer, timeoutMs, done)),
};

/** librdkafka marks errors after which a transactional producer cannot go on. */
export function isFatal(error: unknown): boolean {
  return Boolean((error as { isFatal?: boolean } | null)?.isFatal);
}

/** librdkafka marks errors after which the transaction must be aborted and may be retried. */
export function requiresAbort(error: unknown): boolean {
  return Boolean((error as { transactionRequiresAbort?: boolean } | null)?.transactionRequiresAbort);
}

export function isRetriable(error: unknown): boolean {
  return Boolean((error as { isRetriable?: boolean } | null)?.isRetriable);
}
