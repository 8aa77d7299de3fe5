/**
 * Has every visit that reached Kafka before time T been forwarded by the repartition stage?
 *
 * This is what lets a quiet partition close its windows on the wall clock without ever calling a
 * visit late that reached Kafka in time. The answer comes from Kafka itself, across all pods:
 * for every partition p of `visits`,
 *
 *   first offset whose timestamp is at or after T   (offsetsForTimes; the end if there is none)
 *     <=  offset committed by the repartition group  (it commits only after the forwarded
 *                                                     records were acknowledged)
 *
 * With `message.timestamp.type=LogAppendTime` on `visits` (Eric creates it that way) record
 * timestamps are arrival times and grow with the offset, so the test is exact. A repartition pod
 * that is down, or lagging, holds its partitions' committed offsets back, and with them every
 * wall-clock close: windows wait for its backlog instead of dropping it.
 */
import { kafka, rdkafkaConnectionConfig, type KafkaSettings } from '@eric/shared';

const TIMEOUT_MS = 5_000;
const PARTITIONS_REFRESH_MS = 30_000;
/** ListOffsets' special timestamps: the offset after the last record, and the first retained one. */
const LATEST = -1;
const EARLIEST = -2;

export class UpstreamProgress {
  /**
   * A consumer in the repartition stage's group that never joins it (no subscribe, no assign):
   * it only reads the group's committed offsets. The Admin API's listConsumerGroupOffsets would do
   * the same, but librdkafka (up to 2.15 at least) can abort the process in it when the connection
   * to the group coordinator drops (a use-after-free in its coordinator request path).
   */
  readonly #groupReader: kafka.KafkaConsumer;
  #connected: Promise<void> | undefined;
  #partitions: number[] = [];
  #partitionsAt = 0;
  /** The partitions of `visits` that held the last check back (for logs and /ready). */
  lastBehind: Array<{ partition: number; committed: number; mustReach: number }> = [];

  constructor(
    settings: KafkaSettings,
    private readonly visitsTopic: string,
    groupId: string,
    /** Any connected consumer: used for metadata and offsetsForTimes. */
    private readonly consumer: kafka.KafkaConsumer,
  ) {
    this.#groupReader = new kafka.KafkaConsumer(
      { ...rdkafkaConnectionConfig(settings), 'client.id': `${settings.clientId}-upstream`, 'group.id': groupId, 'enable.auto.commit': false },
      {},
    );
  }

  /** True when every visit with an arrival timestamp before `timeMs` has been forwarded. */
  async forwardedBefore(timeMs: number): Promise<boolean> {
    this.#connected ??= kafka.connect(this.#groupReader, TIMEOUT_MS).catch((error: unknown) => {
      this.#connected = undefined;
      throw error;
    });
    await this.#connected;
    const partitions = await this.#visitsPartitions();
    // Three requests whatever the partition count: each native call holds a libuv thread.
    const [committed, firstAtOrAfter, ends] = await Promise.all([
      this.#committedOffsets(partitions),
      this.#offsetsAt(partitions, timeMs),
      this.#offsetsAt(partitions, LATEST),
    ]);
    const starts = partitions.some((partition) => !committed.has(partition)) ? await this.#offsetsAt(partitions, EARLIEST) : new Map<number, number>();
    this.lastBehind = [];
    for (const partition of partitions) {
      const found = firstAtOrAfter.get(partition) ?? -1;
      // -1: no record at or after T yet, so every record in the partition arrived before T.
      const mustReach = found >= 0 ? found : (ends.get(partition) ?? 0);
      // Nothing committed yet: the group would start at the beginning of what is retained.
      const reached = committed.get(partition) ?? starts.get(partition) ?? 0;
      if (reached < mustReach) this.lastBehind.push({ partition, committed: reached, mustReach });
    }
    return this.lastBehind.length === 0;
  }

  async close(): Promise<void> {
    await kafka.disconnect(this.#groupReader).catch(() => undefined);
  }

  async #committedOffsets(partitions: number[]): Promise<Map<number, number>> {
    const entries = await kafka.call<kafka.TopicPartitionOffset[]>('committed', TIMEOUT_MS, (done) =>
      this.#groupReader.committed(
        partitions.map((partition) => ({ topic: this.visitsTopic, partition })),
        TIMEOUT_MS,
        done,
      ),
    );
    const offsets = new Map<number, number>();
    for (const entry of entries) if (entry.offset >= 0) offsets.set(entry.partition, entry.offset);
    return offsets;
  }

  async #offsetsAt(partitions: number[], timestamp: number): Promise<Map<number, number>> {
    const entries = await kafka.call<kafka.TopicPartitionOffset[]>('offsetsForTimes', TIMEOUT_MS, (done) =>
      this.consumer.offsetsForTimes(partitions.map((partition) => ({ topic: this.visitsTopic, partition, offset: timestamp })), TIMEOUT_MS, done),
    );
    return new Map(entries.map((entry) => [entry.partition, entry.offset]));
  }

  async #visitsPartitions(): Promise<number[]> {
    if (Date.now() - this.#partitionsAt > PARTITIONS_REFRESH_MS || this.#partitions.length === 0) {
      const metadata = await kafka.call<{ topics: Array<{ name: string; partitions: Array<{ id: number }> }> }>('getMetadata', TIMEOUT_MS, (done) =>
        this.consumer.getMetadata({ topic: this.visitsTopic, timeout: TIMEOUT_MS }, done),
      );
      const topic = metadata.topics.find((entry) => entry.name === this.visitsTopic);
      this.#partitions = (topic?.partitions ?? []).map((partition) => partition.id).sort((a, b) => a - b);
      this.#partitionsAt = Date.now();
    }
    return this.#partitions;
  }
}
