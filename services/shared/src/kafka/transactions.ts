/**
 * A transactional producer that follows librdkafka's transaction state machine to the letter.
 *
 * librdkafka classifies every error of a transactional call (rdkafka.h, "Transactional
 * producer API"), and each class has one right answer:
 *
 *   retriable (a timeout is one)  the operation goes on in the background: make the SAME call
 *                                 again until it completes. Calling anything else meanwhile is
 *                                 an error ("Conflicting ... API call is already in progress").
 *   requires abort                abort the transaction, then start a new one.
 *   fatal (or fenced)             the producer is finished: end the process; a restart restores
 *                                 the state from the changelog, so this is always safe.
 *
 * Anything else (e.g. a state error) means the producer and this code disagree about where the
 * transaction is: that is treated as fatal rather than guessed at. Calls never overlap: the class
 * refuses a second call while one runs, and waits for every answer, however late. librdkafka
 * sometimes answers well after a call's timeout while a broker is away; each period of waiting
 * past it is logged, and a wait that never ends is a wedge for Liveness to report.
 *
 * A call that never answers at all (librdkafka does that after some broker outages) is given up
 * after `giveUpAfterMs` with TransactionStuck, and the producer with it: the caller creates a new
 * one, whose initTransactions() fences this one, and rewinds its state.
 *
 * Retrying "until it completes" must not keep a process from stopping: when `stopping()` turns
 * true the retries end with ShutdownInterrupted. The open transaction is then left to the
 * next process with the same transactional.id, whose initTransactions() aborts it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isRetriable, isTerminal, pendingCalls, requiresAbort, transactions, type KafkaConsumer, type Producer, type TopicPartitionOffset } from './rdkafka.js';

export interface TransactionalProducerOptions {
  /** librdkafka's timeout for each call; a call that times out is retried. */
  callTimeoutMs: number;
  logger: Logger;
  /** True once the process is shutting down: retries stop. */
  stopping: () => boolean;
  /** Told about every retried call (for a metric). */
  onRetry?: (operation: string) => void;
  /**
   * A call unanswered for this long is given up with TransactionStuck: the caller replaces the
   * producer (see the class comment). Default 45 s.
   */
  giveUpAfterMs?: number;
}

