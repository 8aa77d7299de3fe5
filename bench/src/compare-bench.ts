/**
 * `make bench-compare`: Eric side by side with Kafka Streams (bench/kafka-streams, the same
 * topology in Kafka Streams' DSL, exactly-once v2, RocksDB, suppress until the window closes), on
 * one broker and one generated dataset.
 *
 *   1. One dataset, written to a visits topic of its own per scenario (BENCH_INPUT_PARTITIONS
 *      partitions, default 4; "1,4" runs both the backlog on one partition and on four): BENCH_VISITS
 *      visits (default 1 000 000), 10 % of them sent twice (a copy of a recent visit), over ~3 000
 *      (account, store) keys and 15 one-minute windows of event time that ended a few minutes ago,
 *      in time order with up to 2 s of disorder, round-robin over the partitions. After them, on
 *      every partition, a few "flush" visits of a later window (account 1) move event time past
 *      the last window's end + grace: Kafka Streams closes windows only when newer records arrive.
 *      The flush window never closes; its results are not counted.
 *   2. Each system in turn (BENCH_SYSTEMS, default "ks,eric") reads the whole backlog with its own
 *      application id, internal topics and output topic: Kafka Streams as one JVM with 2 stream
 *      threads, Eric as P aggregator processes. The clock runs from the first visit it writes to its
 *      repartition topic (polled every 250 ms) to the last final it writes; CPU (user + system of
 *      the process trees, from /proc) over the same span, and once more from the start; peak RSS
 *      (the processes' sum, and each one's) sampled every 250 ms over the whole run.
 *   3. Its finals are checked against the counts computed here from the dataset: every window
 *      present once with the right count, nothing else. Kafka Streams drops visits as late when its
 *      input partitions are read out of step (it aligns partitions only inside one task), so the
 *      share of exact windows is reported, not asserted.
 *
 * Prints figures; asserts nothing. Environment: KAFKA_BROKERS (default 127.0.0.1:9092),
 * BENCH_VISITS (1000000), BENCH_PARTITIONS (P, 4), BENCH_INPUT_PARTITIONS (4; a list such as
 * "1,4" runs one scenario each), BENCH_KEYS (3000), BENCH_WINDOWS (15), BENCH_SYSTEMS (ks,eric),
 * BENCH_KS_JAR (bench/kafka-streams/target/eric-kafka-streams-bench.jar), BENCH_KS_JAVA_OPTS (JVM
 * flags, default none: the JVM's own heap sizing), BENCH_ERIC_NODE_ARGS (default
 * --max-semi-space-size=64, as in production), EMIT_INTERVAL_MS (Eric's provisional counts,
 * default 0 here: finals only, like suppress), BENCH_TIMEOUT_SECONDS (900 per system).
 * Logs: .eric/bench-logs/ (Kafka Streams) and .eric/test-logs/ (the aggregators).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { TopicAdmin, kafka, partitionForKey, rdkafkaConnectionConfig, visitsTopicSpec } from '@eric/shared';
import { finalKey, isolatedRunEnv, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import { GroupLag, bulkProduce, fmt, table, treeStats } from '@eric/shared/testing/bench';
import { ServiceProcess, sleep } from '@eric/shared/testing/process';

const root = fileURLToPath(new URL('../../', import.meta.url));
const env = process.env;
const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
const brokers = env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const settings = testKafkaSettings(brokers, 'eric-bench-compare');
const VISITS = num('BENCH_VISITS', 1_000_000);
const P = num('BENCH_PARTITIONS', 4);
const KEYS = num('BENCH_KEYS', 3000);
const WINDOWS = num('BENCH_WINDOWS', 15);
const SYSTEMS = (env.BENCH_SYSTEMS ?? 'ks,eric').split(',').filter(Boolean);
const KS_JAR = env.BENCH_KS_JAR ?? `${root}bench/kafka-streams/target/eric-kafka-streams-bench.jar`;
const KS_JAVA_OPTS = (env.BENCH_KS_JAVA_OPTS ?? '').split(' ').filter(Boolean);
const ERIC_NODE_FLAGS = (env.BENCH_ERIC_NODE_ARGS ?? '--max-semi-space-size=64').split(' ').filter(Boolean);
const TIMEOUT_MS = num('BENCH_TIMEOUT_SECONDS', 900) * 1000;
const INPUT_PARTITIONS = (env.BENCH_INPUT_PARTITIONS ?? '4').split(',').filter(Boolean).map(Number);
const WINDOW = 60;
const GRACE = 10;
const DUPLICATE_SHARE = 0.1;
const FLUSH_ACCOUNT = 1; // the flush visits' account; the dataset's accounts start at 1000
const SAMPLE_MS = 250;
const IDLE_END_MS = 10_000; // input read, no new final for this long: the system is done
const LOGS = `${root}.eric/bench-logs`;
const MiB = 2 ** 20;
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

// ---------------------------------------------------------------------------------------------
// The dataset and the counts it must give

/** A small deterministic PRNG (mulberry32): the same dataset for the same size on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Dataset {
  visits: Buffer[];
  /** Distinct visit ids per window: finalKey(account, store, start) → count. */
  expected: Map<string, number>;
  firstWindow: number;
  flush: Buffer[][];
}

