/**
 * Writes visits to the `visits` topic and tells the caller when the brokers acknowledged them.
 *
 * The Kafka client is librdkafka's idempotent producer with `acks=all`: a visit counts as written
 * only when every in-sync replica has it, and the client's own retries never duplicate or reorder
 * it. Every `write()` of a batch passes one tracker object as the `opaque` of its messages; the
 * delivery reports decrement it, and the promise settles when the last one arrived. So an HTTP
 * request can answer 202 exactly when all its visits are safe, and 503 otherwise.
 *
 * Two things are refused up front instead of waiting for a timeout:
 * - a full queue: more unacknowledged visits than `maxQueued` (our own bound, below librdkafka's
 *   queue so that a batch is refused as a whole rather than half-enqueued);
 * - unreachable brokers: once librdkafka reports all brokers down or a delivery fails, the writer
 *   is "down" until a metadata request (probed every second) or a delivery succeeds again. While
 *   down, one write every few seconds is let through as a trial (a circuit breaker's half-open
 *   state): after a long outage librdkafka can take minutes to answer a metadata request on a
 *   connection that went stale, while a real write finds a fresh one.
 *
 * Records are keyed by visit id. The `visits` topic needs no particular partitioning (the
 * aggregator repartitions by account and store), and the id key spreads load evenly while
 * sending a re-sent visit to the same partition as the original, in order after it.
 */
import { performance } from 'node:perf_hooks';
import { kafka, rdkafkaConnectionConfig, type KafkaSettings, type Logger, type Visit } from '@eric/shared';
import type { FailureReason, ProducerMetrics, VisitSource } from './metrics.js';

/** While the brokers are unreachable, how often one write is let through to try them. */
const TRIAL_INTERVAL_MS = 5_000;
/** A metadata probe unanswered for this long is given up (a new one may start). */
const STALE_PROBE_MS = 10_000;

export interface VisitWriterOptions {
  settings: KafkaSettings;
  topic: string;
  logger: Logger;
  metrics?: ProducerMetrics;
  /** How long librdkafka keeps trying to deliver a visit (`message.timeout.ms`). */
  deliveryTimeoutMs: number;
  /** How long librdkafka waits to fill a batch (`linger.ms`). */
  lingerMs: number;
  /** Most visits handed to the client and not yet acknowledged; above it writes are refused. */
  maxQueued: number;
  /** While the brokers are unreachable, how often to ask them for metadata. */
  probeIntervalMs?: number;
}

export type WriteOutcome =
  | { ok: true; written: number }
  | {
      ok: false;
      reason: Exclude<FailureReason, 'delivery_timeout' | 'delivery_error'> | 'delivery_failed';
      detail: string;
      /** Visits acknowledged before the failure was known (0 when refused up front). */
      written: number;
      /** False when nothing of the batch reached the client, so nothing can have been written. */
      mayHaveWritten: boolean;
    };

export type WriterState = 'disconnected' | 'up' | 'down' | 'failed' | 'closed';

/** One `write()` call: the delivery reports of its visits count down `remaining`. */
interface Batch {
  remaining: number;
  written: number;
  firstError: kafka.LibrdKafkaError | undefined;
  startedAt: number;
  source: VisitSource;
  settle: () => void;
}

const DOWN_CODES = new Set<number>([
  kafka.ErrorCode.ERR__ALL_BROKERS_DOWN,
  kafka.ErrorCode.ERR__TRANSPORT,
  kafka.ErrorCode.ERR__MSG_TIMED_OUT,
  kafka.ErrorCode.ERR__TIMED_OUT,
]);

export class VisitWriter {
  readonly #options: VisitWriterOptions;
  readonly #logger: Logger;
  readonly #producer: kafka.Producer;
  #state: WriterState = 'disconnected';
  #stateDetail = 'not connected to Kafka yet';
  #queued = 0;
  #probeTimer: NodeJS.Timeout | undefined;
  #probing = false;
  #probeStartedAt = 0;
  #lastTrialAt = 0;
  readonly #fatalListeners: Array<(error: kafka.LibrdKafkaError) => void> = [];
  readonly #roomWaiters: Array<() => void> = [];

