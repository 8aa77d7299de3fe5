/**
 * When the pipeline has recovered from a fault: every service is ready again (a killed one was
 * restarted by run-local and restored its state), the lag is back to its level before the fault,
 * and finals are flowing — no window that closed more than `finalDueSeconds` ago still lacks its
 * final at the dashboard.
 */
import { sleep } from '@eric/shared/testing/process';
import type { DashboardFinals } from '../faults/dashboard-finals.js';
import type { PipelineLag } from '../faults/pipeline-lag.js';
import type { Traffic } from '../faults/traffic.js';
import type { LocalRun } from './local-run.js';

export interface RecoveryWatch {
  run: LocalRun;
  lag: PipelineLag;
  traffic: Traffic;
  dashboard: DashboardFinals;
  /** How long after its window's end + grace a final may take before it counts as not flowing. */
  finalDueSeconds: number;
}

/**
 * Resolves with when the pipeline had recovered, or without `at` after `timeoutMs`; `obstacle`
 * says what was still wrong at the last check (for the line of a fault that did not recover).
 */
export async function awaitRecovery(watch: RecoveryWatch, lagBefore: number, timeoutMs: number): Promise<{ at?: number; obstacle: string }> {
  const deadline = Date.now() + timeoutMs;
  let obstacle = '';
  while (Date.now() < deadline) {
    obstacle = await whatIsWrong(watch, lagBefore);
    if (!obstacle) return { at: Date.now(), obstacle };
    await sleep(500);
  }
  return { obstacle };
}

async function whatIsWrong({ run, lag, traffic, dashboard, finalDueSeconds }: RecoveryWatch, lagBefore: number): Promise<string> {
  const notReady = (await Promise.all(run.services.map(async (s) => ((await run.ready(s)) ? undefined : s)))).filter(Boolean);
  if (notReady.length > 0) return `not ready: ${notReady.join(', ')}`;
  const total = await lag.total();
  if (total === undefined) return 'lag: the broker did not answer';
  if (total > lagBefore) return `lag ${total} records (${lagBefore} before the fault)`;
  const overdue = traffic.closedBefore(Date.now() - finalDueSeconds * 1000).filter((key) => !dashboard.finals.has(key));
  if (overdue.length > 0) return `${overdue.length} finals overdue at the dashboard`;
  return '';
}
