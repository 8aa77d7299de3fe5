/**
 * `make bench-node-down`: how much CPU an aggregator burns while one node of the three-node
 * secured cluster (scripts/kafka-cluster.sh: TLS, SCRAM, ACLs, RF 3, min.insync.replicas 2) is
 * away, per process and per thread — project issue 22, where an aggregator used 90–100 % of a
 * core (`rdk:broker<dead node>` ~60 %, `rdk:main` ~27 %) until the node came back.
 *
 * Two ways for a node to be away, each measured after a period with every node up:
 *
 *   frozen  SIGSTOP: its sockets stay open and say nothing (a hung JVM, a paused VM)
 *   down    SIGKILL: its ports refuse connections (a crash), until the node is started again
 *
 * The victim is the node aggregator-0's admin client takes for the cluster's controller (it sends
 * its describeTopics requests there; read with gdb), or with BENCH_VICTIM=repartition-leader (or
 * without gdb) the node that leads visits-repartition[0]. Each measurement reads utime + stime of every thread of every aggregator
 * (/proc/<pid>/task/<tid>/stat) at its start and end; the tables give CPU seconds and the share
 * of one core, per process and for the busiest threads, with the Kafka client each librdkafka
 * thread belongs to (found with gdb, see faults/thread-cpu.ts). After the node is back it reports
 * how long until the pipeline's lag was back at its level before the fault. Prints figures;
 * asserts nothing.
 *
 * Environment: BENCH_RATE (visits/s, default 500), BENCH_PARTITIONS (aggregators, 2),
 * BENCH_MEASURE_SECONDS (each measurement, 30), BENCH_DOWN_SETTLE_SECONDS (from the fault to the
 * start of its measurement, 10: the cluster moves leaders first), BENCH_MODES (frozen,down),
 * BENCH_TOP_THREADS (rows per process, 6), BENCH_RECOVERY_TIMEOUT_SECONDS (300:
 * a killed node took more than 2 minutes to start again at load 30-120),
 * BENCH_THREAD_CLIENTS (0 = do not ask gdb), BENCH_VICTIM (admin-controller or
 * repartition-leader), BENCH_KEEP_CLUSTER (1 = leave it running). The cluster:
 * .eric/kafka-cluster-node-down, ports 9501-9513 (bench-faults uses 9301-9313, the tests
 * 19301-19313), made afresh at start. Logs: .eric/bench-logs/node-down-*.log.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { ServiceProcess, repositoryRoot, sleep } from '@eric/shared/testing/process';
import { fmt, table } from '@eric/shared/testing/bench';
import { DEFAULT_TOPIC_NAMES, SecuredCluster, type ClusterUser } from '@eric/shared/testing/secured-cluster';
import type { PipelineLag } from './faults/pipeline-lag.js';
import { cleanUpOnSignals, connectedPipelineLag, loadAverage, logLine, serviceEnv, startFreshCluster } from './faults/secured-pipeline.js';
import { percentile } from './faults/tally.js';
import { clientsOfThreads, controllerOf, threadDeltas, threadSamples, type ThreadSample } from './faults/thread-cpu.js';
import { Traffic } from './faults/traffic.js';

const env = process.env;
const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
const RATE = num('BENCH_RATE', 500);
const P = num('BENCH_PARTITIONS', 2);
const MEASURE_SECONDS = num('BENCH_MEASURE_SECONDS', 30);
const DOWN_SETTLE_SECONDS = num('BENCH_DOWN_SETTLE_SECONDS', 10);
const TOP_THREADS = num('BENCH_TOP_THREADS', 6);
const RECOVERY_TIMEOUT_SECONDS = num('BENCH_RECOVERY_TIMEOUT_SECONDS', 300);
const THREAD_CLIENTS = env.BENCH_THREAD_CLIENTS !== '0';
const VICTIM = env.BENCH_VICTIM ?? 'admin-controller';
const KEEP_CLUSTER = env.BENCH_KEEP_CLUSTER === '1';
const MODES = (env.BENCH_MODES ?? 'frozen,down').split(',').filter(Boolean) as Mode[];
const WINDOW = 5;
const GRACE = 15;
const VISITS_PARTITIONS = 4;
const SHAPE = { partitions: P, visitsPartitions: VISITS_PARTITIONS, windowSeconds: WINDOW, graceSeconds: GRACE };
const LOGS = '.eric/bench-logs';
const TOPICS = [DEFAULT_TOPIC_NAMES.TOPIC_VISITS, DEFAULT_TOPIC_NAMES.TOPIC_REPARTITION, DEFAULT_TOPIC_NAMES.TOPIC_CHANGELOG, DEFAULT_TOPIC_NAMES.TOPIC_ACTIVE_VISITORS];

type Mode = 'frozen' | 'down';
if (MODES.some((m) => m !== 'frozen' && m !== 'down')) {
  console.error(`BENCH_MODES: frozen and/or down, comma-separated; got ${env.BENCH_MODES}`);
  process.exit(2);
}

process.env.KAFKA_START_TIMEOUT ??= '300';
const cluster = new SecuredCluster(`${repositoryRoot}.eric/kafka-cluster-node-down`, 9500);
const load = loadAverage;
const log = logLine;

/** One measurement: every aggregator's threads over MEASURE_SECONDS. */
interface Measurement {
  title: string;
  seconds: number;
  load: string;
  /** Per aggregator: the CPU seconds each thread used. */
  threads: ThreadSample[][];
  /** Per aggregator: thread id → its Kafka client. */
  clients: Array<Map<number, string>>;
  /** Per aggregator: whether it still ran at the end (one that exited used no CPU after: see its log). */
  running: boolean[];
}


