/**
 * The repartition stage: one member of a consumer group over `visits`. It validates each visit
 * and forwards it to the partition of the repartition topic that owns its (account, store) —
 * murmur2("account_id:store_id") mod P, as Kafka's Java producer would choose — or sends it to
 * the dead-letter topic with the reason. Invalid input never stops it. The visits of a read batch
 * that go to one partition and were read from one partition of `visits` travel together, in one
 * record whose `eric.source` header gives their offsets there (repartition-records.ts).
 *
 * It also tells every count stage how far each partition of `visits` it reads has come in event
 * time: watermark records, written to every repartition partition after the visits they cover
 * (repartition-records.ts, source-progress.ts). When a partition is read to its end — checked
 * against Kafka every WATERMARK_INTERVAL_MS — its watermark moves on with the wall clock, so
 * quiet windows close on time without any further traffic.
 *
 * Delivery guarantee: at least once. Offsets are committed only after every forwarded record of
 * the batch was acknowledged by Kafka (idempotent producer, acks=all), so nothing is lost; after
 * a crash some visits may be forwarded twice. That is harmless because the count stage counts
 * distinct visit ids: a second copy is a duplicate, not a second visit — and when its window has
 * closed meanwhile, its source offset still says it is one (count/source-offsets.ts). (A transaction here would
 * buy nothing the count stage does not already guarantee, and cost a commit per batch.) Each
 * commit carries, as metadata, the partition's event-time progress, so that the next reader of a
 * partition (after a restart or a rebalance) continues its watermarks where this one left off.
 * Commits are asynchronous: a synchronous one would stop the event loop, and with it the count
 * stage, for a broker round trip; a failed one is retried.
 *
 * Static membership (group.instance.id = pod name) means a restarted pod gets its partitions
 * back without a rebalance of the whole group.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  kafka,
  parseVisit,
  partitionForKey,
  repartitionKey,
  type CheckResult,
  type KafkaSettings,
  type Logger,
  type ProgressWatch,
  type Visit,
  type VisitLimits,
} from '@eric/shared';
import { deadLetter } from '../dead-letter.js';
import { InFlight } from './in-flight.js';
import { DeadLetterWriter } from './dead-letter-writer.js';
import { createStageConsumer, createStageProducer } from '../kafka-clients.js';
import { SourceProgress, parseSourceCheckpoint } from './source-progress.js';
import {
  SOURCE_HEADER,
  encodeSourcedVisit,
  encodeSourcedVisitBatches,
  encodeWatermark,
  watermarkKey,
  type RepartitionFormat,
  type VisitRecord,
  type Watermark,
} from '../repartition-records.js';
import type { AggregatorMetrics } from '../metrics.js';

export interface RepartitionStageOptions {
  settings: KafkaSettings;
  applicationId: string;
  instanceId: string;
  partitions: number;
  topics: { visits: string; repartition: string; deadLetter: string };
  batchSize: number;
  /** Visits batched per partition (binary), or one JSON record each (for older count stages). */
  format: RepartitionFormat;
  limits: VisitLimits;
  logger: Logger;
  metrics: AggregatorMetrics;
  onFatal: (error: Error) => void;
  /** Told whenever the stage's loop completes an iteration (see Liveness). */
  progress: ProgressWatch;
  /** How often watermarks are sent and idle partitions checked, ms. */
  watermarkIntervalMs: number;
  /** Whether an idle partition's event time moves on with the wall clock (WALL_CLOCK_CLOSE). */
  advanceWhileIdle: boolean;
}

/** A second fatal consumer error within this long fails the stage instead of rejoining. */
const REJOIN_INTERVAL_MS = 60_000;
/** Bound of the idle check's and the take-over's requests to Kafka. */
const IDLE_CHECK_TIMEOUT_MS = 5_000;
/** How long one flush waits for Kafka's acknowledgements before it is made again. */
const FLUSH_TIMEOUT_MS = 10_000;
const MAX_RETRY_DELAY_MS = 5_000;

