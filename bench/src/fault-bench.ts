/**
 * `make bench-faults`: Eric on the production-like three-node cluster of scripts/kafka-cluster.sh
 * (TLS, SCRAM, ACLs, replication factor 3, min.insync.replicas 2) under steady traffic, while
 * broker faults come one after another, each followed by a restart and a settle period:
 *
 *   visits-leader       SIGKILL the leader of visits[0]
 *   repartition-leader  SIGKILL the leader of visits-repartition[0]
 *   changelog-leader    SIGKILL the leader of the changelog's partition 0
 *   controller          SIGKILL the active KRaft controller
 *   coordinator         SIGKILL the transaction coordinator of the aggregator's transactional id
 *   long-stop           stop a node (the leader of active-visitors[0]) for longer than the grace
 *
 * The services run as in production: each with its own user, the default topic names the ACLs
 * are for, the topics provisioned by the admin. A traffic driver posts visits to the producer's
 * HTTP API (re-sending some ids) and keeps every id that got a 202; a websocket client on the
 * gateway keeps the finals. Per phase it prints the visits acknowledged and counted, the windows'
 * verdicts (exact, doubled, missing), the time until the lag is back to its level before the
 * fault, and the finals' delay; at the end the totals, checked against active-visitors read as
 * admin (read_committed). Prints figures; asserts nothing.
 *
 * Environment: BENCH_RATE (visits/s, default 2000), BENCH_BATCH (visits per request, 100),
 * BENCH_PARTITIONS (aggregators, 2), BENCH_FAULTS (comma list of the names above, default all),
 * BENCH_SETTLE_SECONDS (after each restart, and the fault-free baseline, 30), BENCH_DOWN_SECONDS
 * (how long a killed node stays down, 5), BENCH_WINDOW_SECONDS (5), BENCH_GRACE_SECONDS (15),
 * BENCH_RECOVERY_TIMEOUT_SECONDS (120), BENCH_LOG_LEVEL (services', warn), BENCH_KEEP_CLUSTER (1 =
 * leave the cluster running at the end), KAFKA_START_TIMEOUT (300 s here). The cluster: .eric/kafka-cluster-bench, ports 9301-9313,
 * deleted and made afresh at start. Logs: .eric/bench-logs/faults-*.log and the nodes' kafka.log.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import type { WindowResult } from '@eric/shared';
import { readResults } from '@eric/shared/testing';
import { ServiceProcess, repositoryRoot, sleep } from '@eric/shared/testing/process';
import { fmt, table } from '@eric/shared/testing/bench';
import { DEFAULT_TOPIC_NAMES, SecuredCluster, type ClusterUser } from '@eric/shared/testing/secured-cluster';
import { DashboardFinals, awaitFinals, type DashboardFinal } from './faults/dashboard-finals.js';
import { FAULTS, type Fault } from './faults/faults.js';
import { PipelineLag } from './faults/pipeline-lag.js';
import { describeVerdict, judgeWindows, percentile, type AcknowledgedSummary, type WindowVerdict } from './faults/tally.js';
import { Traffic } from './faults/traffic.js';

/** The traffic is the bench's own and far above one account's share: the ingest rate limits are not what is measured. */
const INGEST_LIMITS_OFF = { PRODUCER_INGEST_ACCOUNT_VISITS_PER_SECOND: '0', PRODUCER_INGEST_CLIENT_REQUESTS_PER_SECOND: '0' };

const env = process.env;
const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
const RATE = num('BENCH_RATE', 2000);
const BATCH = num('BENCH_BATCH', 100);
const P = num('BENCH_PARTITIONS', 2);
const SETTLE_SECONDS = num('BENCH_SETTLE_SECONDS', 30);
const DOWN_SECONDS = num('BENCH_DOWN_SECONDS', 5);
const WINDOW = num('BENCH_WINDOW_SECONDS', 5);
const GRACE = num('BENCH_GRACE_SECONDS', 15);
const RECOVERY_TIMEOUT_SECONDS = num('BENCH_RECOVERY_TIMEOUT_SECONDS', 120);
const KEEP_CLUSTER = env.BENCH_KEEP_CLUSTER === '1';
const VISITS_PARTITIONS = 4;
/** Lag samples before each fault, to know its normal level. */
const BEFORE_FAULT_SECONDS = 10;
const LOGS = '.eric/bench-logs';
const OUTCOME_FILE = `${repositoryRoot}${LOGS}/faults-outcome.json`;