let services: ServiceProcess[] = [];
let aggregators: ServiceProcess[] = [];

async function startServices(): Promise<ServiceProcess> {
  const options = (service: string, user: ClusterUser, extra: Record<string, string> = {}) => ({ service, env: serviceEnv(cluster, user, SHAPE, extra), logDirectory: LOGS });
  aggregators = Array.from({ length: P }, (_, i) => new ServiceProcess(`node-down-aggregator-${i}`, options('aggregator', 'aggregator', { AGGREGATOR_ORDINAL: String(i) })));
  // The bench's own traffic, far above one account's share: the ingest limits are off.
  const producer = new ServiceProcess('node-down-producer', options('producer', 'producer', { PRODUCER_RATE: '0', PRODUCER_INGEST_ACCOUNT_VISITS_PER_SECOND: '0', PRODUCER_INGEST_CLIENT_REQUESTS_PER_SECOND: '0' }));
  services = [...aggregators, producer];
  await Promise.all(services.map((s) => s.start()));
  await Promise.all(services.map((s) => s.ready(120_000)));
  return producer;
}

async function measure(title: string): Promise<Measurement> {
  const pids = aggregators.map((a) => a.pid!);
  // Which client each thread serves, asked before the interval so that gdb's pause is not in it.
  const clients = THREAD_CLIENTS ? await Promise.all(pids.map((pid) => clientsOfThreads(pid))) : pids.map(() => new Map<number, string>());
  const before = pids.map((pid) => threadSamples(pid));
  const started = Date.now();
  await sleep(MEASURE_SECONDS * 1000);
  const threads = pids.map((pid, i) => threadDeltas(before[i]!, threadSamples(pid)));
  const running = aggregators.map((a) => a.running);
  const measurement = { title, seconds: (Date.now() - started) / 1000, load: load(), threads, clients, running };
  const total = threads.map((t) => sumCpu(t));
  log(`${title}: ${total.map((cpu, i) => `aggregator-${i} ${running[i] ? pct(cpu, measurement.seconds) : `exited (${aggregators[i]!.logFile})`}`).join(', ')} (load average ${measurement.load})`);
  return measurement;
}

const sumCpu = (threads: ThreadSample[]) => threads.reduce((total, t) => total + t.cpu, 0);
const pct = (cpu: number, seconds: number) => `${((cpu / seconds) * 100).toFixed(0)} %`;

/** The process id of a node's JVM (the script's pid file). */
function nodePid(node: number): number {
  return Number(readFileSync(`${cluster.directory}/node-${node}/kafka.pid`, 'utf8').trim());
}