function repartitionGroupId(applicationId: string): string {
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
  /** Forwarded visits and watermarks whose delivery report has not come yet. */
  readonly #forwarding = new InFlight();
  readonly #deadLetters: DeadLetterWriter;
  /** Offsets forwarded but not yet committed (a commit failed, e.g. during a rebalance). */
  readonly #uncommitted = new Map<number, number>();
  #sources: SourceProgress;
  /** Assigned partitions whose previous reader's progress has not been read yet. */
  readonly #toTakeOver = new Set<number>();
  /** The offset committed for each partition when this reader took it over (-1: none). */
  readonly #committedAtTakeOver = new Map<number, number>();
  #lastIdleCheck = 0;
  #rejoinedAt = 0;
  readonly #log: Logger;

  constructor(private readonly options: RepartitionStageOptions) {
    this.#log = options.logger.child({ stage: 'repartition' });
    this.#sources = new SourceProgress(options.advanceWhileIdle);
    this.#deadLetters = new DeadLetterWriter(() => this.#producer!, options.topics.deadLetter, this.#log, options.metrics);
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
    const { settings } = this.options;
    this.#producer = createStageProducer(settings, 'repartition', this.#log, { dr_cb: true });
    this.#producer.on('delivery-report', (error, report) => {
      if (this.#deadLetters.delivered(error, report?.opaque)) return;
      this.#forwarding.settle();
      if (error) this.#deliveryErrors.push(error);
    });
    this.#producer.setPollInterval(10);
    await Promise.all([kafka.connect(this.#producer), this.#joinGroup()]);
    this.#loop = this.#run();
  }

  /** A consumer that joins the group over `visits` (static member `group.instance.id`). */
  async #joinGroup(): Promise<void> {
    const { settings, applicationId, instanceId } = this.options;
    const consumer = createStageConsumer(settings, 'repartition', this.#log, {
      groupId: repartitionGroupId(applicationId),
      pollMs: 100,
      config: {
        'group.instance.id': instanceId,
        // Eager round-robin, not cooperative-sticky: with static membership a restarted pod
        // gets its partitions back without any rebalance, and the rebalances that remain (pods
        // added or gone for longer than the session timeout) finish in one round. With
        // cooperative-sticky we saw the second round stall for more than ten seconds.
        'partition.assignment.strategy': 'roundrobin',
        'session.timeout.ms': 30_000,
        'enable.partition.eof': true,
        rebalance_cb: true,
        offset_commit_cb: true,
      },
    });
    consumer.on('rebalance', (error: { code: number }, assignment: kafka.TopicPartition[]) => {
      const assigned = error.code === kafka.ErrorCode.ERR__ASSIGN_PARTITIONS;
      if (assigned) this.#assigned = true;
      for (const { partition } of assignment) {
        this.#atEnd.delete(partition);
        if (assigned) {
          this.#partitions.add(partition);
          this.#toTakeOver.add(partition);
        } else {
          this.#partitions.delete(partition);
          this.#toTakeOver.delete(partition);
          this.#sources.release(partition);
        }
      }
      this.#log.info({ event: assigned ? 'assigned' : 'revoked', partitions: assignment.map((p) => p.partition) }, 'rebalance');
    });
    consumer.on('partition.eof', ({ partition }) => this.#atEnd.add(partition));
    consumer.on('offset.commit', (error: kafka.LibrdKafkaError | undefined, offsets: kafka.TopicPartitionOffset[]) => {
      if (!error) return;
      this.#log.warn({ err: error }, 'offset commit failed; retrying');
      // Retry unless a newer offset of the same partition is already waiting.
      for (const { partition, offset } of offsets) {
        if (this.#partitions.has(partition) && offset > (this.#uncommitted.get(partition) ?? -1)) this.#uncommitted.set(partition, offset);
      }
    });
    await kafka.connect(consumer);
    consumer.subscribe([this.options.topics.visits]);
    this.#consumer = consumer;
  }

  /**
   * After a fatal consumer error. librdkafka makes a static member fatal when the group fences
   * its group.instance.id, and it does so after a broker outage longer than the session timeout:
   * its own rejoin comes with a new member id while the old one is still known. A new consumer
   * with the same group.instance.id takes the member's place; uncommitted offsets are forwarded
   * again (at least once). Twice within REJOIN_INTERVAL_MS means another process really holds
   * this pod's identity: then the stage fails.
   */
  async #rejoin(cause: unknown): Promise<void> {
    if (Date.now() - this.#rejoinedAt < REJOIN_INTERVAL_MS) throw cause;
    this.#rejoinedAt = Date.now();
    this.#log.warn({ err: cause }, 'the group fenced this member (a session lost in a broker outage); rejoining with a new consumer');
    const old = this.#consumer!;
    this.#assigned = false;
    for (const partition of this.#partitions) this.#sources.release(partition);
    this.#partitions.clear();
    this.#atEnd.clear();
    this.#toTakeOver.clear();
    this.#uncommitted.clear();
    await kafka.disconnect(old).catch((error: unknown) => this.#log.warn({ err: error }, 'could not close the fenced consumer'));
    await this.#joinGroup();
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
          if (kafka.isTerminal(error)) {
            await this.#rejoin(error);
            continue;
          }
          this.#log.warn({ err: error }, 'could not read the visits topic; retrying');
          await sleep(Math.min(250 * 2 ** readFailures++, MAX_RETRY_DELAY_MS));
          continue;
        }
        if (this.#toTakeOver.size > 0) await this.#takeOver();
        if (messages.length > 0 && !(await this.#forward(messages))) return; // stopping: nothing committed
        if (this.#uncommitted.size > 0) this.#commit();
        if (Date.now() - this.#lastIdleCheck >= this.options.watermarkIntervalMs) await this.#sendIdleWatermarks();
        this.#updateLag();
        this.options.progress.progress();
      }
    } catch (error) {
      this.#log.error(
        { err: error },
        kafka.isTerminal(error)
          ? 'repartition stage failed: fatal Kafka client error, most often because another process uses the same group.instance.id (pod name) and fenced this one'
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
    const nowMs = Date.now();
    const nextOffsets = new Map<number, number>();
    // Per repartition partition, per source partition: each record says where its visits were read.
    const toPartition: Array<Map<number, { source: number; visits: Visit[]; offsets: number[] }>> = Array.from({ length: partitions }, () => new Map());
    for (const message of messages) {
      const result = parseVisit(message.value, nowMs / 1000, limits);
      if (result.ok) {
        const visit = result.value;
        const bySource = toPartition[partitionForKey(repartitionKey(visit), partitions)]!;
        let fromSource = bySource.get(message.partition);
        if (!fromSource) bySource.set(message.partition, (fromSource = { source: message.partition, visits: [], offsets: [] }));
        fromSource.visits.push(visit);
        fromSource.offsets.push(message.offset);
        this.#sources.observe(message.partition, visit.timestamp, message.timestamp ?? 0, nowMs);
      } else {
        metrics.visitsInvalid.inc({ reason: result.reason });
        this.#log.warn({ reason: result.reason, detail: result.detail, partition: message.partition, offset: message.offset }, 'invalid visit sent to the dead-letter topic');
        this.#deadLetters.write(deadLetter(message, result, message));
      }
      nextOffsets.set(message.partition, message.offset + 1);
    }
    let forwarded = 0;
    const send = (partition: number, record: VisitRecord, key: string | null) => {
      producer.produce(topics.repartition, partition, record.value, key, undefined, undefined, [{ [SOURCE_HEADER]: record.source }]);
      this.#forwarding.add();
    };
    toPartition.forEach((bySource, partition) => {
      for (const sourced of bySource.values()) {
        forwarded += sourced.visits.length;
        if (this.options.format === 'json') {
          sourced.visits.forEach((visit, i) => send(partition, encodeSourcedVisit(sourced.source, visit, sourced.offsets[i]!), repartitionKey(visit)));
        } else {
          for (const record of encodeSourcedVisitBatches(sourced)) send(partition, record, null);
        }
      }
    });
    // After the visits, in the same producer: a count stage reads them before the watermark.
    for (const source of nextOffsets.keys()) this.#sendWatermark(this.#sources.flowing(source));
    if (!(await this.#flushUntilAcknowledged())) return false;
    // Kafka has answered for every record; wait until the stage has read every answer.
    await this.#forwarding.settled();
    // A refused dead letter is sent again without its payload, never a reason to stop.
    for (;;) {
      await this.#deadLetters.settled();
      if (!this.#deadLetters.retryRefused()) break;
      if (!(await this.#flushUntilAcknowledged())) return false;
    }
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

  /** Writes a watermark to every repartition partition, so that every count stage learns it. */
  #sendWatermark(watermark: Watermark): void {
    const value = encodeWatermark(watermark);
    const key = watermarkKey(watermark.source);
    for (let partition = 0; partition < this.options.partitions; partition++) {
      this.#producer!.produce(this.options.topics.repartition, partition, value, key);
      this.#forwarding.add();
    }
  }

  /**
   * Sends the watermark of every assigned partition that Kafka says is read to its end: its end
   * offset, asked for now, is at or below this reader's position, so every visit that reached it
   * before the question has been forwarded. A partition still being read gets its watermark with
   * its visits (#forward).
   */
  async #sendIdleWatermarks(): Promise<void> {
    this.#lastIdleCheck = Date.now();
    const owned = [...this.#partitions].filter((partition) => this.#sources.owns(partition));
    if (owned.length === 0) return;
    const { visits } = this.options.topics;
    const checkedAt = Date.now();
    let ends: kafka.TopicPartitionOffset[];
    try {
      // offsetsForTimes with -1 (ListOffsets' "latest") answers every partition in one request.
      ends = await kafka.call<kafka.TopicPartitionOffset[]>('offsetsForTimes', IDLE_CHECK_TIMEOUT_MS, (done) =>
        this.#consumer!.offsetsForTimes(owned.map((partition) => ({ topic: visits, partition, offset: -1 })), IDLE_CHECK_TIMEOUT_MS, done),
      );
    } catch (error) {
      this.#log.debug({ err: error }, 'could not check whether the visits partitions are read to their end');
      return;
    }
    const positions = new Map(this.#consumer!.position(owned.map((partition) => ({ topic: visits, partition }))).map((p) => [p.partition, p.offset]));
    for (const { partition, offset: end } of ends) {
      if (end >= 0 && this.#startPosition(partition, positions.get(partition)) >= end && this.#sources.owns(partition)) {
        this.#sendWatermark(this.#sources.idle(partition, checkedAt));
      }
    }
  }

  /**
   * The next offset this reader will read: its position once it has read something since the
   * assignment, else the offset committed when it took the partition over, else (nothing ever
   * committed) the beginning: 0, which only an empty partition's end equals.
   */
  #startPosition(partition: number, position: number | undefined): number {
    if (position !== undefined && position >= 0) return position;
    const committed = this.#committedAtTakeOver.get(partition) ?? -1;
    return committed >= 0 ? committed : 0;
  }

  /** Reads the progress that the previous readers of newly assigned partitions committed. */
  async #takeOver(): Promise<void> {
    const partitions = [...this.#toTakeOver];
    try {
      const committed = await kafka.call<kafka.TopicPartitionOffset[]>('committed', IDLE_CHECK_TIMEOUT_MS, (done) =>
        this.#consumer!.committed(partitions.map((partition) => ({ topic: this.options.topics.visits, partition })), IDLE_CHECK_TIMEOUT_MS, done),
      );
      for (const entry of committed) {
        if (!this.#toTakeOver.delete(entry.partition)) continue; // revoked meanwhile
        this.#sources.takeOver(entry.partition, parseSourceCheckpoint((entry as { metadata?: string }).metadata));
        this.#committedAtTakeOver.set(entry.partition, entry.offset);
      }
    } catch (error) {
      this.#log.warn({ err: error }, 'could not read the committed progress of newly assigned partitions; retrying');
    }
  }

  /** Commits the forwarded offsets of partitions still assigned; a failure puts them back (see 'offset.commit'). */
  #commit(): void {
    for (const partition of this.#uncommitted.keys()) if (!this.#partitions.has(partition)) this.#uncommitted.delete(partition);
    if (this.#uncommitted.size === 0) return;
    const offsets = [...this.#uncommitted].map(([partition, offset]) => {
      const checkpoint = this.#sources.checkpoint(partition);
      return { topic: this.options.topics.visits, partition, offset, ...(checkpoint ? { metadata: JSON.stringify(checkpoint) } : {}) };
    });
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
