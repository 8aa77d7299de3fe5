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
  TopicDescription,
  ConsumerGlobalConfig,
  ProducerGlobalConfig,
} from '@confluentinc/kafka-javascript/types/rdkafka.js';

export const ErrorCode = CODES.ERRORS;

/**
 * A native call in flight. Each one occupies a thread of libuv's pool until librdkafka returns,
 * so they are counted: a process must not exit while one runs (exit would wait for it), and an
 * operator looking at a stuck stage wants to know which call it waits for.
 */
export interface PendingCall {
  name: string;
  startedAt: number;
}

const pending = new Set<PendingCall>();

/** The native calls in flight now, oldest first. */
export function pendingCalls(): PendingCall[] {
  return [...pending].sort((a, b) => a.startedAt - b.startedAt);
}

/** How much longer than its own timeout a native call may take before its wait is reported. */
const OVERDUE_MARGIN_MS = 5_000;
/** A deadline timer this late means the whole process was paused, not that the call was slow. */
const PAUSE_TOLERANCE_MS = 1_000;

/** Told about every native call still unanswered past its deadline (see reportOverdueCalls). */
export type OverdueReporter = (call: string, waitedMs: number, timeoutMs: number) => void;

let reportOverdue: OverdueReporter = () => undefined;

/** Where the calls that outlive their deadline are reported: a service passes its logger's warn. */
export function reportOverdueCalls(reporter: OverdueReporter): void {
  reportOverdue = reporter;
}

/**
 * Calls a native method that reports through a callback of the form `(err, value)`, with a
 * deadline: librdkafka is asked to give up after `timeoutMs`, and if the callback still has not
 * come OVERDUE_MARGIN_MS later, the wait is reported — to `onOverdue` if given, else to the
 * process's reporter (reportOverdueCalls) — and again after every further period. The promise
 * keeps waiting for the real answer: librdkafka does answer late while a broker is away (a
 * consume that serves a rebalance, a transactional call), and giving up on a call that still
 * runs would let the next one overlap it. A call that never answers is a wedge, which Liveness
 * reports and a shutdown does not wait for.
 */
export function call<T = void>(
  name: string,
  timeoutMs: number,
  invoke: (done: (err: LibrdKafkaError | null | undefined, value?: T) => void) => void,
  onOverdue?: (waitedMs: number) => void,
): Promise<T> {
  const entry: PendingCall = { name, startedAt: Date.now() };
  pending.add(entry);
  const deadlineMs = timeoutMs + OVERDUE_MARGIN_MS;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let expectedAt = Date.now() + deadlineMs;
    let timer: NodeJS.Timeout;
    const check = () => {
      if (Date.now() - expectedAt > PAUSE_TOLERANCE_MS) {
        // The timer fired late: this process was not running (SIGSTOP, a frozen VM), and neither
        // was the call. Give it its time again rather than blame it.
        expectedAt = Date.now() + deadlineMs;
        timer = setTimeout(check, deadlineMs);
        return;
      }
      // After the I/O callbacks of this turn of the event loop: an answer that is already in is
      // delivered first.
      setImmediate(() => {
        if (settled) return;
        if (onOverdue) onOverdue(Date.now() - entry.startedAt);
        else reportOverdue(name, Date.now() - entry.startedAt, timeoutMs);
        expectedAt = Date.now() + deadlineMs;
        timer = setTimeout(check, deadlineMs);
      });
    };
    timer = setTimeout(check, deadlineMs);
    invoke((err, value) => {
      settled = true;
      clearTimeout(timer);
      pending.delete(entry);
      if (err) reject(err);
      else resolve(value as T);
    });
  });
}

type AnyClient = ProducerType | KafkaConsumerType;

export function connect(client: AnyClient, timeoutMs = 30_000): Promise<void> {
  return call<unknown>('connect', timeoutMs, (done) => client.connect({ timeout: timeoutMs }, done)).then(() => undefined);
}

