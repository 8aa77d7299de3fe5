/**
 * The whole of Eric as `make run` starts it — producer, P aggregators, gateway — as child
 * processes on a real broker, with unique topic names so runs never mix.
 */
import { ServiceProcess, buildService, sleep } from '@eric/shared/testing/process';
import type { Visit } from '@eric/shared';
import { isolatedRunEnv, uniqueName } from '@eric/shared/testing';

export interface PipelineOptions {
  brokers: string;
  partitions: number;
  windowSeconds: number;
  graceSeconds: number;
  /** Environment added to every service's (after the run's own topic names), e.g. a secured cluster's settings. */
  env?: Record<string, string>;
  /** Environment added to one service's only, e.g. its own Kafka user. */
  serviceEnv?: Partial<Record<'aggregator' | 'gateway' | 'producer', Record<string, string>>>;
}

export class Pipeline {
  readonly prefix = uniqueName('e2e');
  readonly aggregators: ServiceProcess[] = [];
  readonly gateway: ServiceProcess;
  readonly producer: ServiceProcess;
  partitions: number;

  constructor(private readonly options: PipelineOptions) {
    this.partitions = options.partitions;
    for (const service of ['aggregator', 'gateway', 'producer']) buildService(service);
    for (let i = 0; i < options.partitions; i++) this.aggregators.push(this.#aggregator(i));
    this.gateway = new ServiceProcess(`${this.prefix}-gateway`, { service: 'gateway', env: this.env('gateway') });
    this.producer = new ServiceProcess(`${this.prefix}-producer`, { service: 'producer', env: { ...this.env('producer'), PRODUCER_RATE: '0' } });
  }

  /** The environment of every service, or of one. */
  env(service?: 'aggregator' | 'gateway' | 'producer'): Record<string, string> {
    return {
      KAFKA_BROKERS: this.options.brokers,
      ...isolatedRunEnv(this.prefix),
      WINDOW_SECONDS: String(this.options.windowSeconds),
      GRACE_SECONDS: String(this.options.graceSeconds),
      PARTITIONS: String(this.partitions),
      VISITS_PARTITIONS: '4',
      ...this.options.env,
      ...(service && this.options.serviceEnv?.[service]),
    };
  }

  get activeVisitorsTopic(): string {
    return this.env().TOPIC_ACTIVE_VISITORS!;
  }

  #aggregator(ordinal: number): ServiceProcess {
    return new ServiceProcess(`${this.prefix}-aggregator-${ordinal}`, {
      service: 'aggregator',
      env: { ...this.env('aggregator'), AGGREGATOR_ORDINAL: String(ordinal) },
    });
  }

  /** Adds aggregator processes up to `partitions` (the topics must have been grown first). */
  addAggregators(partitions: number): ServiceProcess[] {
    this.partitions = partitions;
    const added: ServiceProcess[] = [];
    for (let i = this.aggregators.length; i < partitions; i++) {
      const process = this.#aggregator(i);
      this.aggregators.push(process);
      added.push(process);
    }
    return added;
  }

  async start(): Promise<void> {
    await Promise.all([...this.aggregators, this.gateway, this.producer].map((p) => p.start()));
    await Promise.all([...this.aggregators, this.gateway, this.producer].map((p) => p.ready()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.aggregators, this.gateway, this.producer].map((p) => p.stop()));
  }

  /**
   * Posts visits to the producer's ingestion API; resolves to true on 202 (Kafka acknowledged
   * every one), false on 503 (the broker is unavailable: nothing is acknowledged).
   */
  async post(visits: Visit[]): Promise<boolean> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.producer.port}/v1/visits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(visits),
      });
      if (response.status === 202) return true;
      if (response.status === 503) return false;
      throw new Error(`ingestion answered ${response.status}: ${await response.text()}`);
    } catch (error) {
      if (error instanceof TypeError) return false; // connection refused while the producer restarts
      throw error;
    }
  }

  /** Posts until acknowledged: a visit retried with the same id is never counted twice. */
  async postUntilAcknowledged(visits: Visit[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.post(visits))) {
      if (Date.now() > deadline) throw new Error('visits were never acknowledged');
      await sleep(250);
    }
  }
}

/**
 * Live traffic: every `intervalMs`, a batch of new visits stamped "now" over 3 accounts and
 * stores a, b and null, with some ids re-sent (duplicates). Keeps every acknowledged visit.
 */
export class Traffic {
  readonly acknowledged: Visit[] = [];
  #running = false;
  #loop: Promise<void> | undefined;
  #sequence = 0;

  constructor(
    private readonly pipeline: Pipeline,
    /** `ackTimeoutMs`: how long one batch may wait for the producer's acknowledgement (default 60 s). */
    private readonly options: { batchSize?: number; intervalMs?: number; resend?: boolean; ackTimeoutMs?: number } = {},
  ) {}

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  async #run(): Promise<void> {
    const stores = ['a', 'b', null];
    while (this.#running) {
      const now = Date.now() / 1000;
      const batch: Visit[] = [];
      for (let i = 0; i < (this.options.batchSize ?? 20); i++) {
        const n = this.#sequence++;
        if ((this.options.resend ?? true) && n % 10 === 9 && this.acknowledged.length > 0) {
          // Every tenth is a re-sent recent visit: the very same id, account, store and timestamp.
          const back = (n % 7) % this.acknowledged.length;
          batch.push(this.acknowledged[this.acknowledged.length - 1 - back]!);
        } else {
          batch.push({ id: `${this.pipeline.prefix}-${n}`, account_id: 1 + (n % 3), store_id: stores[Math.floor(n / 3) % 3]!, timestamp: now });
        }
      }
      await this.pipeline.postUntilAcknowledged(batch, this.options.ackTimeoutMs);
      this.acknowledged.push(...batch);
      await sleep(this.options.intervalMs ?? 100);
    }
  }
}
