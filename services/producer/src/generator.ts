/**
 * Synthetic visits, as the original app's `produce` command made them: a fresh UUID, the current
 * time, a random account from the list and a random store from the list or null. Two knobs
 * exercise the aggregator's guarantees:
 *
 * - `duplicates`: the share of visits that are re-sends of a recent visit (same id, account,
 *   store and timestamp), as a client retrying after a timeout would send them. Eric must count
 *   each of them once.
 * - `late`: the share of visits stamped `lateBySeconds` in the past, after their window closed
 *   (window + grace). Eric must drop them and count them in a metric.
 *
 * Pure: the randomness and the clock are passed in, so a seeded run is reproducible and tests
 * need no Kafka.
 */
import type { Visit } from '@eric/shared';
import { systemRandom, type RandomSource } from './random.js';

export interface GeneratorOptions {
  /** Accounts to pick from; at least one. */
  accountIds: readonly number[];
  /** Stores to pick from; `null` is always one more choice, as in the original. */
  storeIds: readonly string[];
  /** Share of visits (0–1) that re-send a recent visit. */
  duplicates: number;
  /** Share of visits (0–1) stamped `lateBySeconds` in the past. */
  late: number;
  /** How far in the past a late visit is stamped, in seconds. */
  lateBySeconds: number;
  /** How many recent visits a duplicate is drawn from. */
  recentVisits?: number;
}

export const DEFAULT_GENERATOR_OPTIONS: GeneratorOptions = {
  accountIds: [352],
  storeIds: ['default'],
  duplicates: 0,
  late: 0,
  // Window 60 s + grace 10 s: a visit 120 s old belongs to a window closed at least 50 s ago.
  lateBySeconds: 120,
};

export type VisitKind = 'fresh' | 'duplicate' | 'late';

export interface GeneratorStats {
  fresh: number;
  duplicate: number;
  late: number;
}

export class VisitGenerator {
  readonly stats: GeneratorStats = { fresh: 0, duplicate: 0, late: 0 };
  readonly #options: GeneratorOptions;
  readonly #random: RandomSource;
  readonly #clock: () => number;
  /** A ring of recent visits, the pool duplicates are drawn from. */
  readonly #recent: Visit[] = [];
  #recentNext = 0;
  readonly #recentSize: number;
  /** The store choices: the configured stores plus null. */
  readonly #stores: ReadonlyArray<string | null>;

  /** `clock` returns epoch seconds. */
  constructor(options: GeneratorOptions, random: RandomSource = systemRandom, clock: () => number = () => Date.now() / 1000) {
    if (options.accountIds.length === 0) throw new RangeError('at least one account id is needed');
    for (const [name, share] of [['duplicates', options.duplicates], ['late', options.late]] as const) {
      if (!(share >= 0 && share <= 1)) throw new RangeError(`${name} must be a share between 0 and 1, got ${share}`);
    }
    if (options.duplicates + options.late > 1) throw new RangeError('duplicates + late must not exceed 1');
    this.#options = options;
    this.#random = random;
    this.#clock = clock;
    this.#recentSize = Math.max(1, options.recentVisits ?? 1000);
    this.#stores = [...options.storeIds, null];
  }

  /** The next visit and what kind it is. */
  nextWithKind(): { visit: Visit; kind: VisitKind } {
    // One draw decides the kind, so the shares are exact in expectation and independent of the
    // other draws: [0, duplicates) re-sends, [duplicates, duplicates + late) is late.
    const roll = this.#random.next();
    if (roll < this.#options.duplicates && this.#recent.length > 0) {
      const visit = this.#recent[this.#pick(this.#recent.length)] as Visit;
      this.stats.duplicate++;
      return { visit: { ...visit }, kind: 'duplicate' };
    }
    const late = roll >= this.#options.duplicates && roll < this.#options.duplicates + this.#options.late;
    const visit: Visit = {
      id: this.#random.uuid(),
      account_id: this.#options.accountIds[this.#pick(this.#options.accountIds.length)] as number,
      store_id: this.#stores[this.#pick(this.#stores.length)] ?? null,
      timestamp: late ? this.#clock() - this.#options.lateBySeconds : this.#clock(),
    };
    this.#remember(visit);
    if (late) this.stats.late++;
    else this.stats.fresh++;
    return { visit, kind: late ? 'late' : 'fresh' };
  }

  next(): Visit {
    return this.nextWithKind().visit;
  }

  batch(count: number): Visit[] {
    const visits = new Array<Visit>(count);
    for (let i = 0; i < count; i++) visits[i] = this.next();
    return visits;
  }

  #pick(length: number): number {
    return Math.floor(this.#random.next() * length);
  }

  #remember(visit: Visit): void {
    this.#recent[this.#recentNext] = visit;
    this.#recentNext = (this.#recentNext + 1) % this.#recentSize;
  }
}
