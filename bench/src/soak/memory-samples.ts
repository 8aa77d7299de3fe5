/**
 * Each process's resident memory over the soak, sampled from /proc every few seconds: the
 * services of the LocalRun and the broker. A leak shows as an end far above the start that a
 * restart did not cause (a restarted process starts small again, so its pid is kept too).
 */
import { procStats } from '@eric/shared/testing/bench';
import type { LocalRun } from './local-run.js';

export interface MemorySample {
  at: number;
  pid: number;
  rss: number;
}

export class MemorySamples {
  /** Samples per process name: the services' names, and "broker". */
  readonly byProcess = new Map<string, MemorySample[]>();

  constructor(private readonly run: LocalRun) {}

  take(): void {
    const pids = this.run.pids();
    const broker = this.run.brokerPid();
    if (broker !== undefined) pids.set('broker', broker);
    const at = Date.now();
    for (const [name, pid] of pids) {
      const rss = procStats(pid)?.rss;
      if (rss === undefined) continue;
      if (!this.byProcess.has(name)) this.byProcess.set(name, []);
      this.byProcess.get(name)!.push({ at, pid, rss });
    }
  }
}
