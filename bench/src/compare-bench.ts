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
 *      Then, live (BENCH_PACED_RATE visits/s, default 20 000; 0 leaves it out): the same visits,
 *      stamped with the time they are sent, written at that rate to 4 input partitions while each
 *      system runs; the clock runs from the first visit sent until every visit is counted (the
 *      second stage's lag gone); after that the flush visits go out once the last window's
 *      end + grace has passed, and the finals are checked as for the backlog.
 *   3. Its finals are checked against the counts computed here from the dataset: every window
 *      present once with the right count, nothing else. Kafka Streams drops visits as late when its
 *      input partitions are read out of step (it aligns partitions only inside one task), so the
 *      share of exact windows is reported, not asserted.
 *
 * Prints figures; asserts nothing. Environment: KAFKA_BROKERS (default 127.0.0.1:9092),
 * BENCH_VISITS (1000000), BENCH_PARTITIONS (P, 4), BENCH_INPUT_PARTITIONS (4; a list such as
 * "1,4" runs one backlog scenario each, "" none), BENCH_PACED_RATE (20000; 0 = no live run),
 * BENCH_KEYS (3000), BENCH_WINDOWS (15), BENCH_SYSTEMS (ks,eric), BENCH_KS_JAR
 * (bench/kafka-streams/target/eric-kafka-streams-bench.jar), BENCH_KS_JAVA_OPTS (JVM flags,
 * default none: the JVM's own heap sizing), BENCH_ERIC_NODE_ARGS (Node.js flags of the
 * aggregators, default none, as in production), EMIT_INTERVAL_MS (Eric's provisional counts,
 * default 0 here: finals only, like suppress), BENCH_TIMEOUT_SECONDS (900 per system),
 * BENCH_PROGRESS_MS (5000: how often a progress line is printed).
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
const ERIC_NODE_FLAGS = (env.BENCH_ERIC_NODE_ARGS ?? '').split(' ').filter(Boolean);
const TIMEOUT_MS = num('BENCH_TIMEOUT_SECONDS', 900) * 1000;
const INPUT_PARTITIONS = (env.BENCH_INPUT_PARTITIONS ?? '4').split(',').filter(Boolean).map(Number);
const PACED_RATE = num('BENCH_PACED_RATE', 20_000);
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

interface VisitFields {
  id: string;
  account_id: number;
  store_id: string | null;
}

interface Dataset {
  /** Per visit: its fields, or the index of the visit it repeats (the same visit sent again). */
  fields: Array<VisitFields | number>;
  /** The visits as JSON with their event times, for a backlog. */
  visits: Buffer[];
  /** Distinct visit ids per window of the backlog: finalKey(account, store, start) → count. */
  expected: Map<string, number>;
  /** The flush visits of the backlog, per input partition. */
  flush: Buffer[][];
}

function generate(): Dataset {
  const rand = random(13);
  const span = WINDOWS * WINDOW;
  // Windows that closed a few minutes ago: even the flush visits lie in the past (Eric refuses
  // visits more than 5 minutes in the future), and every window is complete in the topic.
  const firstWindow = Math.floor(Date.now() / 1000 / WINDOW) * WINDOW - span - 3 * WINDOW;
  const fields: Array<VisitFields | number> = [];
  const visits: Buffer[] = [];
  const expected = new Map<string, number>();
  const recent: number[] = [];
  for (let i = 0; i < VISITS; i++) {
    if (recent.length > 0 && rand() < DUPLICATE_SHARE) {
      const original = recent[Math.floor(rand() * recent.length)]!;
      fields.push(original);
      visits.push(visits[original]!); // the same visit sent again
      continue;
    }
    const k = Math.floor(rand() * KEYS);
    const visit = { id: randomUUID(), account_id: 1000 + Math.floor(k / 4), store_id: k % 4 === 3 ? null : `store-${k % 4}` };
    const timestamp = Math.round(Math.max(firstWindow, firstWindow + (i / VISITS) * span - rand() * 2) * 1000) / 1000;
    fields.push(visit);
    visits.push(Buffer.from(JSON.stringify({ ...visit, timestamp })));
    recent.push(i);
    if (recent.length > 1000) recent.shift();
    const key = finalKey(visit.account_id, visit.store_id, Math.floor(timestamp / WINDOW) * WINDOW);
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  return { fields, visits, expected, flush: flushVisits(firstWindow + span + GRACE + WINDOW) };
}

/**
 * Flush visits at `timestamp` (a window after the last one's end + grace): on every input
 * partition, one per repartition partition, so that every task's stream time passes it.
 */
function flushVisits(timestamp: number): Buffer[][] {
  const stores: string[] = [];
  for (let j = 0; stores.length < P; j++) {
    const store = `flush-${j}`;
    if (!stores.some((s) => partitionForKey(`${FLUSH_ACCOUNT}:${s}`, P) === partitionForKey(`${FLUSH_ACCOUNT}:${store}`, P))) stores.push(store);
  }
  return Array.from({ length: Math.max(4, ...INPUT_PARTITIONS) }, (_, partition) =>
    stores.map((store) => Buffer.from(JSON.stringify({ id: `flush-${partition}-${store}`, account_id: FLUSH_ACCOUNT, store_id: store, timestamp }))),
  );
}

/**
 * The dataset sent live: each visit stamped with the time it is sent (a repeat is its original's
 * bytes again), and the counts those times give.
 */
function liveFeed(data: Dataset) {
  const sent: Buffer[] = new Array<Buffer>(VISITS);
  const expected = new Map<string, number>();
  let lastWindow = 0;
  return {
    expected,
    visit(i: number): Buffer {
      const fields = data.fields[i]!;
      if (typeof fields === 'number') return (sent[i] = sent[fields]!);
      const timestamp = Date.now() / 1000;
      const start = Math.floor(timestamp / WINDOW) * WINDOW;
      lastWindow = Math.max(lastWindow, start);
      const key = finalKey(fields.account_id, fields.store_id, start);
      expected.set(key, (expected.get(key) ?? 0) + 1);
      return (sent[i] = Buffer.from(JSON.stringify({ ...fields, timestamp })));
    },
    /** When the last window's end + grace is past, epoch seconds. */
    closeAt: () => lastWindow + WINDOW + GRACE,
    /** Stamped when sent, after closeAt: in the window after the last one. */
    flush: () => flushVisits(Date.now() / 1000),
  };
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
  /** The consumer group of its second stage, on the repartition topic. */
  countGroup: string;
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

/**
 * Runs one system on the visits in `visitsTopic` until its finals are out. With `feed`, the topic
 * is empty at the start: once the system has created its topics, `feed` writes the visits while
 * it runs, and the clock starts with the feed.
 */
async function measure(
  system: System,
  expected: Map<string, number>,
  visitsTopic: string,
  inputPartitions: number,
  feed?: (visitsWritten: () => void) => Promise<void>,
): Promise<Result> {
  console.log(`\n${system.name}: reading ${fmt(VISITS)} visits (load average ${load()})`);
  const reader = new OutputReader(system.outputTopic, system.parse);
  await reader.start();
  const probe = new GroupLag(settings, system.inputGroup);
  const countProbe = new GroupLag(settings, system.countGroup);
  await Promise.all([probe.connect(), countProbe.connect()]);
  const samples: Array<{ t: number; cpu: number; rss: number[] }> = [];
  const sample = () => {
    const stats = treeStats(system.pids());
    samples.push({ t: Date.now(), cpu: stats.reduce((a, s) => a + (s?.cpu ?? 0), 0), rss: stats.map((s) => s?.rss ?? 0) });
  };
  const startedAt = Date.now();
  await system.start();
  let readyAt = 0;
  let consumedAt = 0;
  let countedAt = 0;
  let note = '';
  const sampler = setInterval(sample, SAMPLE_MS);
  let written = feed === undefined; // the visits (not yet the flush visits)
  let fedAt = feed === undefined ? startedAt : 0; // the flush visits too
  if (feed) {
    // Its topics exist once it has started (Kafka Streams creates them in its first rebalance).
    while ((await probe.written(system.repartitionTopic, P).then(() => false, () => true)) && Date.now() - startedAt < TIMEOUT_MS && !system.failed()) await sleep(SAMPLE_MS);
    await sleep(2000);
    readyAt = Date.now();
    void feed(() => (written = true)).then(
      () => (fedAt = Date.now()),
      (error: Error) => (note = `writing the visits failed: ${error.message}`),
    );
  }
  let lastPrint = Date.now();
  try {
    for (;;) {
      await sleep(SAMPLE_MS);
      const why = system.failed();
      if (why || note) {
        note ||= why!;
        break;
      }
      const offsets = await probe.offsets(visitsTopic, inputPartitions).catch(() => undefined);
      if (!readyAt && (await probe.written(system.repartitionTopic, P).catch(() => 0)) > 0) readyAt = Date.now();
      const lag = offsets ? offsets.reduce((a, o) => a + o.lag, 0) : Infinity;
      if (offsets && written && !consumedAt && lag === 0) consumedAt = Date.now();
      // Live: all visits counted (the second stage's lag down to its transaction markers).
      const countLag = feed && !countedAt ? await countProbe.lag(system.repartitionTopic, P).then((l) => l.reduce((a, b) => a + b, 0), () => Infinity) : 0;
      if (consumedAt && !countedAt && countLag <= 2 * P) countedAt = Date.now();
      const finals = reader.finals.filter((f) => !f.key.startsWith(`${FLUSH_ACCOUNT}|`)).length;
      if (Date.now() - lastPrint >= (env.BENCH_PROGRESS_MS ? Number(env.BENCH_PROGRESS_MS) : 5000)) {
        lastPrint = Date.now();
        console.log(`  ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s: visits lag ${fmt(lag)}${feed && !countedAt ? `, count lag ${fmt(countLag)}` : ''}, finals ${fmt(finals)} of ${fmt(expected.size)}, load average ${loadavg()[0]!.toFixed(2)}`);
      }
      if (fedAt && consumedAt && finals >= expected.size) break;
      if (fedAt && consumedAt && Date.now() - Math.max(consumedAt, fedAt, reader.lastAt) > IDLE_END_MS) break;
      if (Date.now() - startedAt > TIMEOUT_MS) {
        note = `timed out after ${TIMEOUT_MS / 1000} s`;
        break;
      }
    }
  } finally {
    clearInterval(sampler);
    sample();
  }
  // Backlog: until the last final. Live: until every visit was counted; the wait for the last
  // window's end + grace (both systems idle) is left out.
  const endAt = feed && countedAt ? countedAt : reader.lastAt || Date.now();
  await system.stop();
  await reader.stop();
  probe.close();
  countProbe.close();
  const cpuAt = (t: number) => (samples.find((s) => s.t >= t) ?? samples.at(-1)!).cpu;
  const from = readyAt || startedAt;
  const seconds = (endAt - from) / 1000;
  const perProcess = system.pids().map((_, i) => Math.max(...samples.map((s) => s.rss[i] ?? 0)));
  const verdict = check(reader.finals, expected);
  const result: Result = {
    name: system.name,
    processes: perProcess.length,
    visitsPerSecond: VISITS / seconds,
    cpuPerVisit: ((cpuAt(endAt) - cpuAt(from)) / VISITS) * 1e6,
    cpuPerVisitWithStart: (cpuAt(endAt) / VISITS) * 1e6,
    readySeconds: (from - startedAt) / 1000,
    peakRss: Math.max(...samples.map((s) => s.rss.reduce((a, b) => a + b, 0))),
    peakRssPerProcess: perProcess,
    windows: expected.size,
    distinct: sumOf(expected),
    ...verdict,
    note,
  };
  console.log(
    `  ${system.name}: ${fmt(result.visitsPerSecond)} visits/s over ${seconds.toFixed(1)} s (clock started ${result.readySeconds.toFixed(1)} s after the process start), ` +
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
    countGroup: applicationId,
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
    countGroup: `${applicationId}-count`,
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

/**
 * One scenario: each system in turn on the dataset in a visits topic of `inputPartitions`
 * partitions — written beforehand with the dataset's event times (a backlog), or, with `rate`,
 * written live at that many visits/s while the system runs, each visit stamped with the time it
 * is sent (a topic per system).
 */
async function scenario(data: Dataset, prefix: string, inputPartitions: number, rate = 0): Promise<Result[]> {
  const admin = new TopicAdmin(settings);
  // Kafka Streams' output, like Eric's active-visitors: one partition. Its internal topics it creates itself.
  await admin.ensureTopics([{ name: `${prefix}-ks-output`, partitions: 1 }]);
  /** Writes the visits (`visit(i)`), then the flush visits; `live` says when and whom to tell. */
  const write = async (visitsTopic: string, visit: (i: number) => Buffer, flush: () => Buffer[][], live?: { closeAt: () => number; written: () => void }): Promise<number> => {
    const visitsRate = await bulkProduce(settings, visitsTopic, VISITS, (i) => ({ key: null, value: visit(i), partition: i % inputPartitions }), rate || undefined);
    if (live) {
      live.written();
      // Live, the flush visits are stamped when they are sent: once the last window's end + grace
      // has passed (Eric caps event time at a record's arrival: a visit from the future moves nothing).
      const wait = Math.max(0, live.closeAt() * 1000 - Date.now());
      console.log(`  ${fmt(VISITS)} visits written at ${fmt(visitsRate)}/s; the last window closes in ${(wait / 1000).toFixed(0)} s`);
      await sleep(wait);
    }
    const flushes = flush().slice(0, inputPartitions).flatMap((records, partition) => records.map((value) => ({ key: null, value, partition })));
    await bulkProduce(settings, visitsTopic, flushes.length, (i) => flushes[i]!);
    return visitsRate;
  };
  const plural = inputPartitions === 1 ? '' : 's';
  const backlogTopic = `${prefix}-visits`;
  if (rate) {
    console.log(`\n---- live, paced: ${fmt(VISITS)} visits written at ${fmt(rate)}/s to ${inputPartitions} input partition${plural} while each system runs`);
  } else {
    await admin.ensureTopics([visitsTopicSpec(backlogTopic, inputPartitions)]);
    const produced = await write(backlogTopic, (i) => data.visits[i]!, () => data.flush);
    console.log(`\n---- backlog on ${inputPartitions} input partition${plural}: ${fmt(VISITS)} visits written to ${backlogTopic} at ${fmt(produced)}/s`);
  }
  const results: Result[] = [];
  for (const name of SYSTEMS) {
    const visitsTopic = rate ? `${prefix}-${name}-visits` : backlogTopic;
    if (rate) await admin.ensureTopics([visitsTopicSpec(visitsTopic, inputPartitions)]);
    const system = name === 'ks' ? kafkaStreams(prefix, visitsTopic) : name === 'eric' ? eric(prefix, visitsTopic, inputPartitions) : undefined;
    if (!system) throw new Error(`BENCH_SYSTEMS: unknown system "${name}" (ks, eric)`);
    if (rate) {
      const live = liveFeed(data);
      const feed = async (written: () => void) => void (await write(visitsTopic, live.visit, live.flush, { closeAt: live.closeAt, written }));
      results.push(await measure(system, live.expected, visitsTopic, inputPartitions, feed));
    } else {
      results.push(await measure(system, data.expected, visitsTopic, inputPartitions));
    }
  }
  admin.close();
  return results;
}

function summary(label: string, results: Result[]): void {
  console.log(`\n${label}: ${fmt(VISITS)} visits, P = ${P}, exactly-once; CPU and RSS of the stream processors' processes (the broker excluded)`);
  const ks = results.find((r) => r.name === 'Kafka Streams');
  const er = results.find((r) => r.name === 'Eric');
  const rss = (r: Result | undefined) =>
    r ? `${fmt(r.peakRss / MiB)} MiB${r.processes > 1 ? ` (${r.processes} processes: ${r.peakRssPerProcess.map((b) => fmt(b / MiB)).join(' / ')})` : ''}` : '—';
  const ratio = (f: (r: Result) => number) => (ks && er ? (f(er) / f(ks)).toFixed(2) : '—');
  const cell = (r: Result | undefined, f: (r: Result) => string) => (r ? f(r) : '—');
  const exactShare = (r: Result) => `${((r.exact / r.windows) * 100).toFixed(1)} %`;
  const exact = (r: Result) => (r.exact === r.windows && r.extra === 0 && r.twice === 0 ? 'yes' : 'no');
  table(
    [label, 'Kafka Streams', 'Eric', 'Eric ÷ Kafka Streams'],
    [
      ['visits/s', cell(ks, (r) => fmt(r.visitsPerSecond)), cell(er, (r) => fmt(r.visitsPerSecond)), ratio((r) => r.visitsPerSecond)],
      ['CPU µs per visit', cell(ks, (r) => r.cpuPerVisit.toFixed(1)), cell(er, (r) => r.cpuPerVisit.toFixed(1)), ratio((r) => r.cpuPerVisit)],
      ['… with start-up', cell(ks, (r) => r.cpuPerVisitWithStart.toFixed(1)), cell(er, (r) => r.cpuPerVisitWithStart.toFixed(1)), ratio((r) => r.cpuPerVisitWithStart)],
      ['peak RSS', rss(ks), rss(er), ratio((r) => r.peakRss)],
      ['start until the clock starts', cell(ks, (r) => `${r.readySeconds.toFixed(1)} s`), cell(er, (r) => `${r.readySeconds.toFixed(1)} s`), '—'],
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
  const runs: Array<[string, Result[]]> = [];
  for (const inputPartitions of INPUT_PARTITIONS) {
    const label = `backlog on ${inputPartitions} input partition${inputPartitions === 1 ? '' : 's'}`;
    runs.push([label, await scenario(data, `${prefix}-${inputPartitions}p`, inputPartitions)]);
  }
  if (PACED_RATE > 0) runs.push([`live, paced at ${fmt(PACED_RATE)}/s on 4 input partitions`, await scenario(data, `${prefix}-paced`, 4, PACED_RATE)]);
  console.log(`\n==== summary (${new Date().toISOString()}, load average ${load()}) ====`);
  for (const [label, results] of runs) summary(label, results);
}

function sumOf(map: Map<string, number>): number {
  let total = 0;
  for (const value of map.values()) total += value;
  return total;
}

await main();
process.exit(0);
