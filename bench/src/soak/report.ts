/**
 * What `make soak` prints at the end, from the outcome it keeps in a file (so that the report can
 * be printed again: `node bench/dist/soak.js --report [file]`): the faults and their recoveries,
 * each process's memory, the restarts run-local did, the aggregators' tallies and the verdict on
 * every window against the finals on active-visitors.
 */
import type { WindowResult } from '@eric/shared';
import { fmt, table } from '@eric/shared/testing/bench';
import type { DashboardFinal } from '../faults/dashboard-finals.js';
import { describeVerdict, judgeWindows, percentile, type AcknowledgedSummary, type WindowVerdict } from '../faults/tally.js';
import type { ServiceRestart } from './local-run.js';
import type { MemorySample } from './memory-samples.js';
import type { StagedFault } from './nemesis.js';

/** A fault with what was measured around it. */
export interface FaultRecord extends StagedFault {
  /** The lag level recovery had to get back to (records). */
  lagBefore: number;
  /** When the pipeline had recovered; undefined if not within the timeout. */
  recoveredAt?: number;
  /** What was still wrong when the timeout came. */
  obstacle?: string;
}

export interface SoakOutcome {
  seed: number;
  minutes: number;
  startedAt: number;
  endedAt: number;
  load: { start: string; end: string; highest: number };
  recoveryTimeoutSeconds: number;
  faults: FaultRecord[];
  memory: Array<[string, MemorySample[]]>;
  restarts: ServiceRestart[];
  tallies: Record<string, number>;
  acknowledged: Array<[string, AcknowledgedSummary]>;
  dashboard: Array<[string, DashboardFinal]>;
  topic: WindowResult[];
  refusals: number;
  skippedBatches: number;
  errors: string[];
}

const clock = (at: number) => new Date(at).toISOString().slice(11, 19);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** The verdict on one window from active-visitors alone (read_committed): the contract's check. */
export function topicVerdict(v: WindowVerdict): 'exact' | 'doubled' | 'missing' | 'wrong count' {
  if (v.topicFinals.length === 0) return 'missing';
  if (v.topicFinals.length > 1) return 'doubled';
  return v.topicFinals[0] === v.acknowledged ? 'exact' : 'wrong count';
}

/** Prints the report; returns whether every window was exact. */
export function report(outcome: SoakOutcome): boolean {
  const started = clock(outcome.startedAt);
  console.log(`soak from ${started} to ${clock(outcome.endedAt)} UTC (${seconds(outcome.endedAt - outcome.startedAt)}), seed ${outcome.seed}; load average ${outcome.load.start} at start, ${outcome.load.end} at the end, highest 1-min ${outcome.load.highest.toFixed(1)}`);
  printFaults(outcome);
  printMemory(outcome);
  printRestarts(outcome.restarts);
  console.log(`\naggregators' counters, summed over their processes: ${Object.entries(outcome.tallies).map(([name, value]) => `${name} ${fmt(value)}`).join(', ')}`);
  return printVerdict(outcome);
}

function printFaults({ faults, recoveryTimeoutSeconds }: SoakOutcome): void {
  console.log(`\nfaults (recovery: from the end of the fault until every service is ready, the lag back to its level before it and no final overdue)`);
  table(
    ['#', 'at', 'kind', 'what', 'lasted', 'lag before', 'recovery'],
    faults.map((f, i) => [
      String(i + 1),
      clock(f.startedAt),
      f.kind,
      f.what,
      seconds(f.endedAt - f.startedAt),
      fmt(f.lagBefore),
      f.recoveredAt === undefined ? `> ${recoveryTimeoutSeconds} s (${f.obstacle})` : seconds(f.recoveredAt - f.endedAt),
    ]),
  );
  const recoveries = faults.filter((f) => f.recoveredAt !== undefined).map((f) => f.recoveredAt! - f.endedAt);
  const unrecovered = faults.length - recoveries.length;
  console.log(`  recoveries: p50 ${recoveries.length ? seconds(percentile(recoveries, 0.5)) : '—'}, max ${recoveries.length ? seconds(Math.max(...recoveries)) : '—'}${unrecovered ? `; ${unrecovered} not within ${recoveryTimeoutSeconds} s` : ''}`);
}

/** Ten samples spread evenly over the run (fewer if there are fewer), in MiB: enough to see a trend. */
function trend(rss: number[]): string {
  const points = Math.min(10, rss.length);
  return Array.from({ length: points }, (_, i) => rss[Math.round((i * (rss.length - 1)) / Math.max(1, points - 1))]!)
    .map((bytes) => Math.round(bytes / 2 ** 20))
    .join(' ');
}

function printMemory({ memory }: SoakOutcome): void {
  console.log(`\nresident memory (RSS from /proc; "processes": how many pids the samples saw — a restart starts small again)`);
  table(
    ['process', 'samples', 'processes', 'start', 'end', 'max', 'over time, MiB'],
    memory.map(([name, samples]) => {
      const rss = samples.map((s) => s.rss);
      return [name, samples.length, new Set(samples.map((s) => s.pid)).size, mib(rss[0] ?? 0), mib(rss.at(-1) ?? 0), mib(Math.max(...rss)), trend(rss)];
    }),
  );
}

function printRestarts(restarts: ServiceRestart[]): void {
  console.log(`\nrestarts by run-local: ${restarts.length}${restarts.length ? '' : ' (no service exited)'}`);
  for (const r of restarts) console.log(`  ${clock(r.at)} ${r.service} exited (${r.how})`);
}

function printVerdict(outcome: SoakOutcome): boolean {
  const verdicts = judgeWindows(new Map(outcome.acknowledged), new Map(outcome.dashboard), outcome.topic);
  const by = (kind: ReturnType<typeof topicVerdict>) => verdicts.filter((v) => topicVerdict(v) === kind);
  const wrong = verdicts.filter((v) => topicVerdict(v) !== 'exact');
  const acknowledged = sum(verdicts.map((v) => v.acknowledged));
  const counted = sum(verdicts.map((v) => v.topicFinals[0] ?? 0));
  const delays = verdicts.map((v) => v.dashboard?.delayMs).filter((d): d is number => d !== undefined);
  console.log(`\ntraffic: ${fmt(acknowledged)} distinct visit ids acknowledged (202) in ${fmt(verdicts.length)} windows, ${fmt(counted)} counted by their finals; ${fmt(outcome.refusals)} refusals retried, ${outcome.skippedBatches} batches skipped, ${outcome.errors.length} unexpected answers${outcome.errors.length ? `: ${outcome.errors.slice(0, 3).join('; ')}` : ''}`);
  console.log(`dashboard: ${delays.length} finals received, delay after end + grace p50 ${seconds(percentile(delays, 0.5))}, p99 ${seconds(percentile(delays, 0.99))}, max ${delays.length ? seconds(Math.max(...delays)) : '—'}`);
  console.log(`verdict (active-visitors, read_committed): ${by('exact').length} exact, ${by('wrong count').length} with a wrong count, ${by('doubled').length} doubled, ${by('missing').length} missing — ${wrong.length === 0 ? 'EXACT' : 'NOT EXACT'}`);
  for (const v of wrong.slice(0, 30)) console.log(`  ${topicVerdict(v)}: ${describeVerdict(v)}`);
  if (wrong.length > 30) console.log(`  … and ${wrong.length - 30} more`);
  return wrong.length === 0;
}
