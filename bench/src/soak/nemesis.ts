/**
 * The soak's nemesis: the faults a pipeline meets in production, one at a time, on the processes
 * of a LocalRun. Which fault, which victim and how long it lasts come from a SeededRandom, so a
 * run can be replayed with its seed. Faults come in rounds — every kind once per round, in a
 * random order — so that even a short soak meets every kind.
 *
 *   kill-aggregator  SIGKILL a random aggregator (a crashed pod; run-local restarts it)
 *   kill-gateway     SIGKILL the gateway (dashboards reconnect)
 *   freeze-broker    SIGSTOP the broker for 5-60 s, then SIGCONT (a long GC pause, a frozen VM)
 *   restart-broker   stop and start the broker (a rolling upgrade of a one-node cluster)
 *   starve-cpu       CPU hogs beside the aggregators for 20-60 s (a noisy neighbour)
 */
import { sleep } from '@eric/shared/testing/process';
import type { CpuHogs } from './cpu-hogs.js';
import type { LocalRun } from './local-run.js';
import type { SeededRandom } from './seeded-random.js';

export const FAULT_KINDS = ['kill-aggregator', 'kill-gateway', 'freeze-broker', 'restart-broker', 'starve-cpu'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One fault as it happened. */
export interface StagedFault {
  kind: FaultKind;
  /** What was done, e.g. "SIGKILL aggregator-2 (pid 4242)". */
  what: string;
  startedAt: number;
  /** When the fault was over (the broker thawed or back, the hogs gone): recovery counts from here. */
  endedAt: number;
}

const FREEZE_SECONDS = [5, 60] as const;
const STARVE_SECONDS = [20, 60] as const;
const START_ATTEMPTS = 3;

export class Nemesis {
  #round: FaultKind[] = [];

  constructor(
    private readonly run: LocalRun,
    private readonly hogs: CpuHogs,
    private readonly random: SeededRandom,
    /** CPU hogs per starvation: as many as the machine has cores keeps every core contended. */
    private readonly hogCount: number,
  ) {}

  /** The next fault's kind: the rest of this round, then a new round in a new order. */
  nextKind(): FaultKind {
    if (this.#round.length === 0) this.#round = this.random.shuffled(FAULT_KINDS);
    return this.#round.shift()!;
  }

  /** Stages one fault and returns once it is over. */
  async strike(kind: FaultKind): Promise<StagedFault> {
    const startedAt = Date.now();
    const what = await this.#stage(kind);
    return { kind, what, startedAt, endedAt: Date.now() };
  }

  async #stage(kind: FaultKind): Promise<string> {
    switch (kind) {
      case 'kill-aggregator':
        return this.#kill(this.random.pick(this.run.services.filter((s) => s.startsWith('aggregator-'))));
      case 'kill-gateway':
        return this.#kill('gateway');
      case 'freeze-broker':
        return this.#freezeBroker(Math.round(this.random.between(...FREEZE_SECONDS)));
      case 'restart-broker':
        return this.#restartBroker();
      case 'starve-cpu':
        return this.#starve(Math.round(this.random.between(...STARVE_SECONDS)));
    }
  }

  #kill(service: string): string {
    const pid = this.run.pids().get(service);
    // Still waiting out a back-off after an earlier fault: nothing to kill, and the table says so.
    if (pid === undefined) return `SIGKILL ${service}: not running (restart pending)`;
    process.kill(pid, 'SIGKILL');
    return `SIGKILL ${service} (pid ${pid})`;
  }

  async #freezeBroker(seconds: number): Promise<string> {
    const pid = this.run.brokerPid();
    if (pid === undefined) return 'SIGSTOP broker: not running';
    process.kill(pid, 'SIGSTOP');
    try {
      await sleep(seconds * 1000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    return `SIGSTOP broker (pid ${pid}) for ${seconds} s, then SIGCONT`;
  }

  /** Stop, then start; a start that fails (the JVM died in start-up) is tried again, as a supervisor would. */
  async #restartBroker(): Promise<string> {
    await this.run.broker('stop');
    for (let attempt = 1; ; attempt++) {
      try {
        await this.run.broker('start');
        return `broker stopped (SIGTERM) and started again${attempt > 1 ? ` (start attempt ${attempt})` : ''}`;
      } catch (error) {
        if (attempt === START_ATTEMPTS) throw error;
      }
    }
  }

  async #starve(seconds: number): Promise<string> {
    this.hogs.start(this.hogCount);
    try {
      await sleep(seconds * 1000);
    } finally {
      await this.hogs.stop();
    }
    return `${this.hogCount} CPU hogs for ${seconds} s`;
  }
}
