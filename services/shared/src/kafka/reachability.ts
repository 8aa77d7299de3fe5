/**
 * Does Kafka answer? A metadata request every few seconds, through a client the service already
 * has, tells; Liveness uses the answer to tell a wedged loop (Kafka answers, the loop does not
 * move) from one that waits for a broker outage to end.
 */
import { call, type KafkaConsumer, type Producer } from './rdkafka.js';

export interface ReachabilityOptions {
  /** Any connected client of the service. */
  client: Producer | KafkaConsumer;
  /** A topic to ask about (a request about one topic is cheap). */
  topic: string;
  intervalMs?: number;
  timeoutMs?: number;
}

export class KafkaReachability {
  #reachableSince: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #probing = false;

  constructor(private readonly options: ReachabilityOptions) {}

  /** Since when every probe has succeeded (epoch ms), or undefined if the last one failed. */
  get reachableSince(): number | undefined {
    return this.#reachableSince;
  }

  start(): void {
    void this.probe();
    this.#timer = setInterval(() => void this.probe(), this.options.intervalMs ?? 5_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async probe(): Promise<void> {
    if (this.#probing) return; // the previous probe has not answered yet
    this.#probing = true;
    const { client, topic, timeoutMs = 5_000 } = this.options;
    try {
      await call<unknown>('getMetadata', timeoutMs, (done) => client.getMetadata({ topic, timeout: timeoutMs }, done));
      this.#reachableSince ??= Date.now();
    } catch {
      this.#reachableSince = undefined;
    } finally {
      this.#probing = false;
    }
  }
}