const wanted = (env.BENCH_FAULTS ?? FAULTS.map((f) => f.id).join(',')).split(',').filter(Boolean);
const unknown = wanted.filter((id) => !FAULTS.some((f) => f.id === id));
if (unknown.length > 0) {
  console.error(`BENCH_FAULTS: unknown fault(s) ${unknown.join(', ')}; known: ${FAULTS.map((f) => f.id).join(', ')}`);
  process.exit(2);
}
const faults = wanted.map((id) => FAULTS.find((f) => f.id === id)!);

// A loaded machine (tests of others, three JVMs on two cores) can take the nodes more than the
// script's default 120 s to start.
process.env.KAFKA_START_TIMEOUT ??= '300';
const cluster = new SecuredCluster(`${repositoryRoot}.eric/kafka-cluster-bench`, 9300);
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const log = (line: string) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${line}`);

/** One phase of the run: the baseline, or one fault with its restart and settle period. */
interface Phase {
  title: string;
  start: number;
  end: number;
  node?: number;
  /** When the node was started again, and when it was back in every in-sync replica set. */
  restartedAt?: number;
  inSyncAt?: number;
  /** Why the fault could not be staged, if it could not. */
  note?: string;
  /** When the lag was back to its level before the fault (undefined: not within the timeout). */
  recoveredAt?: number;
  lagBefore?: number | null;
  /** Service processes that exited by themselves in this phase (restarted, as Kubernetes would). */
  serviceExits: number;
}

// ---------------------------------------------------------------------------------------------

function serviceEnv(user: ClusterUser): Record<string, string> {
  return {
    ...DEFAULT_TOPIC_NAMES,
    ...cluster.kafkaEnv(user),
    PARTITIONS: String(P),
    VISITS_PARTITIONS: String(VISITS_PARTITIONS),
    WINDOW_SECONDS: String(WINDOW),
    GRACE_SECONDS: String(GRACE),
    LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'warn',
  };
}

let services: ServiceProcess[] = [];
let supervising = false;
let currentPhase: Phase | undefined;

/** Starts a service again whenever it exits by itself, as Kubernetes restarts a pod. */
function supervise(service: ServiceProcess): void {
  void service.exited().then(async ({ code, signal }) => {
    if (!supervising) return;
    log(`!! ${service.name} exited by itself (code ${code}, signal ${signal}): restarting it; see ${service.logFile}`);
    if (currentPhase) currentPhase.serviceExits++;
    await sleep(1000);
    if (!supervising) return;
    await service.start();
    supervise(service);
  });
}

async function startServices(): Promise<{ producer: ServiceProcess; gateway: ServiceProcess }> {
  const options = (service: string, user: ClusterUser, extra: Record<string, string> = {}) => ({ service, env: { ...serviceEnv(user), ...extra }, logDirectory: LOGS });
  const aggregators = Array.from({ length: P }, (_, i) => new ServiceProcess(`faults-aggregator-${i}`, options('aggregator', 'aggregator', { AGGREGATOR_ORDINAL: String(i) })));
  const gateway = new ServiceProcess('faults-gateway', options('gateway', 'gateway'));
  const producer = new ServiceProcess('faults-producer', options('producer', 'producer', { PRODUCER_RATE: '0', ...INGEST_LIMITS_OFF }));
  services = [...aggregators, gateway, producer];
  await Promise.all(services.map((s) => s.start()));
  await Promise.all(services.map((s) => s.ready(120_000)));
  supervising = true;
  services.forEach(supervise);
  return { producer, gateway };
}

async function baseline(lag: PipelineLag): Promise<Phase> {
  const phase: Phase = { title: 'none (baseline)', start: Date.now(), end: 0, serviceExits: 0 };
  currentPhase = phase;
  log(`baseline: ${SETTLE_SECONDS} s without a fault`);
  const samples = await lag.samples(SETTLE_SECONDS);
  phase.lagBefore = percentile(samples, 0.9);
  phase.end = Date.now();
  return phase;
}

const EricTopics = [DEFAULT_TOPIC_NAMES.TOPIC_VISITS, DEFAULT_TOPIC_NAMES.TOPIC_REPARTITION, DEFAULT_TOPIC_NAMES.TOPIC_CHANGELOG, DEFAULT_TOPIC_NAMES.TOPIC_ACTIVE_VISITORS];

async function injectFault(fault: Fault, lag: PipelineLag): Promise<Phase> {
  const phase: Phase = { title: fault.title, start: Date.now(), end: 0, serviceExits: 0 };
  currentPhase = phase;
  try {
    await faultAndRestart(fault, lag, phase);
  } catch (error) {
    // One fault that could not be staged (a lookup that failed) does not end the run.
    phase.note = String(error);
    log(`${fault.id}: ${phase.note}`);
  }
  phase.end = Date.now();
  return phase;
}

async function faultAndRestart(fault: Fault, lag: PipelineLag, phase: Phase): Promise<void> {
  // One fault at a time: a node still catching up from the last one would make this a double
  // fault (two nodes short of three breaks min.insync.replicas 2).
  const wholeBy = Date.now() + RECOVERY_TIMEOUT_SECONDS * 1000;
  while (!(await cluster.fullyReplicated(EricTopics).catch(() => false))) {
    if (Date.now() > wholeBy) throw new Error(`the cluster was not fully replicated within ${RECOVERY_TIMEOUT_SECONDS} s: fault not staged`);
    await sleep(1000);
  }
  // "Normal" = the 90th percentile of the lag before the fault (at a steady rate the sampled lag
  // is never exactly 0).
  phase.lagBefore = percentile(await lag.samples(BEFORE_FAULT_SECONDS), 0.9);
  const node = await fault.victim(cluster);
  phase.node = node;
  const downSeconds = fault.outlastsGrace ? GRACE + 5 : DOWN_SECONDS;
  if (fault.how === 'kill') await cluster.run('kill', String(node));
  else await cluster.stopNode(node);
  log(`${fault.id}: node ${node} ${fault.how === 'kill' ? 'SIGKILLed' : 'stopped'} (lag before: ≤ ${fmt(phase.lagBefore)} records); down for ${downSeconds} s (load average ${load()})`);
  await sleep(downSeconds * 1000);
  phase.restartedAt = Date.now();
  // The script's restart waits until the node answers its tool (a JVM that can take long on a busy
  // machine); whether the node is back is judged here instead, from the partitions' in-sync
  // replicas, so the script's own wait is not awaited.
  cluster.run('restart', String(node)).catch((error: unknown) => log(`${fault.id}: the script's restart reported: ${String(error).split('\n')[1] ?? error}`));
  const deadline = phase.restartedAt + RECOVERY_TIMEOUT_SECONDS * 1000;
  while (Date.now() < deadline && (phase.recoveredAt === undefined || phase.inSyncAt === undefined)) {
    const total = await lag.total();
    if (phase.recoveredAt === undefined && total !== undefined && total <= phase.lagBefore) {
      phase.recoveredAt = Date.now();
      log(`${fault.id}: lag back to its level ${seconds(phase.recoveredAt, phase.restartedAt)} after the restart`);
    }
    if (phase.inSyncAt === undefined && (await cluster.inSyncEverywhere(node, EricTopics).catch(() => false))) {
      phase.inSyncAt = Date.now();
      log(`${fault.id}: node ${node} in sync on every partition ${seconds(phase.inSyncAt, phase.restartedAt)} after its restart`);
    }
    await sleep(250);
  }
  if (phase.recoveredAt === undefined) log(`${fault.id}: lag not back to its level within ${RECOVERY_TIMEOUT_SECONDS} s`);
  await sleep(Math.max(0, (phase.inSyncAt ?? Date.now()) + SETTLE_SECONDS * 1000 - Date.now()));
}

