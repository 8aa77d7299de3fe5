/**
 * The count stage: owns partition `i` of the repartition topic and counts unique visits per
 * (account, store, window), exactly once. This is its Kafka side: it reads batches, hands them to
 * the counting logic (window-counter.ts, pure), writes what that returns in one transaction,
 * restores the state on start and after an abort, and keeps the metrics.
 *
 * Every batch is one Kafka transaction holding
 *   - the newly counted visit ids, a changelog record per window (the state change),
 *   - the results: provisional counts of changed windows and the final count of closed ones,
 *   - the close clock, when windows closed (so a restore knows they are closed),
 *   - the visits refused by a full window, a few dead-letter records per window,
 *   - the input offset (last processed + 1), through sendOffsetsToTransaction.
 * Either all of it becomes visible to read_committed readers or none of it. After a crash the
 * state is restored from the changelog and reading resumes from the committed offset, so each
 * visit is counted once and each final is emitted once.
 *
 * The transactional.id is `<applicationId>-count-<i>`: a second process with the same ordinal
 * fences the first (which then stops), so a zombie pod cannot write stale results.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ShutdownInterrupted,
  TransactionStuck,
  repartitionKey,
  TransactionalProducer,
  kafka,
  type CheckResult,
  type KafkaSettings,
  type Logger,
  type ProgressWatch,
} from '@eric/shared';
import { encodeCheckpoint, parseCheckpoint } from './checkpoint.js';
import { resultRecord } from './results.js';
import { restoreFromChangelog, type RestoreProgress } from './restore.js';
import { WindowCounter, type CountedBatch } from './window-counter.js';
import type { WindowSpec } from './windows.js';
import { packedDeadLetter, type DeadLetter } from '../dead-letter.js';
import { createStageConsumer, createStageProducer } from '../kafka-clients.js';
import type { AggregatorMetrics } from '../metrics.js';

export interface CountStageOptions {
  settings: KafkaSettings;
  applicationId: string;
  partition: number;
  topics: { visits: string; repartition: string; changelog: string; activeVisitors: string; deadLetter: string };
  window: WindowSpec;
  emitIntervalMs: number;
  /** The most distinct ids a window counts; the ones over it are dead-lettered. */
  maxIdsPerWindow: number;
  batchSize: number;
  pollMs: number;
  transactionTimeoutMs: number;
  logger: Logger;
  metrics: AggregatorMetrics;
  /** Called when the stage cannot go on (fenced, fatal producer error). */
  onFatal: (error: Error) => void;
  /** Told whenever the stage's loop completes an iteration (see Liveness). */
  progress: ProgressWatch;
  /** Clock in seconds; tests may replace it. */
  now?: () => number;
}

type Phase = 'starting' | 'restoring' | 'running' | 'stopping' | 'stopped' | 'failed';

/** librdkafka's timeout for each Kafka call; a transactional call that times out is made again. */
const CALL_TIMEOUT_MS = 10_000;
const FIRST_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 10_000;
/** How long offsets of records that changed nothing (watermarks) may stay uncommitted, ms. */
const IDLE_COMMIT_MS = 5_000;
/** How often the partition count of `visits` is read again (it may grow), ms. */
const SOURCES_REFRESH_MS = 30_000;

export class CountStage {
  readonly #counter: WindowCounter;
  #phase: Phase = 'starting';
  #restore: RestoreProgress = { read: 0, total: 0 };
  #consumer: kafka.KafkaConsumer | undefined;
  #producer: kafka.Producer | undefined;
  #transactions: TransactionalProducer | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  /** Next offset to read on the input partition. */
  #nextOffset = 0;
  #lag = Number.POSITIVE_INFINITY;
  #caughtUpOnce = false;
  #lastCommitAt = 0;
  /** The input offset of the last commit. */
  #committedOffset = 0;
  #sourcesCheckedAt = 0;
  readonly #log: Logger;
  readonly #now: () => number;