async function untilFullyReplicated(): Promise<void> {
  const by = Date.now() + RECOVERY_TIMEOUT_SECONDS * 1000;
  while (!(await cluster.fullyReplicated(TOPICS).catch(() => false))) {
    if (Date.now() > by) throw new Error(`the cluster was not fully replicated within ${RECOVERY_TIMEOUT_SECONDS} s`);
    await sleep(1000);
  }
}

interface Recovery {
  mode: Mode;
  node: number;
  /** From the node's return until the lag was back at its level before the fault, s (undefined: not within the timeout). */
  lagSeconds?: number;
  lagBefore: number;
  /** From the restart until the node served again (killed nodes only), s. */
  servingSeconds?: number;
}

/**
 * The node to stop: by default the one aggregator-0's admin client takes for the controller
 * (where it sends its requests: the worst case, see docs/operations.md), else the leader of
 * visits-repartition[0].
 */
async function victim(up: Measurement): Promise<number> {
  const adminController = controllerOf(up.clients[0]!, `${DEFAULT_TOPIC_NAMES.APPLICATION_ID}-admin`);
  if (VICTIM === 'admin-controller' && adminController !== undefined) return adminController;
  return cluster.leaderOf(DEFAULT_TOPIC_NAMES.TOPIC_REPARTITION, 0);
}

/** All nodes up, then one node frozen or down: two measurements, and the recovery after. */
async function round(mode: Mode, lag: PipelineLag): Promise<{ measurements: Measurement[]; recovery: Recovery }> {
  await untilFullyReplicated();
  const up = await measure(`all nodes up (before ${mode})`);
  const lagBefore = percentile(await lag.samples(10), 0.9);
  const node = await victim(up);
  if (mode === 'frozen') process.kill(nodePid(node), 'SIGSTOP');
  else await cluster.run('kill', String(node));
  const controllers = up.clients.map((clients) => controllerOf(clients, `${DEFAULT_TOPIC_NAMES.APPLICATION_ID}-admin`) ?? '?');
  log(`node ${node} ${mode === 'frozen' ? 'frozen (SIGSTOP)' : 'down (SIGKILL)'} (the aggregators' admin clients take node ${controllers.join(', ')} for the controller); measuring after ${DOWN_SETTLE_SECONDS} s (load average ${load()})`);
  await sleep(DOWN_SETTLE_SECONDS * 1000);
  const away = await measure(`node ${node} ${mode}`);
  const back = Date.now();
  const recovery: Recovery = { mode, node, lagBefore };
  if (mode === 'frozen') process.kill(nodePid(node), 'SIGCONT');
  // Whether the node is back is judged from the lag below, not from the script's own wait.
  else {
    cluster
      .run('restart', String(node))
      .then(() => {
        recovery.servingSeconds = (Date.now() - back) / 1000;
        log(`node ${node} serves again, ${recovery.servingSeconds.toFixed(1)} s after its restart`);
      })
      .catch((error: unknown) => log(`restart of node ${node} reported: ${String(error).split('\n')[1] ?? error}`));
  }
  const deadline = back + RECOVERY_TIMEOUT_SECONDS * 1000;
  while (Date.now() < deadline) {
    const total = await lag.total();
    if (total !== undefined && total <= lagBefore) {
      recovery.lagSeconds = (Date.now() - back) / 1000;
      break;
    }
    await sleep(250);
  }
  log(`node ${node} back: lag at its level (≤ ${fmt(lagBefore)}) ${recovery.lagSeconds === undefined ? `not within ${RECOVERY_TIMEOUT_SECONDS} s` : `after ${recovery.lagSeconds.toFixed(1)} s`}`);
  return { measurements: [up, away], recovery };
}

