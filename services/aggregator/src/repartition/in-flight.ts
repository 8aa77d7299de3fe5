/**
 * Records handed to a producer whose delivery report has not reached JavaScript yet.
 *
 * The native client hands delivery reports to JavaScript after flush() has returned: a flush
 * says that Kafka answered for every record, not that the stage has read the answers. A stage
 * that commits its input offsets must first wait for them (settled()), or a record Kafka refused
 * would be committed as done — and lost.
 */
export class InFlight {
  #count = 0;
  #waiters: Array<() => void> = [];

  /** A record was produced. */
  add(): void {
    this.#count += 1;
  }

  /** Its delivery report has come, whatever it says. */
  settle(): void {
    this.#count -= 1;
    if (this.#count === 0) for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** Resolves once every record produced so far has its delivery report. */
  settled(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
