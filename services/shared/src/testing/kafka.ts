/**
 * Helpers for integration tests against a real broker: unique topic names, producing and reading
 * back records. Tests assert Kafka behaviour with these, never with a mock.
 */
import { randomUUID } from 'node:crypto';
import { KafkaConsumer, Producer, connect, consumeBatch, disconnect, flush, type Message, type MessageHeader } from '../kafka/rdkafka.js';
import { rdkafkaConnectionConfig, type KafkaSettings } from '../kafka/settings.js';

export function testKafkaSettings(brokers: string, clientId = 'eric-test'): KafkaSettings {
  return {
    brokers,
    clientId,
    securityProtocol: 'plaintext',
    saslMechanism: 'PLAIN',
    saslUsername: '',
    saslPassword: '',
    sslCaLocation: '',
    replicationFactor: -1,
  };
}

/** A topic or group name no other test run uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface OutgoingRecord {
  value: string | Buffer | null;
  key?: string | null;
  partition?: number;
  headers?: MessageHeader[];
  /** Record timestamp, ms; default now. */
  timestampMs?: number;
}

/** Produces the records and resolves when the broker acknowledged all of them. */
export async function produceRecords(settings: KafkaSettings, topic: string, records: OutgoingRecord[]): Promise<void> {
  const producer = new Producer({ ...rdkafkaConnectionConfig(settings), dr_cb: true, 'linger.ms': 5, 'enable.idempotence': true });
  let pending = records.length;
  const acked = new Promise<void>((resolve, reject) => {
    if (pending === 0) resolve();
    producer.on('delivery-report', (err) => {
      if (err) reject(err);
      else if (--pending === 0) resolve();
    });
  });
  producer.setPollInterval(10);
  await connect(producer);
  try {
    for (const record of records) {
      const value = record.value === null ? null : Buffer.isBuffer(record.value) ? record.value : Buffer.from(record.value);
      producer.produce(topic, record.partition ?? null, value, record.key ?? null, record.timestampMs ?? Date.now(), undefined, record.headers);
    }
    await flush(producer);
    await acked;
  } finally {
    await disconnect(producer);
  }
}

export interface ReadOptions {
  partitions: number[];
  /** Stop once this many records were read. */
  count?: number;
  /**
   * Stop when nothing new arrived for this long, in ms (without `count`, at least 10 s before the
   * first record): the way out when the end cannot be reached (records behind an open transaction).
   */
  idleMs?: number;
  /** Give up after this long, in ms. */
  timeoutMs?: number;
  isolation?: 'read_committed' | 'read_uncommitted';
}

/**
 * Reads a topic's partitions from the beginning: until `count` records or `idleMs` of silence, or,
 * without `count`, up to their end as it was when the read began (the high watermark; the
 * consumer's position passes transaction markers too). An end, not a pause, is what says
 * "everything": on a busy machine the first fetch alone can take longer than any pause.
 */
export async function readRecords(settings: KafkaSettings, topic: string, options: ReadOptions): Promise<Message[]> {
  const { count = Infinity, idleMs = 2_000, timeoutMs = 30_000, isolation = 'read_committed' } = options;
  const consumer = new KafkaConsumer({
    ...rdkafkaConnectionConfig(settings),
    'group.id': uniqueName('eric-test-reader'),
    'enable.auto.commit': false,
    'isolation.level': isolation,
  }, { 'auto.offset.reset': 'earliest' });
  consumer.setDefaultConsumeTimeout(100);
  await connect(consumer);
  const records: Message[] = [];
  try {
    const ends = await Promise.all(options.partitions.map((partition) => highWatermark(consumer, topic, partition)));
    const atEnd = () =>
      consumer.position(options.partitions.map((partition) => ({ topic, partition }))).every((position, i) => {
        const end = ends[i];
        return end !== undefined && position.offset !== undefined && position.offset >= end;
      });
    const toTheEnd = count === Infinity;
    if (toTheEnd && ends.every((end) => end === 0)) return records;
    consumer.assign(options.partitions.map((partition) => ({ topic, partition, offset: 0 })));
    const started = Date.now();
    let lastRecordAt = Date.now();
    // Before the first record, a reader to the end waits longer than `idleMs` (a first fetch on a
    // busy machine is slow), but not for ever: the records may all sit behind an open transaction.
    const idle = () => Date.now() - lastRecordAt >= (toTheEnd && records.length === 0 ? Math.max(idleMs, FIRST_RECORD_PATIENCE_MS) : idleMs);
    while (records.length < count && Date.now() - started < timeoutMs && !idle()) {
      const batch = await consumeBatch(consumer, 1000);
      if (batch.length > 0) lastRecordAt = Date.now();
      records.push(...batch);
      if (toTheEnd && atEnd()) break;
    }
  } finally {
    await disconnect(consumer);
  }
  return records;
}

/** How long a reader to the end waits for its first record before it takes silence for the end. */
const FIRST_RECORD_PATIENCE_MS = 10_000;

/** The partition's end now; undefined when the broker cannot say yet (e.g. just after an outage): then silence decides. */
function highWatermark(consumer: KafkaConsumer, topic: string, partition: number): Promise<number | undefined> {
  return new Promise((resolve) =>
    consumer.queryWatermarkOffsets(topic, partition, 10_000, (error, offsets) => resolve(error ? undefined : offsets.highOffset)),
  );
}

/**
 * The environment that gives a run of Eric its own consumer groups, transactional ids and
 * topics, all named after `prefix`, so that runs on one broker never mix.
 */
export function isolatedRunEnv(prefix: string): Record<string, string> {
  return {
    APPLICATION_ID: prefix,
    TOPIC_VISITS: `${prefix}-visits`,
    TOPIC_REPARTITION: `${prefix}-repartition`,
    TOPIC_CHANGELOG: `${prefix}-changelog`,
    TOPIC_ACTIVE_VISITORS: `${prefix}-active-visitors`,
    TOPIC_DEAD_LETTER: `${prefix}-dead-letter`,
  };
}
