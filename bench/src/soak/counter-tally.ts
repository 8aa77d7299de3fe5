/**
 * The aggregators' counters (late, duplicate, invalid, replayed …) summed over the whole soak.
 * A restarted process starts its counters from 0, so each process's last sample is carried over
 * when its pid changes; the soak samples just before every fault, so what a killed process
 * counted is lost only for the moments between that sample and the kill (and for a process that
 * exits by itself, since its last sample).
 */
import { scrapeMetrics } from '@eric/shared/testing/bench';
import type { LocalRun } from './local-run.js';

export const TALLIED_COUNTERS = {
  counted: 'eric_aggregator_visits_counted_total',
  duplicate: 'eric_aggregator_visits_duplicate_total',
  replayed: 'eric_aggregator_visits_replayed_total',
  late: 'eric_aggregator_visits_dropped_total{reason="late"}',
  invalid: 'eric_aggregator_visits_invalid_total',
  'transactions aborted': 'eric_aggregator_transactions_aborted_total',
  'producers replaced': 'eric_aggregator_producers_replaced_total',
} as const;
const NAMES = Object.values(TALLIED_COUNTERS);

interface ProcessCounters {
  pid: number;
  values: number[];
}

export class CounterTally {
  /** Per aggregator: its current process's last sample. */
  readonly #current = new Map<string, ProcessCounters>();
  /** The last samples of its earlier processes, summed. */
  readonly #carried = NAMES.map(() => 0);

  constructor(private readonly run: LocalRun) {}

  async sample(): Promise<void> {
    const pids = this.run.pids();
    const aggregators = this.run.services.filter((s) => s.startsWith('aggregator-'));
    await Promise.all(
      aggregators.map(async (service) => {
        const pid = pids.get(service);
        if (pid === undefined) return;
        const values = await scrapeMetrics(this.run.portOf(service), NAMES);
        if (!values) return;
        const known = this.#current.get(service);
        if (known && known.pid !== pid) known.values.forEach((value, i) => (this.#carried[i]! += value));
        this.#current.set(service, { pid, values });
      }),
    );
  }

  /** Each tallied counter's total so far, by its short name. */
  totals(): Record<keyof typeof TALLIED_COUNTERS, number> {
    const sums = [...this.#carried];
    for (const { values } of this.#current.values()) values.forEach((value, i) => (sums[i]! += value));
    return Object.fromEntries(Object.keys(TALLIED_COUNTERS).map((name, i) => [name, sums[i]!])) as Record<keyof typeof TALLIED_COUNTERS, number>;
  }
}