// ---------------------------------------------------------------------------------------------

const seconds = (to: number | undefined, from: number | undefined) => (to !== undefined && from !== undefined ? `${((to - from) / 1000).toFixed(1)} s` : '—');
const ms = (v: number) => (Number.isNaN(v) ? '—' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Everything the report is made of, kept in a file so that it can be printed again (`--report <file>`). */
interface Outcome {
  phases: Phase[];
  acknowledged: Array<[string, AcknowledgedSummary]>;
  dashboard: Array<[string, DashboardFinal]>;
  topic: WindowResult[];
  refusals: number[];
  skippedBatches: number;
  errors: string[];
}

/** From the restart until the lag was back to its level; JSON turns a NaN level (no sample before the fault) into null. */
function recovery(phase: Phase): string {
  if (phase.restartedAt === undefined) return '—';
  if (phase.lagBefore === null || phase.lagBefore === undefined || Number.isNaN(phase.lagBefore)) return 'no lag sample before';
  return phase.recoveredAt === undefined ? `> ${RECOVERY_TIMEOUT_SECONDS} s` : seconds(phase.recoveredAt, phase.restartedAt);
}

function report(outcome: Outcome): void {
  const { phases, refusals, skippedBatches, errors } = outcome;
  const verdicts = judgeWindows(new Map(outcome.acknowledged), new Map(outcome.dashboard), outcome.topic);
  const within = (phase: Phase, at: number) => at >= phase.start && at < phase.end;
  // A window belongs to the phase in which it started (its visits were sent then).
  const first = phases[0]!;
  const phaseOf = (v: WindowVerdict) => phases.find((p) => within(p, v.start * 1000)) ?? (v.start * 1000 < first.start ? first : phases.at(-1)!);
  console.log(`\nper phase (a window belongs to the phase in which it started; delay = end + grace → final frame at the websocket client)`);
  table(
    ['fault', 'node', 'acknowledged', 'counted', 'windows', 'final', 'exact', 'doubled', 'missing', 'acked after close', 'node in sync', 'lag recovered', 'delay p50', 'p99', 'max', '503s', 'service exits'],
    phases.map((phase) => {
      const mine = verdicts.filter((v) => phaseOf(v) === phase);
      const delays = [...mine.map((v) => v.dashboard?.delayMs).filter((d): d is number => d !== undefined)];
      return [
        phase.title,
        phase.node ?? '—',
        fmt(sum(mine.map((v) => v.acknowledged))),
        fmt(sum(mine.map((v) => v.counted ?? 0))),
        mine.length,
        mine.filter((v) => !v.missing).length,
        mine.filter((v) => v.exact).length,
        mine.filter((v) => v.doubled).length,
        mine.filter((v) => v.missing).length,
        fmt(sum(mine.map((v) => v.acknowledgedLate))),
        seconds(phase.inSyncAt, phase.restartedAt),
        recovery(phase),
        ms(percentile(delays, 0.5)),
        ms(percentile(delays, 0.99)),
        ms(delays.length ? Math.max(...delays) : NaN),
        refusals.filter((at) => within(phase, at)).length,
        phase.serviceExits,
      ];
    }),
  );
  const acknowledged = sum(verdicts.map((v) => v.acknowledged));
  const counted = sum(verdicts.map((v) => v.counted ?? 0));
  const wrong = verdicts.filter((v) => !v.exact);
  console.log(`\ntotals: ${fmt(acknowledged)} distinct visit ids acknowledged (202), ${fmt(counted)} counted in ${verdicts.length} windows; exact: ${wrong.length === 0 ? 'yes' : `no (${wrong.length} windows)`}`);
  console.log(`  active-visitors read as admin (read_committed): ${verdicts.filter((v) => v.topicFinals.length === 1).length} windows with one final, ${verdicts.filter((v) => v.topicFinals.length > 1).length} with more than one, ${verdicts.filter((v) => v.topicFinals.length === 0).length} with none`);
  console.log(`  traffic: ${refusals.length} refusals (503 or connection refused) retried, ${skippedBatches} batches skipped (too many awaiting a 202), ${errors.length} unexpected answers${errors.length ? `: ${errors.slice(0, 3).join('; ')}` : ''}`);
  for (const phase of phases.filter((p) => p.note)) console.log(`  ${phase.title}: not staged: ${phase.note}`);
  for (const v of wrong.slice(0, 30)) console.log(`  not exact: ${describeVerdict(v)} [${phaseOf(v).title}]`);
  if (wrong.length > 30) console.log(`  … and ${wrong.length - 30} more`);
}

// ---------------------------------------------------------------------------------------------

let traffic: Traffic | undefined;
let dashboard: DashboardFinals | undefined;
let lag: PipelineLag | undefined;
let cleaning: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    supervising = false;
    dashboard?.close();
    lag?.close();
    await Promise.all(services.map((s) => s.stop()));
    if (KEEP_CLUSTER) console.log(`the cluster still runs (BENCH_KEEP_CLUSTER=1): KAFKA_CLUSTER_DIR=.eric/kafka-cluster-bench KAFKA_CLUSTER_PORT=9300 scripts/kafka-cluster.sh stop`);
    else process.stdout.write(await cluster.run('stop'));
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the services and the cluster`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  console.log(`Eric under broker faults: three-node KRaft cluster (TLS, SCRAM, ACLs; RF 3, min ISR 2) at 127.0.0.1:9301-9303`);
  console.log(`traffic ${fmt(RATE)} visits/s in batches of ${BATCH} (every tenth a re-sent id); P = ${P} aggregators; window ${WINDOW} s, grace ${GRACE} s; settle ${SETTLE_SECONDS} s; faults: ${faults.map((f) => f.id).join(', ')}`);
  console.log(`machine: ${cpus().length} cores, load average ${load()} at start; logs in ${LOGS}/faults-*.log and .eric/kafka-cluster-bench/node-*/kafka.log`);
  await cluster.run('reset');
  process.stdout.write(await cluster.run('start'));
  await cluster.provision({ PARTITIONS: String(P), VISITS_PARTITIONS: String(VISITS_PARTITIONS), WINDOW_SECONDS: String(WINDOW), GRACE_SECONDS: String(GRACE) });
  const { producer, gateway } = await startServices();
  lag = new PipelineLag(cluster.settingsOf('admin'), DEFAULT_TOPIC_NAMES.APPLICATION_ID, {
    visits: DEFAULT_TOPIC_NAMES.TOPIC_VISITS,
    visitsPartitions: VISITS_PARTITIONS,
    repartition: DEFAULT_TOPIC_NAMES.TOPIC_REPARTITION,
    partitions: P,
  });
  await lag.connect();
  dashboard = new DashboardFinals(() => gateway.port, GRACE);
  await dashboard.connect();
  traffic = new Traffic({ port: () => producer.port, visitsPerSecond: RATE, batchSize: BATCH, windowSeconds: WINDOW, graceSeconds: GRACE });
  traffic.start();
  log(`pipeline ready, traffic started (load average ${load()})`);

  const phases = [await baseline(lag)];
  for (const fault of faults) phases.push(await injectFault(fault, lag));
  await traffic.stop();
  currentPhase = undefined;
  log(`traffic stopped; waiting for the last finals (load average ${load()})`);
  await awaitFinals(traffic, dashboard, 60_000);
  const outcome: Outcome = {
    phases,
    acknowledged: [...traffic.summary()],
    dashboard: [...dashboard.finals],
    topic: await readResults(cluster.settingsOf('admin'), DEFAULT_TOPIC_NAMES.TOPIC_ACTIVE_VISITORS, 3000),
    refusals: traffic.refusals,
    skippedBatches: traffic.skippedBatches,
    errors: traffic.errors,
  };
  mkdirSync(`${repositoryRoot}${LOGS}`, { recursive: true });
  writeFileSync(OUTCOME_FILE, JSON.stringify(outcome));
  console.log(`\n==== broker faults (${new Date().toISOString()}, load average ${load()}; raw figures in ${OUTCOME_FILE.slice(repositoryRoot.length)}) ====`);
  report(outcome);
}

if (process.argv[2] === '--report') {
  report(JSON.parse(readFileSync(process.argv[3] ?? OUTCOME_FILE, 'utf8')) as Outcome);
  process.exit(0);
}

try {
  await main();
} finally {
  await traffic?.stop();
  await cleanUp();
}
process.exit(0);