/** How long a consumer's close may take: it leaves the group and commits nothing (Eric commits itself). */
const CONSUMER_CLOSE_MS = 10_000;

/** Disconnects; a producer first flushes for up to `flushTimeoutMs`. */
export function disconnect(client: AnyClient, flushTimeoutMs = 5_000): Promise<void> {
  if (!client.isConnected()) return Promise.resolve();
  // Only the producer's disconnect takes a timeout (for its flush), whatever the typings say.
  return client instanceof Producer
    ? call<unknown>('producer disconnect', flushTimeoutMs, (done) => client.disconnect(flushTimeoutMs, done)).then(() => undefined)
    : call<unknown>('consumer disconnect', CONSUMER_CLOSE_MS, (done) => client.disconnect(done)).then(() => undefined);
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
  // The wrapper keeps the timeout set with setDefaultConsumeTimeout() here (1 s if never set).
  const waitMs = (consumer as unknown as { _consumeTimeout?: number })._consumeTimeout ?? 1_000;
  return call<Message[]>('consume', waitMs, (done) => consumer.consume(max, done));
}

export function flush(producer: ProducerType, timeoutMs = 10_000): Promise<void> {
  return call('flush', timeoutMs, (done) => producer.flush(timeoutMs, done));
}

/** The transactional calls of a producer, each with its own timeout (see transactions.ts for their rules). */
type OnOverdue = (waitedMs: number) => void;
export const transactions = {
  init: (producer: ProducerType, timeoutMs: number, onOverdue?: OnOverdue) =>
    call('initTransactions', timeoutMs, (done) => producer.initTransactions(timeoutMs, done), onOverdue),
  begin: (producer: ProducerType, onOverdue?: OnOverdue) => call('beginTransaction', 0, (done) => producer.beginTransaction(done), onOverdue),
  commit: (producer: ProducerType, timeoutMs: number, onOverdue?: OnOverdue) =>
    call('commitTransaction', timeoutMs, (done) => producer.commitTransaction(timeoutMs, done), onOverdue),
  abort: (producer: ProducerType, timeoutMs: number, onOverdue?: OnOverdue) =>
    call('abortTransaction', timeoutMs, (done) => producer.abortTransaction(timeoutMs, done), onOverdue),
  sendOffsets: (producer: ProducerType, offsets: TopicPartitionOffset[], consumer: KafkaConsumerType, timeoutMs: number, onOverdue?: OnOverdue) =>
    call('sendOffsetsToTransaction', timeoutMs, (done) => producer.sendOffsetsToTransaction(offsets, consumer, timeoutMs, done), onOverdue),
};

/** librdkafka marks errors after which a client cannot go on. */
export function isFatal(error: unknown): boolean {
  return Boolean((error as { isFatal?: boolean } | null)?.isFatal);
}

/**
 * Errors after which a client cannot go on: librdkafka's fatal errors and a producer fenced by
 * a newer one with the same transactional.id. The process must end; Kubernetes restarts it.
 */
export function isTerminal(error: unknown): boolean {
  const code = (error as { code?: number } | null)?.code;
  return isFatal(error) || code === ErrorCode.ERR__FENCED || code === ErrorCode.ERR_PRODUCER_FENCED || code === ErrorCode.ERR_INVALID_PRODUCER_EPOCH || code === ErrorCode.ERR__FATAL;
}

/** librdkafka marks errors after which the current transaction must be aborted (and may be retried). */
export function requiresAbort(error: unknown): boolean {
  return Boolean((error as { isTxnRequiresAbort?: boolean } | null)?.isTxnRequiresAbort);
}

/** librdkafka marks errors after which the same call may be made again; a timeout is one. */
export function isRetriable(error: unknown): boolean {
  const { isRetriable, code } = (error ?? {}) as { isRetriable?: boolean; code?: number };
  return Boolean(isRetriable) || code === ErrorCode.ERR__TIMED_OUT;
}