  constructor(options: VisitWriterOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ topic: options.topic });
    this.#producer = new kafka.Producer({
      ...rdkafkaConnectionConfig(options.settings),
      dr_cb: true,
      'enable.idempotence': true,
      acks: -1, // all in-sync replicas
      'message.timeout.ms': options.deliveryTimeoutMs,
      // A request to a dead broker must fail inside the delivery timeout, not after 30 s.
      'request.timeout.ms': Math.min(30_000, Math.max(1_000, Math.floor(options.deliveryTimeoutMs / 2))),
      'linger.ms': options.lingerMs,
      // Above our own bound, so that librdkafka's queue-full is a rare backstop.
      'queue.buffering.max.messages': Math.max(options.maxQueued * 2, 1000),
      'compression.type': 'lz4',
      // Java clients' partitioner for keyed records: any tool reading `visits` agrees with us.
      partitioner: 'murmur2_random',
    });
    this.#producer.on('delivery-report', (error, report) => this.#onDelivery(error, report));
    this.#producer.on('event.error', (error) => this.#onClientError(error));
  }

  get state(): WriterState {
    return this.#state;
  }

  /** Visits handed to the client and not yet acknowledged or failed. */
  get queued(): number {
    return this.#queued;
  }

  get maxQueued(): number {
    return this.#options.maxQueued;
  }

  /** Whether a write could go out now, and if not, why. */
  availability(): { available: boolean; detail: string } {
    return { available: this.#state === 'up', detail: this.#stateDetail };
  }

  /** Called once if the client hits a fatal error; the writer is unusable afterwards. */
  onFatal(listener: (error: kafka.LibrdKafkaError) => void): void {
    this.#fatalListeners.push(listener);
  }

  /** Connects to the brokers (fetching the topic's metadata); rejects when they cannot be reached. */
  async connect(timeoutMs = 10_000): Promise<void> {
    await kafka.connect(this.#producer, timeoutMs);
    if (this.#state === 'closed') {
      // close() was called while connecting (a shutdown during start-up): do not come back to life.
      await kafka.disconnect(this.#producer, 0);
      throw new Error('the writer was closed while connecting');
    }
    // Delivery reports reach JavaScript only when the client is polled. librdkafka's background
    // thread polls as soon as a report is there; setPollInterval(5) (a JS timer) measured 30% fewer
    // single-visit requests per second and a higher median latency (docs/benchmarks.md, The producer).
    this.#producer.setPollInBackground(true);
    this.#setState('up', 'connected');
  }

  /**
   * Writes the visits; resolves when every one is acknowledged (`ok: true`) or when it is known
   * that some were not (`ok: false`). Never rejects.
   */
  write(visits: readonly Visit[], source: VisitSource): Promise<WriteOutcome> {
    if (visits.length === 0) return Promise.resolve({ ok: true, written: 0 });
    if (this.#state !== 'up' && !this.#mayTry()) return Promise.resolve(this.#refuse(visits.length, source, 'broker_unavailable', this.#stateDetail));
    if (this.#queued + visits.length > this.#options.maxQueued) {
      return Promise.resolve(
        this.#refuse(visits.length, source, 'queue_full', `${this.#queued} visits are waiting for Kafka, the limit is ${this.#options.maxQueued}`),
      );
    }
    return new Promise<WriteOutcome>((resolve) => {
      const batch: Batch = {
        remaining: visits.length,
        written: 0,
        firstError: undefined,
        startedAt: performance.now(),
        source,
        settle: () =>
          resolve(
            batch.firstError
              ? { ok: false, reason: 'delivery_failed', detail: describe(batch.firstError), written: batch.written, mayHaveWritten: true }
              : { ok: true, written: batch.written },
          ),
      };
      const enqueued = this.#enqueue(visits, batch);
      if (enqueued < visits.length) {
        // librdkafka's own queue is full (it should not be, see maxQueued) or the client failed.
        // The visits already enqueued still get delivery reports, which keep the counts right;
        // the caller learns now that not all of them went out (a later settle() is a no-op).
        const missing = visits.length - enqueued;
        batch.remaining -= missing;
        this.#options.metrics?.failures.inc({ source, reason: 'queue_full' }, missing);
        resolve({ ok: false, reason: 'queue_full', detail: 'the Kafka client refused the visits (its queue is full)', written: 0, mayHaveWritten: enqueued > 0 });
      }
    });
  }

  /** Resolves when `count` more visits fit under `maxQueued` (at once if they fit now). */
  waitForRoom(count: number): Promise<void> {
    if (this.#queued + count <= this.#options.maxQueued || this.#state === 'closed') return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Waits for outstanding deliveries (at most `flushTimeoutMs`) and disconnects. */
  async close(flushTimeoutMs = 5_000): Promise<void> {
    if (this.#state === 'closed') return;
    const wasConnected = this.#state !== 'disconnected';
    this.#setState('closed', 'closed');
    this.#stopProbing();
    if (wasConnected) {
      try {
        await kafka.flush(this.#producer, flushTimeoutMs);
      } catch (error) {
        this.#logger.warn({ err: error, queued: this.#queued }, 'not every visit was acknowledged before closing');
      }
      await kafka.disconnect(this.#producer, flushTimeoutMs);
    }
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  /** Hands the visits to librdkafka; returns how many it took. */
  #enqueue(visits: readonly Visit[], batch: Batch): number {
    const topic = this.#options.topic;
    for (let i = 0; i < visits.length; i++) {
      const visit = visits[i] as Visit;
      try {
        this.#producer.produce(topic, null, Buffer.from(JSON.stringify(visit)), visit.id, null, batch);
      } catch (error) {
        this.#logger.warn({ err: error }, 'the Kafka client refused a visit');
        return i;
      }
      this.#queued++;
    }
    return visits.length;
  }

  #onDelivery(error: kafka.LibrdKafkaError | null | undefined, report: { opaque?: unknown }): void {
    const batch = report.opaque as Batch;
    this.#queued--;
    const metrics = this.#options.metrics;
    if (error) {
      batch.firstError ??= error;
      const timedOut = error.code === kafka.ErrorCode.ERR__MSG_TIMED_OUT;
      metrics?.failures.inc({ source: batch.source, reason: timedOut ? 'delivery_timeout' : 'delivery_error' });
      if (DOWN_CODES.has(error.code)) this.#markDown(describe(error));
    } else {
      batch.written++;
      metrics?.visitsProduced.inc({ source: batch.source });
      metrics?.produceLatency.observe({ source: batch.source }, (performance.now() - batch.startedAt) / 1000);
      if (this.#state === 'down') this.#setState('up', 'a delivery succeeded');
    }
    if (--batch.remaining === 0) batch.settle();
    if (this.#roomWaiters.length > 0 && this.#queued <= this.#options.maxQueued / 2) {
      for (const wake of this.#roomWaiters.splice(0)) wake();
    }
  }

  #onClientError(error: kafka.LibrdKafkaError): void {
    if (kafka.isFatal(error)) {
      this.#setState('failed', `fatal Kafka client error: ${describe(error)}`);
      this.#stopProbing();
      this.#logger.error({ err: error }, 'fatal Kafka client error');
      for (const listener of this.#fatalListeners.splice(0)) listener(error);
      return;
    }
    if (error.code === kafka.ErrorCode.ERR__ALL_BROKERS_DOWN) this.#markDown(describe(error));
    else this.#logger.debug({ err: error }, 'Kafka client error (it retries by itself)');
  }

  /** While down: whether this write may go through as the trial of whether Kafka is back. */
  #mayTry(): boolean {
    if (this.#state !== 'down' || Date.now() - this.#lastTrialAt < TRIAL_INTERVAL_MS) return false;
    this.#lastTrialAt = Date.now();
    return true;
  }

  #refuse(count: number, source: VisitSource, reason: 'queue_full' | 'broker_unavailable', detail: string): WriteOutcome {
    this.#options.metrics?.failures.inc({ source, reason }, count);
    return { ok: false, reason, detail, written: 0, mayHaveWritten: false };
  }

  #markDown(detail: string): void {
    if (this.#state !== 'up') return;
    this.#setState('down', `Kafka unreachable: ${detail}`);
    this.#lastTrialAt = Date.now();
    this.#probe();
    this.#probeTimer = setInterval(() => this.#probe(), this.#options.probeIntervalMs ?? 1_000);
    this.#probeTimer.unref();
  }

  /** Asks a broker for the topic's metadata; an answer means the brokers are back. */
  #probe(): void {
    // A probe whose answer never came must not stop the probing for good.
    if ((this.#probing && Date.now() - this.#probeStartedAt < STALE_PROBE_MS) || this.#state !== 'down') return;
    this.#probing = true;
    this.#probeStartedAt = Date.now();
    const timeout = Math.max(500, (this.#options.probeIntervalMs ?? 1_000) - 100);
    this.#producer.getMetadata({ topic: this.#options.topic, timeout }, (error) => {
      this.#probing = false;
      if (!error && this.#state === 'down') this.#setState('up', 'brokers answered a metadata request');
    });
  }

  #stopProbing(): void {
    clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  #setState(state: WriterState, detail: string): void {
    const previous = this.#state;
    this.#state = state;
    this.#stateDetail = detail;
    if (previous === state) return;
    if (state !== 'down') this.#stopProbing();
    if (state === 'down') this.#logger.warn({ detail }, 'Kafka is unreachable: refusing writes until it answers');
    else if (state === 'up' && previous === 'down') this.#logger.info({ detail }, 'Kafka is reachable again');
  }
}

function describe(error: kafka.LibrdKafkaError): string {
  const code = error.code;
  return code === undefined ? error.message : `${error.message} (code ${code})`;
}