function generate(): Dataset {
  const rand = random(13);
  const span = WINDOWS * WINDOW;
  // Windows that closed a few minutes ago: even the flush visits lie in the past (Eric refuses
  // visits more than 5 minutes in the future), and every window is complete in the topic.
  const firstWindow = Math.floor(Date.now() / 1000 / WINDOW) * WINDOW - span - 3 * WINDOW;
  const visits: Buffer[] = [];
  const expected = new Map<string, number>();
  const recent: Buffer[] = [];
  for (let i = 0; i < VISITS; i++) {
    if (recent.length > 0 && rand() < DUPLICATE_SHARE) {
      visits.push(recent[Math.floor(rand() * recent.length)]!); // the same visit sent again
      continue;
    }
    const k = Math.floor(rand() * KEYS);
    const account = 1000 + Math.floor(k / 4);
    const store = k % 4 === 3 ? null : `store-${k % 4}`;
    const timestamp = Math.round(Math.max(firstWindow, firstWindow + (i / VISITS) * span - rand() * 2) * 1000) / 1000;
    const visit = Buffer.from(JSON.stringify({ id: randomUUID(), account_id: account, store_id: store, timestamp }));
    visits.push(visit);
    recent.push(visit);
    if (recent.length > 1000) recent.shift();
    const key = finalKey(account, store, Math.floor(timestamp / WINDOW) * WINDOW);
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  // Flush visits: on every visits partition, one per repartition partition, in a window after
  // the last one's end + grace.
  const flushTime = firstWindow + span + GRACE + WINDOW;
  const stores: string[] = [];
  for (let j = 0; stores.length < P; j++) {
    const store = `flush-${j}`;
    if (!stores.some((s) => partitionForKey(`${FLUSH_ACCOUNT}:${s}`, P) === partitionForKey(`${FLUSH_ACCOUNT}:${store}`, P))) stores.push(store);
  }
  const flush = Array.from({ length: Math.max(...INPUT_PARTITIONS) }, (_, partition) =>
    stores.map((store) => Buffer.from(JSON.stringify({ id: `flush-${partition}-${store}`, account_id: FLUSH_ACCOUNT, store_id: store, timestamp: flushTime }))),
  );
  return { visits, expected, firstWindow, flush };
}

// ---------------------------------------------------------------------------------------------
// One system's run

interface Final {
  key: string;
  count: number;
}

/** A stream processor under test: its processes, the group that reads visits, its output. */
interface System {
  name: string;
  /** The consumer group that commits offsets on the visits topic. */
  inputGroup: string;
  outputTopic: string;
  /** A final result from an output record, or undefined for anything else (provisional counts). */
  parse(value: Buffer): Final | undefined;
  start(): Promise<void>;
  /** Its internal topic between the two stages: the first record there starts the clock. */
  repartitionTopic: string;
  /** Process ids whose trees are measured, one per process of the system. */
  pids(): Array<number | undefined>;
  /** Says why it stopped if it did. */
  failed(): string | undefined;
  stop(): Promise<void>;
}

interface Result {
  name: string;
  processes: number;
  visitsPerSecond: number;
  cpuPerVisit: number;
  cpuPerVisitWithStart: number;
  readySeconds: number;
  peakRss: number;
  peakRssPerProcess: number[];
  windows: number;
  exact: number;
  wrong: number;
  missing: number;
  extra: number;
  twice: number;
  /** Distinct visits the right finals account for (each window's count up to the expected one). */
  counted: number;
  distinct: number;
  note: string;
}

/** Reads a system's output topic (read_committed) while it runs: every final and when it came. */
class OutputReader {
  readonly finals: Array<Final & { at: number }> = [];
  lastAt = 0;
  #stopped = false;
  #done: Promise<void> | undefined;
  constructor(
    readonly topic: string,
    readonly parse: (value: Buffer) => Final | undefined,
  ) {}
  async start(): Promise<void> {
    const consumer = new kafka.KafkaConsumer(
      { ...rdkafkaConnectionConfig(settings), 'group.id': uniqueName('eric-bench-compare-reader'), 'enable.auto.commit': false, 'isolation.level': 'read_committed' },
      { 'auto.offset.reset': 'earliest' },
    );
    consumer.setDefaultConsumeTimeout(100);
    await kafka.connect(consumer);
    consumer.assign([{ topic: this.topic, partition: 0, offset: 0 }]);
    this.#done = (async () => {
      while (!this.#stopped) {
        const batch = await kafka.consumeBatch(consumer, 5000);
        const at = Date.now();
        for (const record of batch) {
          const final = record.value ? this.parse(record.value) : undefined;
          if (!final) continue;
          this.finals.push({ ...final, at });
          if (!final.key.startsWith(`${FLUSH_ACCOUNT}|`)) this.lastAt = at;
        }
      }
      await kafka.disconnect(consumer);
    })();
  }
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

