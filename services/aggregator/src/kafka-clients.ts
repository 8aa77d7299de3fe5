/**
 * The Kafka clients of the aggregator's two stages, set up in one place: what they share (client
 * id, idempotent batching producer, consumers that never commit on their own) is written once,
 * and each stage adds only what is its own (transactions, group membership).
 */
import { kafka, logClientErrors, rdkafkaConnectionConfig, type KafkaSettings, type Logger } from '@eric/shared';

/**
 * A producer of the stage `name` (the client id's suffix). Idempotent with acks=all, so a retried
 * send is never written twice; linger, large batches and lz4 trade a few ms of latency for
 * throughput.
 */
export function createStageProducer(settings: KafkaSettings, name: string, logger: Logger, config: kafka.ProducerGlobalConfig = {}): kafka.Producer {
  const producer = new kafka.Producer({
    ...rdkafkaConnectionConfig(settings),
    'client.id': `${settings.clientId}-${name}`,
    'enable.idempotence': true,
    acks: -1, // all in-sync replicas
    'linger.ms': 5,
    'batch.num.messages': 10_000,
    'queue.buffering.max.messages': 1_000_000,
    'compression.type': 'lz4',
    ...config,
  });
  logClientErrors(producer, logger, 'producer');
  return producer;
}

export interface StageConsumerOptions {
  groupId: string;
  /** How long one consume waits for the first record, ms. */
  pollMs: number;
  config?: kafka.ConsumerGlobalConfig;
}

/**
 * A consumer of the stage `name`. Offsets are committed by the stage itself, never automatically:
 * only the stage knows when a record's consequences are safe in Kafka. A short fetch wait and
 * prompt batches keep latency low under a trickle, a bounded prefetch keeps memory low under a
 * backlog; a new group starts at the earliest offset.
 */
export function createStageConsumer(settings: KafkaSettings, name: string, logger: Logger, options: StageConsumerOptions): kafka.KafkaConsumer {
  const consumer = new kafka.KafkaConsumer(
    {
      ...rdkafkaConnectionConfig(settings),
      'client.id': `${settings.clientId}-${name}`,
      'group.id': options.groupId,
      'enable.auto.commit': false,
      'fetch.wait.max.ms': 50,
      // librdkafka prefetches up to 64 MiB per consumer by default, and that memory stays with
      // the process: a backlog made it most of the aggregator's resident memory. 16 MiB keeps
      // several batches ready, which is all a stage can use.
      'queued.max.messages.kbytes': 16 * 1024,
      ...options.config,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  consumer.setDefaultConsumeTimeout(options.pollMs);
  kafka.returnBatchesPromptly(consumer);
  // librdkafka reports the cause of a fatal error (e.g. "fenced by another consumer with the
  // same group.instance.id") here; consume() then only says "Local: Fatal error".
  logClientErrors(consumer, logger, 'consumer');
  return consumer;
}