function report(measurements: Measurement[], recoveries: Recovery[]): void {
  console.log(`\nCPU per aggregator process (CPU seconds over the interval, and as a share of one core)`);
  table(
    ['interval', 'seconds', 'load average', ...aggregators.map((_, i) => `aggregator-${i}`)],
    measurements.map((m) => [m.title, m.seconds.toFixed(1), m.load, ...m.threads.map((t, i) => (m.running[i] ? `${sumCpu(t).toFixed(2)} s (${pct(sumCpu(t), m.seconds)})` : 'exited'))]),
  );
  console.log(`\nCPU by thread name, summed over the aggregators (librdkafka names its threads per broker, not per client)`);
  const names = new Set<string>();
  for (const m of measurements) {
    const byName = cpuByName(m);
    [...byName].sort((a, b) => b[1] - a[1]).slice(0, TOP_THREADS).forEach(([name]) => names.add(name));
  }
  table(
    ['thread name', ...measurements.map((m) => m.title)],
    [...names].map((name) => [name, ...measurements.map((m) => `${(cpuByName(m).get(name) ?? 0).toFixed(2)} s (${pct(cpuByName(m).get(name) ?? 0, m.seconds)})`)]),
  );
  for (const m of measurements) {
    console.log(`\nbusiest threads, ${m.title}`);
    table(
      ['aggregator', 'thread', 'tid', 'client · broker', 'CPU s', 'of a core'],
      m.threads.flatMap((threads, i) =>
        [...threads]
          .sort((a, b) => b.cpu - a.cpu)
          .slice(0, TOP_THREADS)
          .map((t) => [`aggregator-${i}`, t.name, t.tid, m.clients[i]!.get(t.tid) ?? '—', t.cpu.toFixed(2), pct(t.cpu, m.seconds)]),
      ),
    );
  }
  console.log(`\nrecovery after the node came back (lag back at its level before the fault)`);
  table(
    ['node away', 'node', 'node serving again after', 'lag before (p90)', 'lag recovered after'],
    recoveries.map((r) => [
      r.mode,
      r.node,
      r.mode === 'frozen' ? 'at once (SIGCONT)' : r.servingSeconds === undefined ? '—' : `${r.servingSeconds.toFixed(1)} s`,
      fmt(r.lagBefore),
      r.lagSeconds === undefined ? `> ${RECOVERY_TIMEOUT_SECONDS} s` : `${r.lagSeconds.toFixed(1)} s`,
    ]),
  );
}

function cpuByName(m: Measurement): Map<string, number> {
  const byName = new Map<string, number>();
  for (const t of m.threads.flat()) byName.set(t.name, (byName.get(t.name) ?? 0) + t.cpu);
  return byName;
}

// ---------------------------------------------------------------------------------------------

let traffic: Traffic | undefined;
let lag: PipelineLag | undefined;
let cleaning: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await traffic?.stop();
    lag?.close();
    await Promise.all(services.map((s) => s.stop()));
    // A node left frozen would not stop on SIGTERM.
    for (const node of [1, 2, 3]) {
      try {
        process.kill(nodePid(node), 'SIGCONT');
      } catch {
        // not running
      }
    }
    if (KEEP_CLUSTER) console.log(`the cluster still runs (BENCH_KEEP_CLUSTER=1): KAFKA_CLUSTER_DIR=.eric/kafka-cluster-node-down KAFKA_CLUSTER_PORT=9500 scripts/kafka-cluster.sh stop`);
    else process.stdout.write(await cluster.run('stop'));
  })();
  return cleaning;
}

cleanUpOnSignals(cleanUp);

async function main(): Promise<void> {
  console.log(`Aggregator CPU with one node of the three-node secured cluster away (127.0.0.1:9501-9503)`);
  console.log(`traffic ${fmt(RATE)} visits/s; P = ${P} aggregators; ${MEASURE_SECONDS} s per measurement; node away: ${MODES.join(', ')}`);
  console.log(`machine: ${cpus().length} cores, load average ${load()} at start; logs in ${LOGS}/node-down-*.log`);
  await startFreshCluster(cluster, SHAPE);
  const producer = await startServices();
  lag = await connectedPipelineLag(cluster, SHAPE);
  traffic = new Traffic({ port: () => producer.port, visitsPerSecond: RATE, batchSize: 50, windowSeconds: WINDOW, graceSeconds: GRACE });
  traffic.start();
  log(`pipeline ready, traffic started (load average ${load()})`);
  const measurements: Measurement[] = [];
  const recoveries: Recovery[] = [];
  for (const mode of MODES) {
    const result = await round(mode, lag);
    measurements.push(...result.measurements);
    recoveries.push(result.recovery);
  }
  console.log(`\n==== aggregator CPU with a node away (${new Date().toISOString()}, load average ${load()}) ====`);
  report(measurements, recoveries);
}

try {
  await main();
} finally {
  await cleanUp();
}
process.exit(0);