  constructor(private readonly options: CountStageOptions) {
    this.#counter = new WindowCounter({ window: options.window, partition: options.partition, emitIntervalMs: options.emitIntervalMs, maxIdsPerWindow: options.maxIdsPerWindow });
    this.#log = options.logger.child({ stage: 'count' });
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  /** Restores the state, then processes the input partition until stop(). */
  async start(): Promise<void> {
    const { settings, partition } = this.options;
    this.#producer = this.#createProducer();
    this.#consumer = createStageConsumer(settings, `count-${partition}`, this.#log, {
      // Manual assignment: the group only stores the committed offsets of partition i.
      groupId: `${this.options.applicationId}-count`,
      pollMs: this.options.pollMs,
      config: { 'isolation.level': 'read_committed' },
    });
    await Promise.all([kafka.connect(this.#producer), kafka.connect(this.#consumer)]);
    this.#transactions = this.#transactionsOf(this.#producer);
    // Fences an older process with the same transactional.id and completes or aborts its open
    // transaction: after this, the changelog partition is stable and can be restored.
    await this.#transactions.init();
    await this.#restoreAndSeek();
    this.#phase = 'running';
    this.#loop = this.#run();
  }

  /** The transactional producer of this partition (a new one replaces a stuck one). */
  #createProducer(): kafka.Producer {
    const { settings, applicationId, partition } = this.options;
    return createStageProducer(settings, `count-${partition}`, this.#log, {
      // Stable per partition: a new process for this partition fences the old one.
      'transactional.id': `${applicationId}-count-${partition}`,
      'transaction.timeout.ms': this.options.transactionTimeoutMs,
    });
  }

