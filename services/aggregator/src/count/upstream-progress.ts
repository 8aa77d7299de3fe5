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

export class UpstreamProgress {
  readonly #admin: kafka.IAdminClient;
  #partitions: number[] = [];
  #partitionsAt = 0;
  /** The partitions of `visits` that held the last check back (for logs and /ready). */
  lastBehind: Array<{ partition: number; committed: number; mustReach: number }> = [];

  constructor(
    settings: KafkaSettings,
    private readonly visitsTopic: string,
    private readonly groupId: string,
    /** Any connected consumer: used for metadata, offsetsForTimes and watermarks. */
    private readonly consumer: kafka.KafkaConsumer,
  ) {
    this.#admin = kafka.AdminClient.create({ ...rdkafkaConnectionConfig(settings), 'client.id': `${settings.clientId}-upstream` });
  }

  /** True when every visit with an arrival timestamp before `timeMs` has been forwarded. */
  async forwardedBefore(timeMs: number): Promise<boolean> {
    const partitions = await this.#visitsPartitions();
    const [committed, firstAtOrAfter, watermarks] = await Promise.all([
      this.#committedOffsets(partitions),
      kafka.callback<kafka.TopicPartitionOffset[]>((done) =>
        this.consumer.offsetsForTimes(partitions.map((partition) => ({ topic: this.visitsTopic, partition, offset: timeMs })), TIMEOUT_MS, done),
      ),
      Promise.all(
        partitions.map((partition) =>
          kafka.callback<{ lowOffset: number; highOffset: number }>((done) => this.consumer.queryWatermarkOffsets(this.visitsTopic, partition, TIMEOUT_MS, done)),
        ),
      ),
    ]);
    this.lastBehind = [];
    partitions.forEach((partition, index) => {
      const { lowOffset, highOffset } = watermarks[index]!;
      const found = firstAtOrAfter.find((entry) => entry.partition === partition)?.offset ?? -1;
      // -1: no record at or after T yet, so every record in the partition arrived before T.
      const mustReach = found >= 0 ? found : highOffset;
      // Nothing committed yet: the group would start at the beginning of what is retained.
      const reached = committed.get(partition) ?? lowOffset;
      if (reached < mustReach) this.lastBehind.push({ partition, committed: reached, mustReach });
    });
    return this.lastBehind.length === 0;
  }

  close(): void {
    this.#admin.disconnect();
  }

  async #committedOffsets(partitions: number[]): Promise<Map<number, number>> {
    const [result] = await kafka.callback<Array<{ error?: kafka.LibrdKafkaError; partitions: Array<{ partition: number; offset: number }> }>>((done) =>
      this.#admin.listConsumerGroupOffsets(
        [{ groupId: this.groupId, partitions: partitions.map((partition) => ({ topic: this.visitsTopic, partition })) }],
        { timeout: TIMEOUT_MS },
        done,
      ),
    );
    if (result?.error) throw result.error;
    const offsets = new Map<number, number>();
    for (const entry of result?.partitions ?? []) if (entry.offset >= 0) offsets.set(entry.partition, entry.offset);
    return offsets;
  }

  async #visitsPartitions(): Promise<number[]> {
    if (Date.now() - this.#partitionsAt > PARTITIONS_REFRESH_MS || this.#partitions.length === 0) {
      const metadata = await kafka.callback<{ topics: Array<{ name: string; partitions: Array<{ id: number }> }> }>((done) =>
        this.consumer.getMetadata({ topic: this.visitsTopic, timeout: TIMEOUT_MS }, done),
      );
      const topic = metadata.topics.find((entry) => entry.name === this.visitsTopic);
      this.#partitions = (topic?.partitions ?? []).map((partition) => partition.id).sort((a, b) => a - b);
      this.#partitionsAt = Date.now();
    }
    return this.#partitions;
  }
}
