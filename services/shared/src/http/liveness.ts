/**
 * Liveness that means something: `/healthz` fails when a part of the service has stopped making
 * progress although Kafka answers, so Kubernetes restarts a wedged pod and leaves alone one that
 * merely waits for a broker to come back (a restart would not bring the broker back either).
 *
 * Each loop of the service owns a ProgressWatch and calls `progress()` whenever an iteration
 * completes (an idle poll is progress too). A watch is stalled when no progress was made for
 * `stallAfterMs` while Kafka was reachable: the clock starts at the later of the last progress
 * and the moment Kafka became reachable again, so a long broker outage is never mistaken for a
 * wedge. Whether Kafka is reachable is told by `KafkaReachability` (or any function).
 */
import type { CheckResult } from './readiness.js';

export interface StalledWatch {
  name: string;
  /** When the watch last made progress (epoch ms). */
  lastProgressAt: number;
  /** Since when it counts as stalled: no progress while Kafka was reachable (epoch ms). */
  stalledSince: number;
}

export interface LivenessReport {
  alive: boolean;
  stalled: StalledWatch[];
}

export class ProgressWatch {
  lastProgressAt: number;

  constructor(
    readonly name: string,
    private readonly now: () => number,
  ) {
    this.lastProgressAt = now();
  }

  progress(): void {
    this.lastProgressAt = this.now();
  }
}

export interface LivenessOptions {
  /** How long a loop may go without progress while Kafka is reachable. */
  stallAfterMs: number;
  /** Since when Kafka has been reachable (epoch ms), or undefined while it is not. */
  reachableSince: () => number | undefined;
  now?: () => number;
}

export class Liveness {
  readonly #watches: ProgressWatch[] = [];
  readonly #now: () => number;

  constructor(private readonly options: LivenessOptions) {
    this.#now = options.now ?? Date.now;
  }

  watch(name: string): ProgressWatch {
    const watch = new ProgressWatch(name, this.#now);
    this.#watches.push(watch);
    return watch;
  }

  report(): LivenessReport {
    const reachableSince = this.options.reachableSince();
    const stalled: StalledWatch[] = [];
    if (reachableSince !== undefined) {
      const now = this.#now();
      for (const { name, lastProgressAt } of this.#watches) {
        const stalledSince = Math.max(lastProgressAt, reachableSince);
        if (now - stalledSince > this.options.stallAfterMs) stalled.push({ name, lastProgressAt, stalledSince });
      }
    }
    return { alive: stalled.length === 0, stalled };
  }

  /** A readiness check that names the stalled loops and since when they made no progress. */
  readiness(): CheckResult {
    const { alive, stalled } = this.report();
    if (alive) return { ready: true, detail: 'every loop makes progress' };
    const now = this.#now();
    const detail = stalled
      .map(({ name, lastProgressAt }) => `${name}: no progress since ${new Date(lastProgressAt).toISOString()} (${Math.round((now - lastProgressAt) / 1000)} s) although Kafka answers`)
      .join('; ');
    return { ready: false, detail, stalled };
  }
}
