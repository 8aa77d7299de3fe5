/**
 * Does Kafka answer? A metadata request every few seconds, through a client the service already
 * has, tells; Liveness uses the answer to tell a wedged loop (Kafka answers, the loop does not
 * move) from one that waits for a broker outage to end, and the count stage to give up a
 * transactional call that hangs after an outage (transactions.ts). For the latter the return of
 * Kafka must be seen soon: while Kafka does not answer, and for 30 s after it answers again, a
 * probe goes out every second.
 */
import { call, type KafkaConsumer, type Producer } from './rdkafka.js';

export interface ReachabilityOptions {
  /** Any connected client of the service. */
  client: Producer | KafkaConsumer;
  /** A topic to ask about (a request about one topic is cheap). */
  topic: string;
  /** Between probes while Kafka answers, ms (default 5 000). */
  intervalMs?: number;
  /** Between probes while it does not, ms (default 1 000). */
  retryIntervalMs?: number;
  timeoutMs?: number;
}

/** How long after Kafka's return probes stay as frequent as during the outage, ms. */
const RECENTLY_BACK_MS = 30_000;

export class KafkaReachability {
  #reachableSince: number | undefined;
  #wasUnreachable = false;
  #lastAnsweredRequestAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #probeStartedAt: number | undefined;
  #stopped = false;

  constructor(private readonly options: ReachabilityOptions) {}

  /** Since when every probe has succeeded (epoch ms), or undefined if the last one failed. */
  get reachableSince(): number | undefined {
    return this.#reachableSince;
  }

  /** Since when Kafka answers again after it did not (epoch ms); undefined while it does not, or if it never went away. */
  get backSince(): number | undefined {
    return this.#wasUnreachable ? this.#reachableSince : undefined;
  }

  /** When the latest probe that Kafka answered was sent (epoch ms): Kafka served requests then. */
  get lastAnsweredRequestAt(): number | undefined {
    return this.#lastAnsweredRequestAt;
  }

  start(): void {
    this.#stopped = false;
    this.#probeAndSchedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** A probe now, the next one later: sooner while Kafka does not answer, and for a while after it is back. */
  #probeAndSchedule(): void {
    if (this.#stopped) return;
    void this.probe();
    const { intervalMs = 5_000, retryIntervalMs = 1_000 } = this.options;
    const back = this.backSince;
    const watchClosely = this.#reachableSince === undefined || (back !== undefined && Date.now() - back < RECENTLY_BACK_MS);
    this.#timer = setTimeout(() => this.#probeAndSchedule(), watchClosely ? retryIntervalMs : intervalMs);
    this.#timer.unref();
  }

  async probe(): Promise<void> {
    const { client, topic, timeoutMs = 5_000 } = this.options;
    if (this.#probeStartedAt !== undefined) {
      // The previous probe has not answered yet; past its timeout, that is an answer too.
      if (Date.now() - this.#probeStartedAt > timeoutMs) this.#unreachable();
      return;
    }
    const sentAt = Date.now();
    this.#probeStartedAt = sentAt;
    try {
      await call<unknown>('getMetadata', timeoutMs, (done) => client.getMetadata({ topic, timeout: timeoutMs }, done));
      this.#reachableSince ??= Date.now();
      this.#lastAnsweredRequestAt = sentAt;
    } catch {
      this.#unreachable();
    } finally {
      this.#probeStartedAt = undefined;
    }
  }

  #unreachable(): void {
    this.#reachableSince = undefined;
    this.#wasUnreachable = true;
  }
}