function check(finals: Final[], expected: Map<string, number>) {
  const seen = new Map<string, number>();
  let twice = 0;
  let extra = 0;
  for (const final of finals) {
    if (final.key.startsWith(`${FLUSH_ACCOUNT}|`)) continue;
    if (seen.has(final.key)) twice++;
    else seen.set(final.key, final.count);
    if (!expected.has(final.key)) extra++;
  }
  let exact = 0;
  let wrong = 0;
  let missing = 0;
  let counted = 0;
  for (const [key, count] of expected) {
    const got = seen.get(key);
    if (got === undefined) missing++;
    else if (got === count) exact++;
    else wrong++;
    counted += Math.min(got ?? 0, count);
  }
  return { exact, wrong, missing, extra, twice, counted };
}

async function measure(system: System, data: Dataset, visitsTopic: string, inputPartitions: number): Promise<Result> {
  console.log(`\n${system.name}: reading ${fmt(VISITS)} visits (load average ${load()})`);
  const reader = new OutputReader(system.outputTopic, system.parse);
  await reader.start();
  const probe = new GroupLag(settings, system.inputGroup);
  await probe.connect();
  const samples: Array<{ t: number; cpu: number; rss: number[] }> = [];
  const sample = () => {
    const stats = treeStats(system.pids());
    samples.push({ t: Date.now(), cpu: stats.reduce((a, s) => a + (s?.cpu ?? 0), 0), rss: stats.map((s) => s?.rss ?? 0) });
  };
  const startedAt = Date.now();
  await system.start();
  let readyAt = 0;
  let consumedAt = 0;
  let note = '';
  const sampler = setInterval(sample, SAMPLE_MS);
  let lastPrint = Date.now();
  try {
    for (;;) {
      await sleep(SAMPLE_MS);
      const why = system.failed();
      if (why) {
        note = why;
        break;
      }
      const offsets = await probe.offsets(visitsTopic, inputPartitions).catch(() => undefined);
      if (!readyAt && (await probe.written(system.repartitionTopic, P).catch(() => 0)) > 0) readyAt = Date.now();
      const lag = offsets ? offsets.reduce((a, o) => a + o.lag, 0) : Infinity;
      if (offsets && !consumedAt && lag === 0) consumedAt = Date.now();
      const finals = reader.finals.filter((f) => !f.key.startsWith(`${FLUSH_ACCOUNT}|`)).length;
      if (Date.now() - lastPrint >= 5000) {
        lastPrint = Date.now();
        console.log(`  ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s: visits lag ${fmt(lag)}, finals ${fmt(finals)} of ${fmt(data.expected.size)}, load average ${loadavg()[0]!.toFixed(2)}`);
      }
      if (finals >= data.expected.size && consumedAt) break;
      if (consumedAt && Date.now() - Math.max(consumedAt, reader.lastAt) > IDLE_END_MS) break;
      if (Date.now() - startedAt > TIMEOUT_MS) {
        note = `timed out after ${TIMEOUT_MS / 1000} s`;
        break;
      }
    }
  } finally {
    clearInterval(sampler);
    sample();
  }
  const endAt = reader.lastAt || Date.now();
  await system.stop();
  await reader.stop();
  probe.close();
  const cpuAt = (t: number) => (samples.find((s) => s.t >= t) ?? samples.at(-1)!).cpu;
  const from = readyAt || startedAt;
  const seconds = (endAt - from) / 1000;
  const perProcess = system.pids().map((_, i) => Math.max(...samples.map((s) => s.rss[i] ?? 0)));
  const verdict = check(reader.finals, data.expected);
  const result: Result = {
    name: system.name,
    processes: perProcess.length,
    visitsPerSecond: VISITS / seconds,
    cpuPerVisit: ((cpuAt(endAt) - cpuAt(from)) / VISITS) * 1e6,
    cpuPerVisitWithStart: (cpuAt(endAt) / VISITS) * 1e6,
    readySeconds: (from - startedAt) / 1000,
    peakRss: Math.max(...samples.map((s) => s.rss.reduce((a, b) => a + b, 0))),
    peakRssPerProcess: perProcess,
    windows: data.expected.size,
    distinct: sumOf(data.expected),
    ...verdict,
    note,
  };
  console.log(
    `  ${system.name}: ${fmt(result.visitsPerSecond)} visits/s over ${seconds.toFixed(1)} s (the first of them ${result.readySeconds.toFixed(1)} s after the start), ` +
      `${result.cpuPerVisit.toFixed(1)} µs CPU per visit, peak RSS ${fmt(result.peakRss / MiB)} MiB; ` +
      `windows exact ${fmt(result.exact)} of ${fmt(result.windows)}, wrong ${fmt(result.wrong)}, missing ${fmt(result.missing)}, extra ${fmt(result.extra)}, finals twice ${fmt(result.twice)}${note ? `; ${note}` : ''}`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// The two systems

function kafkaStreams(prefix: string, visitsTopic: string): System {
  const applicationId = `${prefix}-ks`;
  const outputTopic = `${prefix}-ks-output`;
  const stateDir = `${root}.eric/bench-compare/${applicationId}`;
  let child: ChildProcess | undefined;
  let exit: Promise<void> | undefined;
  return {
    name: 'Kafka Streams',
    inputGroup: applicationId,
    outputTopic,
    parse(value) {
      const r = JSON.parse(value.toString('utf8')) as { account_id: number; store_id: string | null; window_start: number; unique_visitors: number };
      return { key: finalKey(r.account_id, r.store_id, r.window_start), count: r.unique_visitors };
    },
    async start() {
      const log = createWriteStream(`${LOGS}/${applicationId}.log`, { flags: 'a' });
      child = spawn('java', [...KS_JAVA_OPTS, '-jar', KS_JAR], {
        env: { ...process.env, KAFKA_BROKERS: brokers, APPLICATION_ID: applicationId, INPUT_TOPIC: visitsTopic, OUTPUT_TOPIC: outputTopic, PARTITIONS: String(P), STATE_DIR: stateDir, WINDOW_SECONDS: String(WINDOW), GRACE_SECONDS: String(GRACE) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.pipe(log);
      child.stderr!.pipe(log);
      const started = child;

      exit = new Promise((resolve) => started.once('close', () => resolve()));
    },
    repartitionTopic: `${applicationId}-visits-by-key-repartition`,
    pids: () => [child?.pid],
    failed: () => (child && child.exitCode !== null ? `the JVM exited with ${child.exitCode} (see .eric/bench-logs/${applicationId}.log)` : undefined),
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child?.kill('SIGKILL'), 40_000);
        await exit;
        clearTimeout(killer);
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

function eric(prefix: string, visitsTopic: string, inputPartitions: number): System {
  const applicationId = `${prefix}-eric`;
  const topics = isolatedRunEnv(applicationId);
  const common = {
    ...topics,
    TOPIC_VISITS: visitsTopic,
    KAFKA_BROKERS: brokers,
    PARTITIONS: String(P),
    VISITS_PARTITIONS: String(inputPartitions),
    WINDOW_SECONDS: String(WINDOW),
    GRACE_SECONDS: String(GRACE),
    EMIT_INTERVAL_MS: env.EMIT_INTERVAL_MS ?? '0',
    LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'warn',
    // The aggregator needs more libuv threads than Node's 4 (the Makefile exports 16 too).
    UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE ?? '16',
  };
  const aggregators = Array.from(
    { length: P },
    (_, i) => new ServiceProcess(`${applicationId}-aggregator-${i}`, { service: 'aggregator', env: { ...common, AGGREGATOR_ORDINAL: String(i) }, nodeFlags: ERIC_NODE_FLAGS }),
  );
  return {
    name: 'Eric',
    inputGroup: `${applicationId}-repartition`,
    outputTopic: topics.TOPIC_ACTIVE_VISITORS!,
    parse(value) {
      const r = JSON.parse(value.toString('utf8')) as { account_id: number; store_id: string | null; window: [number, number]; count: number; final: boolean };
      return r.final ? { key: finalKey(r.account_id, r.store_id, r.window[0]), count: r.count } : undefined;
    },
    async start() {
      await Promise.all(aggregators.map((a) => a.start()));
    },
    repartitionTopic: topics.TOPIC_REPARTITION!,
    pids: () => aggregators.map((a) => a.pid),
    failed() {
      const gone = aggregators.find((a) => !a.running);
      return gone ? `${gone.name} exited (see ${gone.logFile})` : undefined;
    },
    async stop() {
      await Promise.all(aggregators.map((a) => a.stop()));
    },
  };
}

// ---------------------------------------------------------------------------------------------

/** One scenario: the dataset on a visits topic of `inputPartitions` partitions, each system in turn. */
async function scenario(data: Dataset, prefix: string, inputPartitions: number): Promise<Result[]> {
  const visitsTopic = `${prefix}-visits`;
  const admin = new TopicAdmin(settings);
  await admin.ensureTopics([
    visitsTopicSpec(visitsTopic, inputPartitions),
    // Kafka Streams' output, like Eric's active-visitors: one partition. Its internal topics it creates itself.
    { name: `${prefix}-ks-output`, partitions: 1 },
  ]);
  admin.close();
  const produceRate = await bulkProduce(settings, visitsTopic, VISITS, (i) => ({ key: null, value: data.visits[i]!, partition: i % inputPartitions }));
  const flush = data.flush.slice(0, inputPartitions).flatMap((records, partition) => records.map((value) => ({ key: null, value, partition })));
  await bulkProduce(settings, visitsTopic, flush.length, (i) => flush[i]!);
  console.log(`\n---- backlog on ${inputPartitions} input partition${inputPartitions === 1 ? '' : 's'}: ${fmt(VISITS)} visits written to ${visitsTopic} at ${fmt(produceRate)}/s`);
  const results: Result[] = [];
  for (const name of SYSTEMS) {
    const system = name === 'ks' ? kafkaStreams(prefix, visitsTopic) : name === 'eric' ? eric(prefix, visitsTopic, inputPartitions) : undefined;
    if (!system) throw new Error(`BENCH_SYSTEMS: unknown system "${name}" (ks, eric)`);
    results.push(await measure(system, data, visitsTopic, inputPartitions));
  }
  return results;
}

function summary(inputPartitions: number, results: Result[]): void {
  console.log(`\nbacklog of ${fmt(VISITS)} visits on ${inputPartitions} input partition${inputPartitions === 1 ? '' : 's'}, P = ${P}, exactly-once; CPU and RSS of the stream processors' processes (the broker excluded)`);
  const ks = results.find((r) => r.name === 'Kafka Streams');
  const er = results.find((r) => r.name === 'Eric');
  const rss = (r: Result | undefined) =>
    r ? `${fmt(r.peakRss / MiB)} MiB${r.processes > 1 ? ` (${r.processes} processes: ${r.peakRssPerProcess.map((b) => fmt(b / MiB)).join(' / ')})` : ''}` : '—';
  const ratio = (f: (r: Result) => number) => (ks && er ? (f(er) / f(ks)).toFixed(2) : '—');
  const cell = (r: Result | undefined, f: (r: Result) => string) => (r ? f(r) : '—');
  const exactShare = (r: Result) => `${((r.exact / r.windows) * 100).toFixed(1)} %`;
  const exact = (r: Result) => (r.exact === r.windows && r.extra === 0 && r.twice === 0 ? 'yes' : 'no');
  table(
    [`backlog, ${inputPartitions} input partition${inputPartitions === 1 ? '' : 's'}`, 'Kafka Streams', 'Eric', 'Eric ÷ Kafka Streams'],
    [
      ['visits/s', cell(ks, (r) => fmt(r.visitsPerSecond)), cell(er, (r) => fmt(r.visitsPerSecond)), ratio((r) => r.visitsPerSecond)],
      ['CPU µs per visit', cell(ks, (r) => r.cpuPerVisit.toFixed(1)), cell(er, (r) => r.cpuPerVisit.toFixed(1)), ratio((r) => r.cpuPerVisit)],
      ['… with start-up', cell(ks, (r) => r.cpuPerVisitWithStart.toFixed(1)), cell(er, (r) => r.cpuPerVisitWithStart.toFixed(1)), ratio((r) => r.cpuPerVisitWithStart)],
      ['peak RSS', rss(ks), rss(er), ratio((r) => r.peakRss)],
      ['start until the first repartitioned visit', cell(ks, (r) => `${r.readySeconds.toFixed(1)} s`), cell(er, (r) => `${r.readySeconds.toFixed(1)} s`), '—'],
      ['exact windows', cell(ks, exactShare), cell(er, exactShare), '—'],
      ['exact (every final present, right, once; nothing else)', cell(ks, exact), cell(er, exact), '—'],
    ],
  );
  for (const r of results) {
    console.log(
      `  ${r.name}: ${fmt(r.windows)} windows: ${fmt(r.exact)} exact, ${fmt(r.wrong)} wrong count, ${fmt(r.missing)} missing; ${fmt(r.extra)} unexpected, ${fmt(r.twice)} emitted twice; ` +
        `the finals count ${fmt(r.counted)} of ${fmt(r.distinct)} distinct visits (${((r.counted / r.distinct) * 100).toFixed(1)} %)${r.note ? `; ${r.note}` : ''}`,
    );
  }
}

async function main(): Promise<void> {
  if (SYSTEMS.includes('ks') && !existsSync(KS_JAR)) throw new Error(`${KS_JAR} is missing: build it with mvn -f bench/kafka-streams/pom.xml package (make bench-compare does)`);
  mkdirSync(LOGS, { recursive: true });
  const prefix = uniqueName('bench-compare');
  console.log(`Eric vs Kafka Streams on ${brokers}: ${fmt(VISITS)} visits, ~${KEYS} keys, ${WINDOWS} windows of ${WINDOW} s (grace ${GRACE} s), P = ${P}, topics ${prefix}-*`);
  console.log(`machine: ${cpus().length} cores, load average ${load()}`);
  const data = generate();
  console.log(`dataset: ${fmt(data.expected.size)} windows to close, ${fmt(sumOf(data.expected))} distinct visits`);
  const runs: Array<[number, Result[]]> = [];
  for (const inputPartitions of INPUT_PARTITIONS) runs.push([inputPartitions, await scenario(data, `${prefix}-${inputPartitions}p`, inputPartitions)]);
  console.log(`\n==== summary (${new Date().toISOString()}, load average ${load()}) ====`);
  for (const [inputPartitions, results] of runs) summary(inputPartitions, results);
}

function sumOf(map: Map<string, number>): number {
  let total = 0;
  for (const value of map.values()) total += value;
  return total;
}

await main();
process.exit(0);