/** The producer cannot go on; the process must end. */
export class TransactionFatalError extends Error {
  constructor(operation: string, cause: unknown) {
    super(`${operation} failed fatally: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'TransactionFatalError';
  }
}

/**
 * A transactional call that librdkafka never answered (seen after broker outages of 10–40 s).
 * The producer is given up: no other call may start on it. The remedy is a new producer with
 * the same transactional.id, whose initTransactions() fences this one.
 */
export class TransactionStuck extends Error {
  constructor(operation: string, waitedMs: number) {
    super(`${operation} has not answered for ${Math.round(waitedMs / 1000)} s: this producer is given up`);
    this.name = 'TransactionStuck';
  }
}

/** Work given up because the process is shutting down (retries of a transactional call, a restore). */
export class ShutdownInterrupted extends Error {
  constructor(operation: string) {
    super(`${operation} interrupted: the process is shutting down`);
    this.name = 'ShutdownInterrupted';
  }
}

export type TransactionOutcome = 'committed' | 'aborted';

const GIVE_UP_AFTER_MS = 45_000;
const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 2_000;

export class TransactionalProducer {
  #busy: string | undefined;
  #givenUp = false;
  readonly #log: Logger;

  constructor(
    readonly producer: Producer,
    private readonly options: TransactionalProducerOptions,
  ) {
    this.#log = options.logger;
  }

  /** Registers the transactional.id, fencing any older producer with it and ending its transaction. */
  async init(): Promise<void> {
    await this.#untilDone('initTransactions', (overdue) => transactions.init(this.producer, this.options.callTimeoutMs, overdue));
  }

  /**
   * One transaction: begin, `write` (synchronous produce() calls), the consumer's offsets, commit.
   * Resolves to 'aborted' when Kafka required an abort (the caller must then rewind its state);
   * rejects with TransactionFatalError or ShutdownInterrupted.
   */
  async run(write: () => void, offsets: TopicPartitionOffset[], consumer: KafkaConsumer): Promise<TransactionOutcome> {
    await this.#untilDone('beginTransaction', (overdue) => transactions.begin(this.producer, overdue));
    try {
      write();
      await this.#untilDone('sendOffsetsToTransaction', (overdue) => transactions.sendOffsets(this.producer, offsets, consumer, this.options.callTimeoutMs, overdue));
      await this.#untilDone('commitTransaction', (overdue) => transactions.commit(this.producer, this.options.callTimeoutMs, overdue));
      return 'committed';
    } catch (error) {
      if (error instanceof TransactionFatalError || error instanceof ShutdownInterrupted || error instanceof TransactionStuck) throw error;
      // Kafka requires an abort, or produce() refused a record (e.g. a full local queue).
      this.#log.warn({ err: error }, 'transaction failed; aborting it');
      await this.abort();
      return 'aborted';
    }
  }

  async abort(): Promise<void> {
    await this.#untilDone('abortTransaction', (overdue) => transactions.abort(this.producer, this.options.callTimeoutMs, overdue));
  }

  /**
   * Makes `operation` until it completes: the same call again after a retriable error (with a
   * short back-off, since some return at once); a requires-abort error is rethrown as it is; any
   * other error is fatal.
   */
  async #untilDone(name: string, operation: (onOverdue: (waitedMs: number) => void) => Promise<void>): Promise<void> {
    const onOverdue = (waitedMs: number) =>
      this.#log.warn({ operation: name, waitedMs, timeoutMs: this.options.callTimeoutMs, callsInFlight: pendingCalls().length }, 'transactional call has not answered past its timeout; still waiting (no other call may start)');
    if (this.#givenUp) throw new TransactionStuck(`${name} on a given-up producer`, 0);
    if (this.#busy) throw new TransactionFatalError(name, new Error(`called while ${this.#busy} is in progress`));
    this.#busy = name;
    try {
      for (let attempt = 1, delayMs = FIRST_RETRY_DELAY_MS; ; attempt++, delayMs = Math.min(delayMs * 2, MAX_RETRY_DELAY_MS)) {
        try {
          await this.#answerOrGiveUp(name, operation, onOverdue);
          if (attempt > 1) this.#log.info({ operation: name, attempts: attempt }, 'transactional call completed after retries');
          return;
        } catch (error) {
          if (error instanceof TransactionStuck || error instanceof ShutdownInterrupted) throw error;
          if (isTerminal(error)) throw new TransactionFatalError(name, error);
          if (requiresAbort(error) && name !== 'abortTransaction') throw error;
          if (!isRetriable(error)) throw new TransactionFatalError(name, error);
          if (this.options.stopping()) throw new ShutdownInterrupted(name);
          this.options.onRetry?.(name);
          this.#log.warn({ err: error, operation: name, attempt }, 'transactional call did not complete; retrying the same call');
          await sleep(delayMs);
        }
      }
    } finally {
      this.#busy = undefined;
    }
  }

  /**
   * The call's own answer, unless it has waited `giveUpAfterMs` (TransactionStuck) or the process
   * is stopping (ShutdownInterrupted) at one of its overdue ticks. A call given up may still
   * answer later; that answer is ignored.
   */
  #answerOrGiveUp(name: string, operation: (onOverdue: (waitedMs: number) => void) => Promise<void>, report: (waitedMs: number) => void): Promise<void> {
    const giveUpAfterMs = this.options.giveUpAfterMs ?? GIVE_UP_AFTER_MS;
    return new Promise<void>((resolve, reject) => {
      const call = operation((waitedMs) => {
        report(waitedMs);
        if (this.options.stopping()) reject(new ShutdownInterrupted(name));
        else if (waitedMs >= giveUpAfterMs) {
          this.#givenUp = true;
          reject(new TransactionStuck(name, waitedMs));
        }
      });
      call.then(resolve, reject);
    });
  }
}
