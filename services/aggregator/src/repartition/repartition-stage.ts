/**
 * The repartition stage: one member of a consumer group over `visits`. It validates each visit
 * and forwards it to the partition of the repartition topic that owns its (account, store) —
 * murmur2("account_id:store_id") mod P, as Kafka's Java producer would choose — or sends it to
 * the dead-letter topic with the reason. Invalid input never stops it.
 *
 * Delivery guarantee: at least once. Offsets are committed only after every forwarded record of
 * the batch was acknowledged by Kafka (idempotent producer, acks=all), so nothing is lost; after
 * a crash some visits may be forwarded twice. A commit that fails (e.g. in a rebalance) is retried
 * until it lands: the count stages read the committed offsets to know when every visit that
 * arrived before a window's end has been forwarded (see count/upstream-progress.ts), so a lost
 * commit would hold windows open until new traffic came. Commits are asynchronous: a synchronous
 * one would stop the event loop, and with it the count stage, for a broker round trip. That is harmless because the count stage counts
 * distinct visit ids: a second copy is a duplicate, not a second visit. (A transaction here would
 * buy nothing the count stage does not already guarantee, and cost a commit per batch.)
 *
 * Static membership (group.instance.id = pod name) means a restarted pod gets its partitions
 * back without a rebalance of the whole group.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  logClientErrors,
  kafka,
  parseVisit,
  partitionForKey,
  rdkafkaConnectionConfig,
  repartitionKey,
  type CheckResult,
  type KafkaSettings,
  type Logger,
  type ProgressWatch,
  type VisitLimits,
} from '@eric/shared';
import { deadLetterHeaders } from './dead-letter.js';
import type { AggregatorMetrics } from '../metrics.js';

export interface RepartitionStageOptions {
  settings: KafkaSettings;
  applicationId: string;
  instanceId: string;
  partitions: number;
  topics: { visits: string; repartition: string; deadLetter: string };
  batchSize: number;
  limits: VisitLimits;
  logger: Logger;
  metrics: AggregatorMetrics;
  onFatal: (error: Error) => void;
  /** Told whenever the stage's loop completes an iteration (see Liveness). */
  progress: ProgressWatch;
}

/** How long one flush waits for Kafka's acknowledgements before it is made again. */
const FLUSH_TIMEOUT_MS = 10_000;
const MAX_RETRY_DELAY_MS = 5_000;

export function repartitionGroupId(applicationId: string): string {
  return `${applicationId}-repartition`;
}

export class RepartitionStage {
  #consumer: kafka.KafkaConsumer | undefined;
  #producer: kafka.Producer | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #assigned = false;
  /** Assigned partitions, and those of them whose end was reached since they were assigned. */
  readonly #partitions = new Set<number>();
  readonly #atEnd = new Set<number>();
  #deliveryErrors: kafka.LibrdKafkaError[] = [];
  /** Offsets forwarded but not yet committed (a commit failed, e.g. during a rebalance). */
  readonly #uncommitted = new Map<number, number>();
  readonly #log: Logger;

  constructor(private readonly options: RepartitionStageOptions) {
    this.#log = options.logger.child({ stage: 'repartition' });
  }

