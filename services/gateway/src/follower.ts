/**
 * The Kafka edge of the gateway: follows the single partition of `active-visitors`.
 *
 * On start it seeks back `historySeconds` by record timestamp (offsetsForTimes), so the view of
 * the last hour is rebuilt from the topic itself — the gateway keeps no state of its own and a
 * restart loses nothing. It then follows the partition live. It reads `read_committed`: the
 * aggregator writes its results in transactions, and an aborted transaction's counts must never
 * reach a dashboard.
 *
 * "Caught up" (what /ready reports) means the first end-of-partition was reached after the
 * seek: from then on the view is as current as the topic.
 */
import {
  TopicAdmin,
  kafka,
  rdkafkaConnectionConfig,
  type KafkaSettings,
  type Logger,
} from '@eric/shared';

export interface FollowerOptions {
  settings: KafkaSettings;
  topic: string;
  historySeconds: number;
  logger: Logger;
  /** Called with every batch of records, in offset order, and the time (performance.now()) it was consumed. */
  onBatch(messages: kafka.Message[], consumedAt: number): void;
}

export interface FollowerStatus {
  assigned: boolean;
  caughtUp: boolean;
  /** Offset the consumer started from after the history seek. */
  startOffset: number | null;
  /** Offset of the next record to read. */
  nextOffset: number | null;
}

const CONSUME_BATCH = 1000;
/** How long one consume call waits for the first record; records already fetched return at once. */
const CONSUME_WAIT_MS = 100;
const RETRY_DELAY_MS = 1000;

export class ActiveVisitorsFollower {
  readonly #options: FollowerOptions;
  readonly #consumer: kafka.KafkaConsumer;
  #status: FollowerStatus = { assigned: false, caughtUp: false, startOffset: null, nextOffset: null };
  #running = false;
  #loop: Promise<void> | undefined;

  constructor(options: FollowerOptions) {
    this.#options = options;
    this.#consumer = new kafka.KafkaConsumer(
      {
        ...rdkafkaConnectionConfig(options.settings),
        // The partition is assigned, never subscribed, and no offset is committed: the group id
        // is only required by librdkafka, and the position comes from the history seek.
        'group.id': `${options.settings.clientId}-follower`,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'isolation.level': 'read_committed',
        'enable.partition.eof': true,
      },
      {},
    );
    this.#consumer.setDefaultConsumeTimeout(CONSUME_WAIT_MS);
    // Wait only for the first record of a batch: at 100 results/s a batch must not wait for 1000.
    kafka.returnBatchesPromptly(this.#consumer);
    this.#consumer.on('partition.eof', () => {
      if (!this.#status.caughtUp) this.#options.logger.info({ nextOffset: this.#status.nextOffset }, 'caught up with active-visitors');
      this.#status.caughtUp = true;
    });
  }

  get status(): FollowerStatus {
    return { ...this.#status };
  }

  async start(): Promise<void> {
    const { settings, topic, historySeconds, logger } = this.#options;
    // Every service creates the topics it reads; active-visitors must have exactly 1 partition.
    const admin = new TopicAdmin(settings, { logger });
    try {
      await admin.ensureTopics([{ name: topic, partitions: 1 }]);
    } finally {
      admin.close();
    }

    await kafka.connect(this.#consumer);
    const since = Date.now() - historySeconds * 1000;
    const [position] = await kafka.call<kafka.TopicPartitionOffset[]>('offsetsForTimes', 30_000, (done) =>
      this.#consumer.offsetsForTimes([{ topic, partition: 0, offset: since }], 30_000, done),
    );
    // -1 (OFFSET_END) when no record is that recent: start at the end.
    const offset = position?.offset ?? -1;
    this.#consumer.assign([{ topic, partition: 0, offset }]);
    this.#status.assigned = true;
    this.#status.startOffset = offset;
    logger.info({ topic, offset, historySeconds }, 'following active-visitors');

    this.#running = true;
    this.#loop = this.#consumeLoop();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.#status.assigned = false;
    await kafka.disconnect(this.#consumer);
  }

  async #consumeLoop(): Promise<void> {
    while (this.#running) {
      let batch: kafka.Message[];
      try {
        batch = await kafka.consumeBatch(this.#consumer, CONSUME_BATCH);
      } catch (error) {
        this.#options.logger.warn({ err: error }, 'consuming active-visitors failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
        continue;
      }
      const last = batch.at(-1);
      if (!last) continue;
      try {
        this.#options.onBatch(batch, performance.now());
      } catch (error) {
        // A bug in handling records must not stop the dashboard: log it and go on.
        this.#options.logger.error({ err: error, from: batch[0]?.offset, to: last.offset }, 'handling window results failed');
      }
      this.#status.nextOffset = last.offset + 1;
    }
  }
}
