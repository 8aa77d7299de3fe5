/**
 * A small deterministic random source for the soak's nemesis: the same seed gives the same
 * faults, victims, durations and intervals, so a run that found something can be replayed
 * (SOAK_SEED). Marsaglia's xorshift32: plenty to pick faults, never for anything secret.
 */
export class SeededRandom {
  #state: number;

  constructor(readonly seed: number) {
    // xorshift never leaves the all-zero state: a zero seed gets a fixed non-zero one.
    this.#state = seed >>> 0 || 0x2545f491;
  }

  /** A number in [0, 1). */
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 2 ** 32;
  }

  /** A number in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** One of the items, each as likely. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** The items in a random order (Fisher–Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const order = [...items];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }
}