  /**
   * True when every partition assigned to this member has been read to its end at least once
   * since it was assigned (or nothing is assigned). A partition taken over from a crashed member
   * may hold a backlog, so it counts only once it was drained.
   */
  get caughtUp(): boolean {
    if (!this.#assigned) return false;
    for (const partition of this.#partitions) if (!this.#atEnd.has(partition)) return false;
    return true;
  }

  /** A connected client, for the liveness probe's metadata requests. */
  get kafkaClient(): kafka.Producer {
    if (!this.#producer) throw new Error('the repartition stage has not started');
    return this.#producer;
  }

  async start(): Promise<void> {
    const { settings, applicationId, instanceId } = this.options;
    this.#producer = new kafka.Producer({
      ...rdkafkaConnectionConfig(settings),
      'client.id': `${settings.clientId}-repartition`,
      'enable.idempotence': true,
      acks: -1, // all in-sync replicas
      'linger.ms': 5,
      'batch.num.messages': 10_000,
      'queue.buffering.max.messages': 1_000_000,
      'compression.type': 'lz4',
      dr_cb: true,
    });
    this.#producer.on('delivery-report', (error) => {
      if (error) this.#deliveryErrors.push(error);
    });
    this.#producer.setPollInterval(10);
    this.#consumer = new kafka.KafkaConsumer(
      {
        ...rdkafkaConnectionConfig(settings),
        'client.id': `${settings.clientId}-repartition`,
        'group.id': repartitionGroupId(applicationId),
        'group.instance.id': instanceId,
        // Eager round-robin, not cooperative-sticky: with static membership a restarted pod
        // gets its partitions back without any rebalance, and the rebalances that remain (pods
        // added or gone for longer than the session timeout) finish in one round. With
        // cooperative-sticky we saw the second round stall for more than ten seconds.
        'partition.assignment.strategy': 'roundrobin',
        'session.timeout.ms': 30_000,
        'enable.auto.commit': false,
        'fetch.wait.max.ms': 50,
        'enable.partition.eof': true,
        rebalance_cb: true,
        offset_commit_cb: true,
      },
      { 'auto.offset.reset': 'earliest' },
    );
    this.#consumer.on('rebalance', (error: { code: number }, assignment: kafka.TopicPartition[]) => {
      const assigned = error.code === kafka.ErrorCode.ERR__ASSIGN_PARTITIONS;
      if (assigned) this.#assigned = true;
      for (const { partition } of assignment) {
        this.#atEnd.delete(partition);
        if (assigned) this.#partitions.add(partition);
        else this.#partitions.delete(partition);
      }
      this.#log.info({ event: assigned ? 'assigned' : 'revoked', partitions: assignment.map((p) => p.partition) }, 'rebalance');
    });
    // librdkafka reports the cause of a fatal error (e.g. "fenced by another consumer with the
    // same group.instance.id") here; consume() then only says "Local: Fatal error".
    logClientErrors(this.#consumer, this.#log, 'consumer');
    logClientErrors(this.#producer, this.#log, 'producer');
    this.#consumer.on('partition.eof', ({ partition }) => this.#atEnd.add(partition));
    this.#consumer.setDefaultConsumeTimeout(100);
    kafka.returnBatchesPromptly(this.#consumer);
    this.#consumer.on('offset.commit', (error: kafka.LibrdKafkaError | undefined, offsets: kafka.TopicPartitionOffset[]) => {
      if (!error) return;
      this.#log.warn({ err: error }, 'offset commit failed; retrying');
      // Retry unless a newer offset of the same partition is already waiting.
      for (const { partition, offset } of offsets) {
        if (this.#partitions.has(partition) && offset > (this.#uncommitted.get(partition) ?? -1)) this.#uncommitted.set(partition, offset);
      }
    });
    await Promise.all([kafka.connect(this.#producer), kafka.connect(this.#consumer)]);
    this.#consumer.subscribe([this.options.topics.visits]);
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#loop?.catch(() => undefined);
    await Promise.allSettled([
      this.#consumer ? kafka.disconnect(this.#consumer) : Promise.resolve(),
      this.#producer ? kafka.disconnect(this.#producer) : Promise.resolve(),
    ]);
    this.#log.info('repartition stage stopped');
  }

  readiness(): CheckResult {
    if (!this.#consumer) return { ready: false, detail: 'starting' };
    if (!this.#assigned) return { ready: false, detail: 'waiting for a partition assignment of the visits topic' };
    return { ready: true, detail: this.caughtUp ? 'running' : 'catching up' };
  }

  async #run(): Promise<void> {
    let readFailures = 0;
    try {
      while (!this.#stopping) {
        let messages: kafka.Message[];
        try {
          messages = await kafka.consumeBatch(this.#consumer!, this.options.batchSize);
          readFailures = 0;
        } catch (error) {
          if (kafka.isTerminal(error)) throw error;
          this.#log.warn({ err: error }, 'could not read the visits topic; retrying');
          await sleep(Math.min(250 * 2 ** readFailures++, MAX_RETRY_DELAY_MS));
          continue;
        }
        if (messages.length > 0 && !(await this.#forward(messages))) return; // stopping: nothing committed
        if (this.#uncommitted.size > 0) this.#commit();
        this.#updateLag();
        this.options.progress.progress();
      }
    } catch (error) {
      const fatal = (error as { code?: number }).code === kafka.ErrorCode.ERR__FATAL;
      this.#log.error(
        { err: error },
        fatal
          ? 'repartition stage failed: fatal consumer error, most often because another process uses the same group.instance.id (pod name) and fenced this one'
          : 'repartition stage failed',
      );
      this.options.onFatal(error as Error);
    }
  }

  /**
   * Waits until Kafka acknowledged every forwarded record. While a broker is away the records stay
   * queued in the producer (it retries them until message.timeout.ms), so a flush that times out
   * is simply made again. Resolves false if the stage stops first: the offsets are then not
   * committed, and the visits are forwarded again after the restart (at least once).
   */
  async #flushUntilAcknowledged(): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await kafka.flush(this.#producer!, FLUSH_TIMEOUT_MS);
        return true;
      } catch (error) {
        if (kafka.isTerminal(error) || !kafka.isRetriable(error)) throw error;
        if (this.#stopping) return false;
        this.#log.warn({ err: error, attempt }, 'forwarded visits not acknowledged yet; waiting for Kafka');
      }
    }
  }

  /** Forwards a batch; resolves false if the stage stopped before Kafka acknowledged it. */
  async #forward(messages: kafka.Message[]): Promise<boolean> {
    const { topics, partitions, limits, metrics } = this.options;
    const producer = this.#producer!;
    const now = Date.now() / 1000;
    const nextOffsets = new Map<number, number>();
    let forwarded = 0;
    for (const message of messages) {
      const result = parseVisit(message.value, now, limits);
      if (result.ok) {
        const visit = result.value;
        const key = repartitionKey(visit);
        // Only the contract's four fields travel on: smaller records, and nothing unvalidated.
        const value = Buffer.from(JSON.stringify({ id: visit.id, account_id: visit.account_id, store_id: visit.store_id, timestamp: visit.timestamp }));
        // The visit's Kafka timestamp (its arrival) is kept: the count stage caps event time by it.
        producer.produce(topics.repartition, partitionForKey(key, partitions), value, key, message.timestamp);
        forwarded++;
      } else {
        metrics.visitsInvalid.inc({ reason: result.reason });
        this.#log.warn({ reason: result.reason, detail: result.detail, partition: message.partition, offset: message.offset }, 'invalid visit sent to the dead-letter topic');
        producer.produce(topics.deadLetter, null, message.value, message.key, message.timestamp, undefined, deadLetterHeaders(message, result));
      }
      nextOffsets.set(message.partition, message.offset + 1);
    }
    if (!(await this.#flushUntilAcknowledged())) return false;
    if (this.#deliveryErrors.length > 0) {
      // Kafka refused records even after the producer's retries: committing now would lose them.
      const [first] = this.#deliveryErrors;
      throw new Error(`could not forward ${this.#deliveryErrors.length} visits: ${first?.message}`, { cause: first });
    }
    metrics.recordsConsumed.inc({ stage: 'repartition' }, messages.length);
    metrics.visitsForwarded.inc(forwarded);
    for (const [partition, offset] of nextOffsets) this.#uncommitted.set(partition, offset);
    return true;
  }

  /** Commits the forwarded offsets of partitions still assigned; a failure puts them back (see 'offset.commit'). */
  #commit(): void {
    for (const partition of this.#uncommitted.keys()) if (!this.#partitions.has(partition)) this.#uncommitted.delete(partition);
    if (this.#uncommitted.size === 0) return;
    const offsets = [...this.#uncommitted].map(([partition, offset]) => ({ topic: this.options.topics.visits, partition, offset }));
    this.#uncommitted.clear();
    try {
      this.#consumer!.commit(offsets);
    } catch (error) {
      this.#log.warn({ err: error }, 'offset commit refused; retrying with the next batch');
      for (const { partition, offset } of offsets) this.#uncommitted.set(partition, offset);
    }
  }

  #updateLag(): void {
    const consumer = this.#consumer!;
    for (const position of consumer.position(consumer.assignments())) {
      if (position.offset < 0) continue; // nothing read yet on this partition
      try {
        const { highOffset } = consumer.getWatermarkOffsets(position.topic, position.partition);
        if (highOffset < 0) continue;
        const lag = Math.max(0, highOffset - position.offset);
        this.options.metrics.consumerLag.set({ stage: 'repartition', topic: position.topic, partition: String(position.partition) }, lag);
      } catch {
        // No fetch response yet for this partition.
      }
    }
  }
}
