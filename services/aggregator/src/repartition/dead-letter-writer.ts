/**
 * Writes the repartition stage's dead letters, and decides what happens when Kafka refuses one.
 *
 * A refused dead letter must neither stop the stage (it would read the same record after every
 * restart: a crash loop) nor vanish. So a refused copy — by produce() itself or in its delivery
 * report — is sent once more without key and value: the headers alone still say where the record
 * is, why it was rejected and how large it was (dead-letter.ts, withoutPayload). If Kafka refuses
 * that too (no write access to the topic, the topic gone), the record is given up: an error log
 * line with its topic, partition and offset, and eric_aggregator_dead_letter_failures_total. The
 * record itself stays readable in its source topic at that offset until the topic's retention.
 *
 * Which delivery reports are dead letters' is told by produce()'s opaque: an Attempt. The native
 * client hands delivery reports to JavaScript after flush() has returned, so the stage waits for
 * them (settled()) before it commits the offsets of the records they copy.
 */
import type { kafka, Logger } from '@eric/shared';
import { withoutPayload, type DeadLetter } from '../dead-letter.js';
import type { AggregatorMetrics } from '../metrics.js';
import { InFlight } from './in-flight.js';

/** The copies tried, in order: the record with its payload cut, then the headers alone. */
export type DeadLetterCopy = 'truncated' | 'headers_only';

class Attempt {
  constructor(
    readonly letter: DeadLetter,
    readonly copy: DeadLetterCopy,
  ) {}
}

export class DeadLetterWriter {
  readonly #refused: Array<{ attempt: Attempt; error: Error | kafka.LibrdKafkaError }> = [];
  /** Dead letters produced whose delivery report has not come yet. */
  readonly #inFlight = new InFlight();

  constructor(
    private readonly producer: () => kafka.Producer,
    private readonly topic: string,
    private readonly log: Logger,
    private readonly metrics: Pick<AggregatorMetrics, 'deadLetterFailures'>,
  ) {}

  write(letter: DeadLetter): void {
    this.#produce(new Attempt(letter, 'truncated'));
  }

  /** A delivery report of the stage's producer; true when it was a dead letter's (then handled here). */
  delivered(error: kafka.LibrdKafkaError | null | undefined, opaque: unknown): boolean {
    if (!(opaque instanceof Attempt)) return false;
    if (error) this.#refused.push({ attempt: opaque, error });
    this.#inFlight.settle();
    return true;
  }

  /** Resolves once every dead letter produced so far has its delivery report; call it after a successful flush. */
  settled(): Promise<void> {
    return this.#inFlight.settled();
  }

  /**
   * After settled(): sends every refused first copy again without its payload, and gives up on
   * refused last copies. True when copies were sent again: flush, then call this once more.
   */
  retryRefused(): boolean {
    let retried = false;
    for (const { attempt, error } of this.#refused.splice(0)) {
      const { source, reason } = attempt.letter;
      this.metrics.deadLetterFailures.inc({ copy: attempt.copy });
      if (attempt.copy === 'truncated') {
        this.log.warn({ err: error, source, reason }, 'Kafka refused a dead letter; sending its headers alone');
        this.#produce(new Attempt(withoutPayload(attempt.letter, error.message), 'headers_only'));
        retried = true;
      } else {
        this.log.error({ err: error, source, reason }, 'Kafka refused a dead letter twice: given up; the record stays in its source topic at this offset until retention');
      }
    }
    return retried;
  }

  #produce(attempt: Attempt): void {
    const { key, value, timestamp, headers } = attempt.letter;
    try {
      this.producer().produce(this.topic, null, value, key, timestamp, attempt, headers);
      this.#inFlight.add();
    } catch (error) {
      // produce() refuses before Kafka sees the record (e.g. larger than message.max.bytes).
      this.#refused.push({ attempt, error: error as Error });
    }
  }
}