  #transactionsOf(producer: kafka.Producer): TransactionalProducer {
    return new TransactionalProducer(producer, {
      callTimeoutMs: CALL_TIMEOUT_MS,
      logger: this.#log,
      stopping: () => this.#stopping,
      onRetry: (call) => this.options.metrics.transactionCallRetries.inc({ call }),
    });
  }

  /**
   * After a transactional call that never answered: a new producer takes over the
   * transactional.id (its initTransactions() fences the stuck one and aborts its transaction),
   * and the state is rebuilt from the changelog. Kafka may still be away: retried until it works,
   * the error is fatal, or the stage stops.
   */
  async #replaceProducer(cause: TransactionStuck): Promise<void> {
    this.#log.warn({ err: cause }, 'a transactional call never answered: a new producer takes over and fences the stuck one');
    this.options.metrics.producersReplaced.inc();
    const stuck = this.#producer!;
    for (let attempt = 1; ; attempt++) {
      const producer = this.#createProducer();
      try {
        await kafka.connect(producer);
        const transactions = this.#transactionsOf(producer);
        await transactions.init();
        this.#producer = producer;
        this.#transactions = transactions;
        break;
      } catch (error) {
        void kafka.disconnect(producer).catch(() => undefined);
        if (kafka.isTerminal(error) || error instanceof ShutdownInterrupted) throw error;
        if (this.#stopping) throw new ShutdownInterrupted('replacing the producer');
        this.#log.warn({ err: error, attempt }, 'could not start a new producer; retrying');
        await sleep(backoff(attempt));
      }
    }
    // Fenced now: its stuck call returns, and the handle can go.
    void kafka.disconnect(stuck).catch((error: unknown) => this.#log.warn({ err: error }, 'could not close the stuck producer'));
    await this.#rewindUntilDone();
  }

  /** Finishes the batch in progress (commit or abort), then disconnects. */
  async stop(): Promise<void> {
    if (this.#phase === 'stopped') return;
    this.#stopping = true;
    this.#phase = 'stopping';
    await this.#loop?.catch(() => undefined);
    await Promise.allSettled([
      this.#consumer ? kafka.disconnect(this.#consumer) : Promise.resolve(),
      this.#producer ? kafka.disconnect(this.#producer) : Promise.resolve(),
    ]);
    this.#phase = 'stopped';
    this.#log.info('count stage stopped');
  }

  readiness(): CheckResult {
    switch (this.#phase) {
      case 'restoring':
        return { ready: false, detail: `restoring ${this.#restore.read} of ${this.#restore.total} changelog records`, phase: this.#phase };
      case 'running':
        return this.#caughtUpOnce
          ? { ready: true, detail: 'running', phase: this.#phase, lag: this.#lag, openWindows: this.#counter.openWindows, eventTime: this.#counter.eventTime, inputEventTimes: this.#counter.inputEventTimes() }
          : { ready: false, detail: `catching up: ${this.#lag} records behind`, phase: this.#phase, lag: this.#lag };
      default:
        return { ready: false, detail: this.#phase, phase: this.#phase };
    }
  }

  async #restoreAndSeek(): Promise<void> {
    const { partition, topics, metrics } = this.options;
    this.#phase = 'restoring';
    // The last commit says where to resume the input, and, in its metadata, where the records
    // of the windows then open begin in the changelog and what the close clock was.
    const consumer = this.#consumer!;
    const [committed] = await kafka.call<Array<{ offset: number; metadata?: string | null }>>('committed', CALL_TIMEOUT_MS, (done) =>
      consumer.committed([{ topic: topics.repartition, partition }], CALL_TIMEOUT_MS, done),
    );
    const checkpoint = parseCheckpoint(committed?.metadata);
    this.#counter.beginRestore(checkpoint);
    const result = await restoreFromChangelog({
      settings: this.options.settings,
      topic: topics.changelog,
      partition,
      groupId: `${this.options.applicationId}-restore`,
      state: this.#counter,
      logger: this.#log,
      from: checkpoint?.restoreFrom,
      stopping: () => this.#stopping,
      onProgress: (progress) => {
        this.options.progress.progress();
        metrics.restoreRecords.inc(Math.max(0, progress.read - this.#restore.read));
        metrics.restoreRemaining.set(progress.total - progress.read);
        this.#restore = progress;
      },
    });
    this.#restore = { read: 0, total: 0 };
    metrics.restoreSeconds.set(result.seconds);
    metrics.restoreRemaining.set(0);
    this.#updateStateGauges();

    // A negative offset means "nothing committed yet": start at the beginning of the partition.
    const offset = committed && committed.offset >= 0 ? committed.offset : 0;
    consumer.unassign();
    consumer.assign([{ topic: topics.repartition, partition, offset }]);
    this.#nextOffset = offset;
    this.#committedOffset = offset;
    this.#log.info({ offset, closeClock: this.#counter.eventTime, restoreFrom: checkpoint?.restoreFrom ?? null }, 'resuming input after the committed offset');
  }

  /**
   * The loop: read a batch, process it in one transaction. Errors that leave no transaction open
   * (a failed read) are waited out; an aborted transaction rewinds to what Kafka holds; a fatal
   * error ends the stage, and with it the process.
   */
  async #run(): Promise<void> {
    const consumer = this.#consumer!;
    let readFailures = 0;
    try {
      while (!this.#stopping) {
        if (Date.now() - this.#sourcesCheckedAt >= SOURCES_REFRESH_MS) await this.#refreshSources();
        let messages: kafka.Message[];
        try {
          messages = await kafka.consumeBatch(consumer, this.options.batchSize);
          readFailures = 0;
        } catch (error) {
          if (kafka.isTerminal(error)) throw error;
          this.#log.warn({ err: error }, 'could not read the repartition topic; retrying');
          await sleep(backoff(++readFailures));
          continue;
        }
        let outcome: 'committed' | 'aborted' | 'idle';
        try {
          outcome = await this.#process(messages);
        } catch (error) {
          if (!(error instanceof TransactionStuck)) throw error;
          await this.#replaceProducer(error);
          continue;
        }
        if (outcome === 'aborted') await this.#rewindUntilDone();
        this.options.progress.progress();
      }
    } catch (error) {
      if (error instanceof ShutdownInterrupted) return; // stop() is under way
      this.#phase = 'failed';
      this.#log.error({ err: error }, 'count stage failed');
      this.options.onFatal(error as Error);
    }
  }

  /**
   * After an aborted transaction: rebuild the state from the changelog and rewind the input to
   * the committed offset, so memory again matches what Kafka holds. Retried (Kafka may be away)
   * until it succeeds, the error is fatal, or the stage stops.
   */
  async #rewindUntilDone(): Promise<void> {
    this.options.metrics.transactionsAborted.inc();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#restoreAndSeek();
        this.#phase = 'running';
        return;
      } catch (error) {
        if (kafka.isTerminal(error) || error instanceof ShutdownInterrupted) throw error;
        if (this.#stopping) throw new ShutdownInterrupted('restore');
        this.#log.warn({ err: error, attempt }, 'could not restore from the changelog; retrying');
        await sleep(backoff(attempt));
      }
    }
  }

  /** Counts a batch and commits the result; 'aborted' means the state must be rewound. */
  async #process(messages: kafka.Message[]): Promise<'committed' | 'aborted' | 'idle'> {
    const { partition, topics } = this.options;
    const producer = this.#producer!;
    const now = this.#now();
    const batch = this.#counter.apply(messages, now);
    this.#recordRead(batch, messages.length);
    if (messages.length > 0) this.#nextOffset = messages[messages.length - 1]!.offset + 1;
    this.#updateLag(messages.length);

    // Watermarks alone change nothing that must be kept: their offsets are committed with the
    // next transaction that has state to write, or after IDLE_COMMIT_MS (they are read again
    // after a restart, which is harmless).
    const uncommitted = this.#nextOffset > this.#committedOffset;
    const nothingToWrite = batch.changelog.length === 0 && batch.results.length === 0 && batch.cappedRecords.length === 0;
    if (nothingToWrite && (!uncommitted || (now - this.#lastCommitAt) * 1000 < IDLE_COMMIT_MS)) return 'idle';

    const commitStarted = process.hrtime.bigint();
    // Always sent, even when no input was read: the metadata is the restore checkpoint.
    const metadata = encodeCheckpoint(this.#counter.checkpoint());
    const offsets = [{ topic: topics.repartition, partition, offset: this.#nextOffset, metadata } as kafka.TopicPartitionOffset];
    const outcome = await this.#transactions!.run(
      () => {
        for (const record of batch.changelog) producer.produce(topics.changelog, partition, record.value, record.key);
        for (const result of batch.results) {
          const record = resultRecord(result);
          producer.produce(topics.activeVisitors, 0, record.value, record.key);
        }
        // In the transaction: an aborted batch dead-letters nothing, its retry does it once.
        for (const letter of cappedLetters(batch, topics.repartition, partition, this.options.window, this.options.maxIdsPerWindow)) {
          producer.produce(topics.deadLetter, null, letter.value, letter.key, undefined, undefined, letter.headers);
        }
      },
      offsets,
      this.#consumer!,
    );
    if (outcome === 'aborted') return 'aborted';
    this.#committedOffset = this.#nextOffset;
    this.#lastCommitAt = now;

    if (batch.changelog.length > 0) await this.#advanceChangelogPosition();
    this.#recordCommitted(batch, Number(process.hrtime.bigint() - commitStarted) / 1e9);
    return 'committed';
  }

  /** The metrics of what a batch read, committed or not. */
  #recordRead(batch: CountedBatch, records: number): void {
    const { metrics } = this.options;
    if (batch.duplicates > 0) metrics.visitsDuplicate.inc(batch.duplicates);
    if (batch.replayed > 0) {
      metrics.visitsReplayed.inc(batch.replayed);
      this.#log.info({ replayed: batch.replayed }, 'visits forwarded again after their window closed (a repartition replay): duplicates, not late');
    }
    for (const lateness of batch.lateness) {
      metrics.visitsDropped.inc({ reason: 'late' });
      metrics.lateness.observe(lateness);
    }
    if (batch.lateness.length > 0) {
      this.#log.warn({ late: batch.lateness.length, maxLatenessSeconds: batch.lateness.reduce((a, b) => Math.max(a, b), 0), closeClock: this.#counter.eventTime }, 'visits for windows already closed, dropped as late');
    }
    for (const offset of batch.unreadable) {
      metrics.visitsDropped.inc({ reason: 'unreadable' });
      this.#log.warn({ offset }, 'unreadable record on the repartition topic, skipped');
    }
    if (records > 0) metrics.recordsConsumed.inc({ stage: 'count' }, records);
  }

  /** The metrics of a committed batch. */
  #recordCommitted(batch: CountedBatch, commitSeconds: number): void {
    const { metrics } = this.options;
    const committedAt = this.#now();
    metrics.transactionSeconds.observe(commitSeconds);
    metrics.batchSize.observe(batch.counted + batch.duplicates + batch.lateness.length);
    metrics.visitsCounted.inc(batch.counted);
    metrics.visitsDropped.inc({ reason: 'window_id_cap' }, batch.capped);
    for (const window of batch.windowsCapped) {
      this.#log.warn({ window, maxIdsPerWindow: this.options.maxIdsPerWindow }, 'window reached AGGREGATOR_MAX_IDS_PER_WINDOW: its new ids go to the dead-letter topic');
    }
    metrics.resultsEmitted.inc({ kind: 'provisional' }, batch.provisional);
    metrics.resultsEmitted.inc({ kind: 'final' }, batch.closedAt.length);
    if (batch.closedAt.length > 0) metrics.windowsClosed.inc({ trigger: batch.trigger }, batch.closedAt.length);
    for (const closedAt of batch.closedAt) metrics.finalLatency.observe(Math.max(0, committedAt - closedAt));
    if (batch.newestVisit > 0) metrics.endToEndLatency.observe(Math.max(0, committedAt - batch.newestVisit));
    const eventTime = this.#counter.eventTime;
    metrics.closeClock.set(Number.isFinite(eventTime) ? eventTime : 0);
    this.#updateStateGauges();
  }

  /**
   * Every partition of `visits` takes part in the event-time clock, also one that was added
   * since the start and has sent nothing yet (it holds the clock until its reader reports).
   */
  async #refreshSources(): Promise<void> {
    this.#sourcesCheckedAt = Date.now();
    const { visits } = this.options.topics;
    try {
      const metadata = await kafka.call<{ topics: Array<{ name: string; partitions: unknown[] }> }>('getMetadata', CALL_TIMEOUT_MS, (done) =>
        this.#consumer!.getMetadata({ topic: visits, timeout: CALL_TIMEOUT_MS }, done),
      );
      const count = metadata.topics.find((topic) => topic.name === visits)?.partitions.length ?? 0;
      if (this.#counter.followInputPartitions(count)) this.#log.info({ visitsPartitions: count }, 'event time follows every partition of the visits topic');
          } catch (error) {
      this.#log.warn({ err: error }, 'could not read the partition count of the visits topic; retrying in 5 s');
      this.#sourcesCheckedAt = Date.now() - SOURCES_REFRESH_MS + 5_000;
    }
  }

  /** After a commit: later changelog records get offsets at or above the high watermark. */
  async #advanceChangelogPosition(): Promise<void> {
    const { topics, partition } = this.options;
    try {
      const { highOffset } = await kafka.call<{ highOffset: number }>('queryWatermarkOffsets', CALL_TIMEOUT_MS, (done) =>
        this.#consumer!.queryWatermarkOffsets(topics.changelog, partition, CALL_TIMEOUT_MS, done),
      );
      this.#counter.changelogReached(highOffset);
    } catch (error) {
      // Keeping the older position is safe: a restore then just reads a little more.
      this.#log.warn({ err: error }, 'could not read the changelog position');
    }
  }

  #updateLag(consumed: number): void {
    const { topics, partition, metrics } = this.options;
    try {
      const { highOffset } = this.#consumer!.getWatermarkOffsets(topics.repartition, partition);
      if (highOffset >= 0) this.#lag = Math.max(0, highOffset - this.#nextOffset);
    } catch {
      // No fetch response yet: the high watermark is unknown.
    }
    if (consumed === 0 && this.#lag === Number.POSITIVE_INFINITY) this.#lag = 0;
    if (this.#lag === 0) this.#caughtUpOnce = true;
    metrics.consumerLag.set({ stage: 'count', topic: topics.repartition, partition: String(partition) }, Number.isFinite(this.#lag) ? this.#lag : 0);
  }

  #updateStateGauges(): void {
    this.options.metrics.stateWindows.set(this.#counter.openWindows);
    this.options.metrics.stateIds.set(this.#counter.ids);
  }
}

/** The dead letters of the visits a batch did not count because their window was full: a few per window. */
function cappedLetters(batch: CountedBatch, topic: string, partition: number, spec: WindowSpec, cap: number): DeadLetter[] {
  return batch.cappedRecords.map(({ window, visits, firstOffset, lastOffset, value }) => {
    const end = window.start + spec.sizeSeconds;
    return packedDeadLetter(
      { topic, partition, offset: firstOffset, lastOffset },
      // No store name in the detail: it is free text, and headers stay one line (docs/operations.md).
      { reason: 'window_id_cap', detail: `${visits} visits not counted: their window [${window.start}, ${end}) already counts ${cap} distinct ids` },
      { key: repartitionKey(window), value, visits, headers: [{ 'eric.window.start': String(window.start) }, { 'eric.window.end': String(end) }] },
    );
  });
}

/** Exponential back-off between retries of a step that failed `attempt` times in a row. */
function backoff(attempt: number): number {
  return Math.min(FIRST_RETRY_DELAY_MS * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
}
