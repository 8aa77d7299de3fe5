/**
 * `make soak`: the whole pipeline as `make run` starts it (scripts/run-local.sh: a local KRaft
 * broker, four aggregators, the gateway, the producer; a service that exits is restarted) under
 * steady traffic for a long time, while a nemesis strikes every few minutes (bench/src/soak/
 * nemesis.ts: SIGKILL an aggregator or the gateway, freeze or restart the broker, starve the CPU).
 *
 * The traffic goes through the producer's HTTP API (re-sending some ids) and keeps every visit
 * that got a 202; a websocket client on the gateway keeps the finals. At the end, after a settle
 * period, every window of every acknowledged visit is checked against the finals on
 * active-visitors (read_committed): exactly one final, whose count is the number of distinct
 * acknowledged ids. Prints each fault and its recovery, each process's memory over time, the
 * restarts run-local did, the aggregators' counters and the verdict; exits with 1 when any
 * window is not exact. A benchmark-style command: figures, not a test.
 *
 * Environment: SOAK_MINUTES (of traffic and faults, default 60), SOAK_FAULT_INTERVAL_SECONDS
 * (mean time between fault starts, default 150; each interval is drawn from 0.75-1.25 times it),
 * SOAK_SEED (the nemesis's random seed; default from the clock, printed, to replay a run),
 * SOAK_RATE (visits/s, default 200), SOAK_BATCH (visits per request, 20), SOAK_RECOVERY_TIMEOUT_SECONDS
 * (300), SOAK_SETTLE_SECONDS (after the last window closed, at most, 120), SOAK_SAMPLE_SECONDS
 * (memory and counters, 30), SOAK_FINAL_DUE_SECONDS (how late a final may be and still flow, 15),
 * SOAK_KAFKA_PORT (18092; the controller uses the next port), SOAK_PORT_BASE (16000: the producer on
 * +60, the gateway on +66, the aggregators from +70 — `make run`'s ports + 10 000), WINDOW_SECONDS
 * (60) and GRACE_SECONDS (10) as the services read them. Broker data, logs and the outcome file
 * live in .eric/soak/ (the broker's data is wiped at each start).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { readResults, testKafkaSettings } from '@eric/shared/testing';
import { repositoryRoot, sleep } from '@eric/shared/testing/process';
import { fmt } from '@eric/shared/testing/bench';
import { DEFAULT_TOPIC_NAMES } from '@eric/shared/testing/secured-cluster';
import { DashboardFinals, awaitFinals } from './faults/dashboard-finals.js';
import { PipelineLag } from './faults/pipeline-lag.js';
import { percentile } from './faults/tally.js';
import { Traffic } from './faults/traffic.js';
import { CounterTally } from './soak/counter-tally.js';
import { CpuHogs } from './soak/cpu-hogs.js';
import { LocalRun } from './soak/local-run.js';
import { MemorySamples } from './soak/memory-samples.js';
import { Nemesis } from './soak/nemesis.js';
import { awaitRecovery } from './soak/recovery.js';
import { report, type FaultRecord, type SoakOutcome } from './soak/report.js';
import { SeededRandom } from './soak/seeded-random.js';

const env = process.env;
const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
const MINUTES = num('SOAK_MINUTES', 60);
const FAULT_INTERVAL_SECONDS = num('SOAK_FAULT_INTERVAL_SECONDS', 150);
const SEED = num('SOAK_SEED', Date.now() % 2 ** 31);
const RATE = num('SOAK_RATE', 200);
const BATCH = num('SOAK_BATCH', 20);
const RECOVERY_TIMEOUT_SECONDS = num('SOAK_RECOVERY_TIMEOUT_SECONDS', 300);
const SETTLE_SECONDS = num('SOAK_SETTLE_SECONDS', 120);
const SAMPLE_SECONDS = num('SOAK_SAMPLE_SECONDS', 30);
const FINAL_DUE_SECONDS = num('SOAK_FINAL_DUE_SECONDS', 15);
// Below Linux's ephemeral port range (32768-60999): a client that keeps reconnecting to a stopped
// broker's port inside that range can be given that very port as its own source port and connect
// to itself, and the restarted broker then finds its port taken ("Address already in use").
const KAFKA_PORT = num('SOAK_KAFKA_PORT', 18092);
const PORT_BASE = num('SOAK_PORT_BASE', 16000);
const WINDOW = num('WINDOW_SECONDS', 60);
const GRACE = num('GRACE_SECONDS', 10);
const AGGREGATORS = 4;
/** Lag samples before each fault, to know its normal level. */
const BEFORE_FAULT_SECONDS = 10;
const DIRECTORY = '.eric/soak';
const OUTCOME_FILE = `${repositoryRoot}${DIRECTORY}/outcome.json`;

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const log = (line: string) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${line}`);

const run = new LocalRun({
  aggregators: AGGREGATORS,
  kafkaPort: KAFKA_PORT,
  producerPort: PORT_BASE + 60,
  gatewayPort: PORT_BASE + 66,
  aggregatorPort: PORT_BASE + 70,
  directory: DIRECTORY,
  serviceEnv: {
    WINDOW_SECONDS: String(WINDOW),
    GRACE_SECONDS: String(GRACE),
    // The soak's traffic is far above one account's share: the ingest limits are not under test.
    PRODUCER_INGEST_ACCOUNT_VISITS_PER_SECOND: '0',
    PRODUCER_INGEST_CLIENT_REQUESTS_PER_SECOND: '0',
    // A broker restart on a busy machine can take the JVM longer than kafka.sh's default 90 s.
    KAFKA_START_TIMEOUT: env.KAFKA_START_TIMEOUT ?? '300',
  },
});
const settings = testKafkaSettings(run.brokers, 'eric-soak');
const hogs = new CpuHogs();
const random = new SeededRandom(SEED);
const memory = new MemorySamples(run);
const tally = new CounterTally(run);
const traffic = new Traffic({ port: () => run.portOf('producer'), visitsPerSecond: RATE, batchSize: BATCH, windowSeconds: WINDOW, graceSeconds: GRACE });
const dashboard = new DashboardFinals(() => run.portOf('gateway'), GRACE);
const lag = new PipelineLag(settings, DEFAULT_TOPIC_NAMES.APPLICATION_ID, {
  visits: DEFAULT_TOPIC_NAMES.TOPIC_VISITS,
  visitsPartitions: 4,
  repartition: DEFAULT_TOPIC_NAMES.TOPIC_REPARTITION,
  partitions: AGGREGATORS,
});
let highestLoad = 0;

/** Memory, counters and the load average every SAMPLE_SECONDS, until stopped. */
function startSampling(): () => void {
  const sample = () => {
    memory.take();
    void tally.sample();
    highestLoad = Math.max(highestLoad, loadavg()[0]!);
  };
  sample();
  const timer = setInterval(sample, SAMPLE_SECONDS * 1000);
  return () => clearInterval(timer);
}

/** One fault: the lag level before it, the fault itself, then the wait for recovery. */
async function strike(nemesis: Nemesis, number: number): Promise<FaultRecord> {
  const kind = nemesis.nextKind();
  // "Normal" = the 90th percentile of the lag before the fault, at least one second of traffic:
  // sampled between the aggregators' commits, a steady pipeline's lag wobbles by about that much.
  const lagBefore = Math.max(RATE, percentile(await lag.samples(BEFORE_FAULT_SECONDS), 0.9) || 0);
  // The counters of a process about to be killed, before they are lost with it.
  await tally.sample();
  log(`fault ${number}: ${kind} (lag before ≤ ${fmt(lagBefore)} records, load average ${load()})`);
  const fault = await nemesis.strike(kind).catch((error: unknown) => {
    // A fault that could not be staged (a broker that would not start) is reported, not fatal.
    const now = Date.now();
    return { kind, what: `could not be staged: ${String(error).split('\n')[0]}`, startedAt: now, endedAt: now };
  });
  log(`fault ${number}: ${fault.what}; over after ${((fault.endedAt - fault.startedAt) / 1000).toFixed(1)} s`);
  const recovery = await awaitRecovery({ run, lag, traffic, dashboard, finalDueSeconds: FINAL_DUE_SECONDS }, lagBefore, RECOVERY_TIMEOUT_SECONDS * 1000);
  if (recovery.at) log(`fault ${number}: recovered ${((recovery.at - fault.endedAt) / 1000).toFixed(1)} s after it ended`);
  else log(`fault ${number}: NOT recovered within ${RECOVERY_TIMEOUT_SECONDS} s: ${recovery.obstacle}`);
  return { ...fault, lagBefore, recoveredAt: recovery.at, obstacle: recovery.at ? undefined : recovery.obstacle };
}

/** Faults at random intervals until the soak's time is up; the next never starts before the last recovered (or gave up). */
async function unleash(until: number): Promise<FaultRecord[]> {
  const nemesis = new Nemesis(run, hogs, random, cpus().length);
  const faults: FaultRecord[] = [];
  let next = Date.now() + random.between(0.75, 1.25) * FAULT_INTERVAL_SECONDS * 1000;
  while (next + BEFORE_FAULT_SECONDS * 1000 < until) {
    await sleep(Math.max(0, next - BEFORE_FAULT_SECONDS * 1000 - Date.now()));
    const fault = await strike(nemesis, faults.length + 1);
    faults.push(fault);
    next = Math.max(fault.startedAt + random.between(0.75, 1.25) * FAULT_INTERVAL_SECONDS * 1000, Date.now() + BEFORE_FAULT_SECONDS * 1000);
  }
  await sleep(Math.max(0, until - Date.now()));
  return faults;
}

let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    // Batches still waiting for a 202 are given up after a while: the soak may be ending because
    // the pipeline cannot take them.
    await Promise.race([traffic.stop(), sleep(30_000)]);
    dashboard.close();
    lag.close();
    await hogs.stop();
    await run.stop();
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the hogs, the services and the broker`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<boolean> {
  console.log(`Eric soak: ${MINUTES} min of ${fmt(RATE)} visits/s (batches of ${BATCH}, every tenth a re-sent id), a fault every ~${FAULT_INTERVAL_SECONDS} s, seed ${SEED} (SOAK_SEED=${SEED} replays the faults)`);
  console.log(`make run's pipeline on its own broker 127.0.0.1:${KAFKA_PORT} and ports ${PORT_BASE + 60}-${PORT_BASE + 70 + AGGREGATORS - 1}; window ${WINDOW} s, grace ${GRACE} s; logs in ${DIRECTORY}/logs`);
  console.log(`machine: ${cpus().length} cores, load average ${load()}`);
  const startLoad = load();
  await run.start(300_000);
  await lag.connect();
  await dashboard.connect();
  const stopSampling = startSampling();
  const startedAt = Date.now();
  traffic.start();
  log(`pipeline ready, traffic started`);
  const faults = await unleash(startedAt + MINUTES * 60_000);
  await traffic.stop();
  log(`traffic stopped after ${MINUTES} min; settling: waiting for the last finals (at most ${SETTLE_SECONDS} s after the last window closed)`);
  await awaitFinals(traffic, dashboard, SETTLE_SECONDS * 1000);
  stopSampling();
  memory.take();
  await tally.sample();
  const outcome: SoakOutcome = {
    seed: SEED,
    minutes: MINUTES,
    startedAt,
    endedAt: Date.now(),
    load: { start: startLoad, end: load(), highest: highestLoad },
    recoveryTimeoutSeconds: RECOVERY_TIMEOUT_SECONDS,
    faults,
    memory: [...memory.byProcess],
    restarts: run.restarts,
    tallies: tally.totals(),
    acknowledged: [...traffic.summary()],
    dashboard: [...dashboard.finals],
    topic: await readResults(settings, DEFAULT_TOPIC_NAMES.TOPIC_ACTIVE_VISITORS, 3000),
    refusals: traffic.refusals.length,
    skippedBatches: traffic.skippedBatches,
    errors: traffic.errors,
  };
  mkdirSync(`${repositoryRoot}${DIRECTORY}`, { recursive: true });
  writeFileSync(OUTCOME_FILE, JSON.stringify(outcome));
  console.log(`\n==== soak (raw figures in ${OUTCOME_FILE.slice(repositoryRoot.length)}) ====`);
  return report(outcome);
}

if (process.argv[2] === '--report') {
  process.exit(report(JSON.parse(readFileSync(process.argv[3] ?? OUTCOME_FILE, 'utf8')) as SoakOutcome) ? 0 : 1);
}

let exact = false;
try {
  exact = await main();
} finally {
  await cleanUp();
}
process.exit(exact ? 0 : 1);
