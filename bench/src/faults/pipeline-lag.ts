/**
 * How far behind the aggregators are, from the broker: the records not yet read by the
 * repartition group (over `visits`) and the count group (over the repartition topic), summed.
 * "Recovered" after a fault means this is back to its level before the fault.
 */
import type { KafkaSettings } from '@eric/shared';
import { GroupLag } from '@eric/shared/testing/bench';

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

export class PipelineLag {
  readonly #repartition: GroupLag;
  readonly #count: GroupLag;

  constructor(
    settings: KafkaSettings,
    applicationId: string,
    private readonly topics: { visits: string; visitsPartitions: number; repartition: string; partitions: number },
  ) {
    this.#repartition = new GroupLag(settings, `${applicationId}-repartition`);
    this.#count = new GroupLag(settings, `${applicationId}-count`);
  }

  async connect(): Promise<void> {
    await Promise.all([this.#repartition.connect(), this.#count.connect()]);
  }

  /** Both stages' lag in records; undefined when the broker did not answer (a node is down). */
  async total(): Promise<number | undefined> {
    const { visits, visitsPartitions, repartition, partitions } = this.topics;
    try {
      const [a, b] = await Promise.all([this.#repartition.lag(visits, visitsPartitions), this.#count.lag(repartition, partitions)]);
      return sum(a) + sum(b);
    } catch {
      return undefined;
    }
  }

  /** The total sampled every 500 ms for `seconds` (the samples the broker answered). */
  async samples(seconds: number): Promise<number[]> {
    const samples: number[] = [];
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      const total = await this.total();
      if (total !== undefined) samples.push(total);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return samples;
  }

  close(): void {
    this.#repartition.close();
    this.#count.close();
  }
}
