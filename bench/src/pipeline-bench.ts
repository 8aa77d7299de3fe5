/**
 * `make bench`: the whole pipeline on this machine — the local broker, the producer service
 * generating synthetic visits, P = 4 aggregator processes, the gateway and a websocket client —
 * started as `make run` starts them, on topics of their own (a fresh APPLICATION_ID per run).
 *
 *   1. Steps: the producer runs at each rate of BENCH_RATES for BENCH_STEP_SECONDS, restarted per
 *      step; between steps the pipeline drains. Lag (records not yet read, from the broker: high
 *      watermark minus the committed offset of the repartition and count groups) is printed every
 *      BENCH_SAMPLE_SECONDS. A step is sustained when the producer reached 95 % of the rate and the
 *      lag does not keep growing (least-squares trend under 5 % of the rate per second) and stays
 *      under 3 s of input. The
 *      first failed step ends the search (one more step half-way between it and the last
 *      sustained one refines it).
 *   2. Hold: BENCH_HOLD_SECONDS at the highest sustained rate: visits/s, lag, the delay from a
 *      window's `end + grace` to its final frame at the websocket client (p50/p99), and CPU
 *      (% of one core, from /proc) and resident memory of every process, the broker included.
 *   3. Fault: at BENCH_FAULT_SHARE of that rate, aggregator 1 is SIGKILLed, restarted after
 *      BENCH_DOWN_SECONDS, and timed until it is ready and until the lag is back to its level
 *      before the kill; the finals' delay over that phase.
 *
 * Prints figures; asserts nothing. Environment: KAFKA_BROKERS (default 127.0.0.1:9092), BENCH_RATES
 * (default 1000,10000,20000,30000,40000,50000,60000,70000,80000), BENCH_STEP_SECONDS (24),
 * BENCH_SAMPLE_SECONDS (4), BENCH_HOLD_SECONDS (42), BENCH_FAULT_SHARE (0.7), BENCH_DOWN_SECONDS
 * (2), BENCH_WINDOW_SECONDS (5), BENCH_GRACE_SECONDS (2), BENCH_PARTITIONS (4),
 * BENCH_SKIP_FAULT (1 = no fault phase), BENCH_AGGREGATOR_NODE_ARGS and BENCH_PRODUCER_NODE_ARGS
 * (e.g. --cpu-prof: profiles land in .eric/bench-logs/), BENCH_LOG_LEVEL (warn), BENCH_AGGREGATOR_MAIN
 * (the entry point start.cjs of another build of the aggregator, to compare a change).
 * Logs of the services: .eric/bench-logs/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { testKafkaSettings, uniqueName, isolatedRunEnv } from '@eric/shared/testing';
import { GroupLag, fmt, procStats, scrapeMetrics, table } from '@eric/shared/testing/bench';
import { serviceEntry } from '@eric/shared/testing/process';

const root = fileURLToPath(new URL('../../', import.meta.url));
const env = process.env;
const brokers = env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const settings = testKafkaSettings(brokers, 'eric-bench');
const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
const RATES = (env.BENCH_RATES ?? '1000,10000,20000,30000,40000,50000,60000,70000,80000').split(',').filter(Boolean).map(Number);
const STEP_SECONDS = num('BENCH_STEP_SECONDS', 24);
const SAMPLE_SECONDS = num('BENCH_SAMPLE_SECONDS', 4);
const HOLD_SECONDS = num('BENCH_HOLD_SECONDS', 42);
const FAULT_SHARE = num('BENCH_FAULT_SHARE', 0.7);
const DOWN_SECONDS = num('BENCH_DOWN_SECONDS', 2);
const WINDOW = num('BENCH_WINDOW_SECONDS', 5);
const GRACE = num('BENCH_GRACE_SECONDS', 2);
const P = num('BENCH_PARTITIONS', 4);
const VISITS_PARTITIONS = 4;
const AGGREGATOR_NODE_FLAGS = (env.BENCH_AGGREGATOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
const PRODUCER_NODE_FLAGS = (env.BENCH_PRODUCER_NODE_ARGS ?? '').split(' ').filter(Boolean);
const LOGS = `${root}.eric/bench-logs`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Date.now();
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One service process, started like `make run` does (`node <its entry point>`, see serviceEntry). */
class Service {
  child: ChildProcess | undefined;
  port = 0;
  constructor(
    readonly name: string,
    readonly service: string,
    readonly env: Record<string, string>,
    readonly nodeFlags: string[] = [],
  ) {}

  async start(): Promise<void> {
    this.port ||= await freePort();
    const log = createWriteStream(`${LOGS}/${this.name}.log`, { flags: 'a' });
    const entry = (this.service === 'aggregator' && env.BENCH_AGGREGATOR_MAIN) || serviceEntry(this.service);
    const child = spawn(process.execPath, [...this.nodeFlags, entry], {
      cwd: LOGS, // --cpu-prof writes its profile here
      env: { ...process.env, KAFKA_BROKERS: brokers, LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'warn', ...this.env, HTTP_PORT: String(this.port), HTTP_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.child = child;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async ready(timeoutMs = 120_000): Promise<void> {
    const deadline = now() + timeoutMs;
    while (now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited; see .eric/bench-logs/${this.name}.log`);
      try {
        if ((await fetch(`http://127.0.0.1:${this.port}/ready`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms`);
  }

  /** Per metric name, the sum of its samples (all label sets); undefined if the process is down. */
  metrics(names: string[]): Promise<number[] | undefined> {
    return scrapeMetrics(this.port, names);
  }

  stats() {
    return this.running ? procStats(this.child?.pid) : undefined;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((resolve) => this.child!.once('close', resolve));
    this.child!.kill(signal);
    await exited;
  }
}

/** Records not yet read by each stage, from the broker: high watermark − committed offset. */
class LagProbe {
  readonly #repartition: GroupLag;
  readonly #count: GroupLag;
  constructor(readonly prefix: string) {
    this.#repartition = new GroupLag(settings, `${prefix}-repartition`);
    this.#count = new GroupLag(settings, `${prefix}-count`);
  }
  async connect(): Promise<void> {
    await Promise.all([this.#repartition.connect(), this.#count.connect()]);
  }
  /** Lag of the repartition stage (per `visits` partition) and of the count stage (per aggregator). */
  async sample(): Promise<{ repartition: number[]; count: number[] }> {
    const [repartition, count] = await Promise.all([
      this.#repartition.lag(`${this.prefix}-visits`, VISITS_PARTITIONS),
      this.#count.lag(`${this.prefix}-repartition`, P),
    ]);
    return { repartition, count };
  }
  close(): void {
    this.#repartition.close();
    this.#count.close();
  }
}

/** A dashboard: records when each window's final frame arrives, against its `end + grace`. */
class Watcher {
  readonly finals: Array<{ closeAt: number; delayMs: number }> = [];
  readonly #seen = new Set<string>();
  #socket: WebSocket | undefined;
  #connectedAt = 0;
  constructor(readonly port: number) {}
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${this.port}/ws`, { perMessageDeflate: false });
      socket.on('open', () => {
        this.#connectedAt = now();
        resolve();
      });
      socket.on('error', reject);
      socket.on('message', (data) => {
        const at = now();
        const frame = JSON.parse(String(data)) as { account_id: number; store_id: string | null; ts_from: number; ts_to: number; final?: boolean };
        if (!frame.final) return;
        const closeAt = (frame.ts_to + GRACE) * 1000;
        const key = `${frame.account_id}:${frame.store_id}:${frame.ts_from}`;
        if (closeAt < this.#connectedAt || this.#seen.has(key)) return;
        this.#seen.add(key);
        this.finals.push({ closeAt, delayMs: at - closeAt });
      });
      this.#socket = socket;
    });
  }
  /** Delays of the finals of windows whose `end + grace` lies in [from, to). */
  between(from: number, to: number): number[] {
    return this.finals.filter((f) => f.closeAt >= from && f.closeAt < to).map((f) => f.delayMs);
  }
  close(): void {
    this.#socket?.close();
  }
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
const ms = (v: number) => (Number.isNaN(v) ? '—' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------

const prefix = uniqueName('bench-pipeline');
mkdirSync(LOGS, { recursive: true });
const common = {
  ...isolatedRunEnv(prefix),
  PARTITIONS: String(P),
  VISITS_PARTITIONS: String(VISITS_PARTITIONS),
  WINDOW_SECONDS: String(WINDOW),
  GRACE_SECONDS: String(GRACE),
};
// 50 accounts x (3 stores + null): 200 keys, so 200 finals per window over the 4 partitions.
const ACCOUNTS = Array.from({ length: 50 }, (_, i) => 1000 + i).join(',');
const aggregators = Array.from(
  { length: P },
  (_, i) => new Service(`${prefix}-aggregator-${i}`, 'aggregator', { ...common, AGGREGATOR_ORDINAL: String(i) }, AGGREGATOR_NODE_FLAGS),
);
const gateway = new Service(`${prefix}-gateway`, 'gateway', common);
let producer: Service | undefined;
const kafkaPidFile = `${env.KAFKA_HOME_DIR ?? `${root}.eric/kafka-${env.KAFKA_PORT ?? '9092'}`}/kafka.pid`;
const brokerPid = !env.KAFKA_BROKERS || env.KAFKA_BROKERS === '127.0.0.1:9092' ? (existsSync(kafkaPidFile) ? Number(readFileSync(kafkaPidFile, 'utf8')) : undefined) : undefined;

async function startProducer(rate: number): Promise<Service> {
  const service = new Service(
    `${prefix}-producer-${rate}`,
    'producer',
    { ...common, PRODUCER_RATE: String(rate), PRODUCER_ACCOUNT_IDS: ACCOUNTS, PRODUCER_STORE_IDS: 'web,app,shop' },
    PRODUCER_NODE_FLAGS,
  );
  await service.start();
  await service.ready();
  return service;
}

const COUNTED = ['eric_aggregator_visits_counted_total', 'eric_aggregator_visits_duplicate_total', 'eric_aggregator_visits_dropped_total'];
const countedLast = new Map<number, number>();
const countedBase = new Map<number, number>();
/**
 * Visits the count stages have dealt with (counted, duplicates, dropped), all aggregators, as a
 * counter that survives a restart: a process that is down keeps its last value, and a restarted
 * one (its counters back at 0) adds to it.
 */
async function counted(): Promise<number> {
  const values = await Promise.all(aggregators.map((a) => a.metrics(COUNTED)));
  return sum(
    values.map((v, i) => {
      const last = countedLast.get(i) ?? 0;
      if (v === undefined) return (countedBase.get(i) ?? 0) + last;
      const value = sum(v);
      if (value < last) countedBase.set(i, (countedBase.get(i) ?? 0) + last);
      countedLast.set(i, value);
      return (countedBase.get(i) ?? 0) + value;
    }),
  );
}

/** CPU and RSS of every process over an interval: call once at the start, then `.end()`. */
function cpuMeter() {
  const processes = (): Array<{ name: string; pid: number | undefined; stats: () => { cpu: number; rss: number } | undefined }> => [
    ...(brokerPid ? [{ name: 'broker (JVM)', pid: brokerPid, stats: () => procStats(brokerPid) }] : []),
    ...(producer ? [{ name: 'producer', pid: producer.child?.pid, stats: () => producer!.stats() }] : []),
    ...aggregators.map((a, i) => ({ name: `aggregator-${i}`, pid: a.child?.pid, stats: () => a.stats() })),
    { name: 'gateway', pid: gateway.child?.pid, stats: () => gateway.stats() },
    { name: 'bench (ws client, probes)', pid: process.pid, stats: () => procStats(process.pid) },
  ];
  const started = now();
  const first = new Map(processes().map((p) => [`${p.name}:${p.pid}`, p.stats()?.cpu ?? 0]));
  return {
    end(): Array<{ name: string; cpu: number; rss: number }> {
      const seconds = (now() - started) / 1000;
      return processes().map((p) => {
        const s = p.stats();
        return { name: p.name, cpu: s ? ((s.cpu - (first.get(`${p.name}:${p.pid}`) ?? 0)) / seconds) * 100 : NaN, rss: s ? s.rss / 2 ** 20 : NaN };
      });
    },
  };
}

interface Sample {
  t: number;
  produced: number;
  counted: number;
  lag: { repartition: number[]; count: number[] };
}

/**
 * Samples every `everyMs` for `seconds` (or until `onSample` returns true), printing a row of the
 * lag table every BENCH_SAMPLE_SECONDS.
 */
async function run(probe: LagProbe, seconds: number, everyMs: number, onSample?: (s: Sample) => boolean | Promise<boolean>): Promise<Sample[]> {
  const samples: Sample[] = [];
  const started = now();
  let previous: Sample | undefined;
  let nextPrint = 0;
  table(['t (s)', 'produced/s', 'counted/s', 'lag repartition (per visits partition)', 'lag count (per aggregator)', 'load avg'], []);
  while (now() - started < seconds * 1000) {
    const [produced, count, lag] = await Promise.all([producer ? producer.metrics(['eric_producer_visits_produced_total']).then((v) => v?.[0] ?? 0) : 0, counted(), probe.sample().catch(() => ({ repartition: [], count: [] }))]);
    const sample: Sample = { t: now(), produced, counted: count, lag };
    samples.push(sample);
    const stop = (await onSample?.(sample)) ?? false;
    if (previous && sample.t - started >= nextPrint) {
      const from = samples.find((s) => s !== sample && s.t >= sample.t - SAMPLE_SECONDS * 1000 - 50) ?? previous;
      const dt = (sample.t - from.t) / 1000 || 1;
      console.log(
        `  | ${((sample.t - started) / 1000).toFixed(1).padStart(5)} | ${fmt((produced - from.produced) / dt).padStart(10)} | ${fmt((count - from.counted) / dt).padStart(9)} | ${lag.repartition.map(fmt).join(' / ').padStart(39)} | ${lag.count.map(fmt).join(' / ').padStart(26)} | ${loadavg()[0]!.toFixed(2).padStart(8)} |`,
      );
      nextPrint = sample.t - started + SAMPLE_SECONDS * 1000 - everyMs / 2;
    }
    previous = sample;
    if (stop) break;
    await sleep(Math.max(0, everyMs - (now() - sample.t)));
  }
  return samples;
}

const totalLag = (s: Sample) => sum(s.lag.repartition) + sum(s.lag.count);

async function drain(probe: LagProbe, timeoutMs = 60_000): Promise<void> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    const lag = await probe.sample();
    if (sum(lag.repartition) + sum(lag.count) === 0) break;
    await sleep(500);
  }
  await sleep((GRACE + 1) * 1000); // the last finals of the step
}

interface StepResult {
  rate: number;
  produced: number;
  counted: number;
  lagEnd: number;
  slope: number;
  finals: number[];
  sustained: boolean;
}

async function step(probe: LagProbe, watcher: Watcher, rate: number): Promise<StepResult> {
  console.log(`\nstep: ${fmt(rate)} visits/s for ${STEP_SECONDS} s (load average ${load()})`);
  producer = await startProducer(rate);
  const started = now();
  const samples = await run(probe, STEP_SECONDS, 1000);
  await producer.stop();
  // Rates over the steady part: from 4 s in (the producer's own start-up) to the end.
  const steady = samples.filter((s) => s.t - started >= 4000);
  const first = steady[0]!;
  const last = steady.at(-1)!;
  const seconds = (last.t - first.t) / 1000;
  const produced = (last.produced - first.produced) / seconds;
  const countedRate = (last.counted - first.counted) / seconds;
  // Least-squares slope of the total lag (records/s) over the steady part.
  const xs = steady.map((s) => (s.t - first.t) / 1000);
  const ys = steady.map(totalLag);
  const mx = sum(xs) / xs.length;
  const my = sum(ys) / ys.length;
  const slope = sum(xs.map((x, i) => (x - mx) * (ys[i]! - my))) / (sum(xs.map((x) => (x - mx) ** 2)) || 1);
  const lagEnd = totalLag(last);
  // Sustained: the producer kept the rate, and the lag does not keep growing (its trend is under 5 %
  // of the input per second) and stays under 3 s of input.
  const sustained = produced >= 0.95 * rate && slope <= Math.max(0.05 * rate, 500) && lagEnd <= 3 * rate + 5000;
  await drain(probe);
  const finals = watcher.between(started + 4000, last.t);
  return { rate, produced, counted: countedRate, lagEnd, slope, finals, sustained };
}

async function main(): Promise<void> {
  console.log(`Eric whole-pipeline benchmark on ${brokers}: P = ${P} aggregators, window ${WINDOW} s, grace ${GRACE} s, topics ${prefix}-*`);
  console.log(`machine: ${cpus().length} cores, load average ${load()} at start; logs in .eric/bench-logs/`);
  await Promise.all(aggregators.map((a) => a.start()));
  await Promise.all(aggregators.map((a) => a.ready()));
  await gateway.start();
  await gateway.ready();
  const probe = new LagProbe(prefix);
  await probe.connect();
  const watcher = new Watcher(gateway.port);
  await watcher.connect();
  console.log('pipeline ready: 4 aggregators, gateway, websocket client connected');

  // 1. Steps up to the highest sustained rate.
  const results: StepResult[] = [];
  const queue = [...RATES];
  let refined = false;
  while (queue.length > 0) {
    const rate = queue.shift()!;
    const result = await step(probe, watcher, rate);
    results.push(result);
    if (!result.sustained) {
      const best = results.filter((r) => r.sustained).at(-1);
      if (!refined && best && rate - best.rate > 5000) {
        refined = true;
        queue.splice(0, queue.length, Math.round((best.rate + rate) / 2 / 1000) * 1000);
      } else break;
    }
  }
  console.log(`\nsteps (rates over the steady part of each step, 4 s after the producer started; lag = both stages, records)`);
  table(
    ['target visits/s', 'produced/s', 'counted/s', 'lag at end', 'lag growth/s', 'finals', 'final p50', 'final p99', 'sustained'],
    results.map((r) => [fmt(r.rate), fmt(r.produced), fmt(r.counted), fmt(r.lagEnd), fmt(r.slope), r.finals.length, ms(percentile(r.finals, 0.5)), ms(percentile(r.finals, 0.99)), r.sustained ? 'yes' : 'no']),
  );
  const best = results.filter((r) => r.sustained).sort((a, b) => b.rate - a.rate)[0];
  if (!best) {
    console.log('no rate was sustained');
    return;
  }

  // 2. Hold at the highest sustained rate: throughput, latency, CPU and memory.
  console.log(`\nhold: ${fmt(best.rate)} visits/s for ${HOLD_SECONDS} s (load average ${load()})`);
  producer = await startProducer(best.rate);
  await sleep(3000);
  const holdStart = now();
  const meter = cpuMeter();
  const samples = await run(probe, HOLD_SECONDS, 1000);
  const usage = meter.end();
  const holdEnd = now();
  const loadHold = load();
  await producer.stop();
  const seconds = (samples.at(-1)!.t - samples[0]!.t) / 1000;
  const produced = (samples.at(-1)!.produced - samples[0]!.produced) / seconds;
  const countedRate = (samples.at(-1)!.counted - samples[0]!.counted) / seconds;
  await drain(probe);
  const holdFinals = watcher.between(holdStart + 1000, holdEnd);
  producer = undefined;

  // 3. Fault: SIGKILL of one aggregator, restarted.
  let fault: string[] = [];
  if (env.BENCH_SKIP_FAULT !== '1') fault = await faultPhase(probe, watcher, Math.round((best.rate * FAULT_SHARE) / 1000) * 1000);

  console.log(`\n==== summary (${new Date().toISOString()}) ====`);
  console.log(`highest sustained rate: ${fmt(best.rate)} visits/s offered; held for ${HOLD_SECONDS} s: ${fmt(produced)} visits/s produced, ${fmt(countedRate)} visits/s counted (load average ${loadHold})`);
  console.log(`final frames at the websocket client after end + grace (${holdFinals.length} finals of 200 keys × windows): p50 ${ms(percentile(holdFinals, 0.5))}, p99 ${ms(percentile(holdFinals, 0.99))}, max ${ms(Math.max(...holdFinals))}`);
  console.log(`CPU (% of one core) and resident memory during the hold:`);
  const perVisit = (cpu: number) => (Number.isNaN(cpu) ? '—' : `${((cpu / 100 / countedRate) * 1e6).toFixed(1)} µs`);
  table(
    ['process', 'CPU', 'CPU per visit', 'RSS'],
    usage.map((u) => [u.name, Number.isNaN(u.cpu) ? '—' : `${Math.round(u.cpu)} %`, perVisit(u.cpu), Number.isNaN(u.rss) ? '—' : `${Math.round(u.rss)} MiB`]),
  );
  const aggregatorCpu = sum(usage.filter((u) => u.name.startsWith('aggregator')).map((u) => u.cpu || 0));
  const pipelineCpu = sum(usage.filter((u) => !u.name.startsWith('bench')).map((u) => u.cpu || 0));
  console.log(`  all aggregators: ${Math.round(aggregatorCpu)} % (${perVisit(aggregatorCpu)} per visit); whole pipeline: ${Math.round(pipelineCpu)} % of one core, ${perVisit(pipelineCpu)} of CPU per visit`);
  console.log(`  at that cost the ${cpus().length} cores of this machine, if the pipeline had them to itself, would carry about ${fmt((cpus().length * 1e6) / ((pipelineCpu / 100 / countedRate) * 1e6))} visits/s`);
  for (const line of fault) console.log(line);
  console.log('targets: ≥ 50 000 visits/s sustained; finals p99 ≤ 1.5 s after end + grace; recovery ≤ 10 s');
  probe.close();
  watcher.close();
}

async function faultPhase(probe: LagProbe, watcher: Watcher, rate: number): Promise<string[]> {
  const victim = aggregators[1]!;
  const WARM = 14;
  const AFTER = 20;
  console.log(`\nfault: ${fmt(rate)} visits/s; aggregator-1 SIGKILLed at ${WARM} s, restarted ${DOWN_SECONDS} s later (load average ${load()})`);
  // Per aggregator; the victim's counter starts again at 0 in its new process.
  const late = async () => Promise.all(aggregators.map(async (a) => (await a.metrics(['eric_aggregator_visits_dropped_total{reason="late"}']))?.[0] ?? 0));
  const lateBefore = await late();
  producer = await startProducer(rate);
  await sleep(2000);
  const started = now();
  let killedAt = 0;
  let restartedAt = 0;
  let readyAt = 0;
  let recoveredAt = 0;
  let ownRecoveredAt = 0;
  const preTotal: number[] = [];
  const preOwn: number[] = [];
  let preLevel = 0;
  let preOwnLevel = 0;
  let restarting: Promise<void> | undefined;
  await run(probe, WARM + DOWN_SECONDS + 60 + AFTER, 500, async (s) => {
    const t = s.t - started;
    if (!killedAt) {
      if (t > 4000) {
        preTotal.push(totalLag(s));
        preOwn.push(s.lag.count[1] ?? 0);
      }
      if (t >= WARM * 1000) {
        // "Back to normal" = the median lag before the kill (sampled lag is never exactly 0 under load).
        preLevel = percentile(preTotal, 0.5);
        preOwnLevel = percentile(preOwn, 0.5);
        await victim.stop('SIGKILL');
        killedAt = now();
        console.log(`  -- aggregator-1 SIGKILLed (median lag before the kill: ${fmt(preLevel)} records in total, ${fmt(preOwnLevel)} on its count partition)`);
        restarting = sleep(DOWN_SECONDS * 1000).then(async () => {
          await victim.start();
          restartedAt = now();
          console.log(`  -- aggregator-1 restarted`);
          await victim.ready();
          readyAt = now();
          console.log(`  -- aggregator-1 ready ${((readyAt - restartedAt) / 1000).toFixed(2)} s after its restart`);
        });
      }
      return false;
    }
    if (restartedAt && !ownRecoveredAt && (s.lag.count[1] ?? Infinity) <= preOwnLevel && readyAt) ownRecoveredAt = s.t;
    if (restartedAt && !recoveredAt && totalLag(s) <= preLevel && readyAt) {
      recoveredAt = s.t;
      console.log(`  -- lag back to its level before the kill ${((recoveredAt - restartedAt) / 1000).toFixed(2)} s after the restart`);
    }
    return recoveredAt > 0 && s.t - recoveredAt > AFTER * 1000;
  });
  await restarting;
  const ended = now();
  const [restored, restoreSeconds] = (await victim.metrics(['eric_aggregator_restore_records_total', 'eric_aggregator_restore_duration_seconds'])) ?? [0, 0];
  const producedTotal = (await producer.metrics(['eric_producer_visits_produced_total']))?.[0] ?? 0;
  await producer.stop();
  await drain(probe);
  producer = undefined;
  const lateDuring = sum((await late()).map((value, i) => value - (aggregators[i] === victim ? 0 : lateBefore[i]!)));
  const finals = watcher.between(started + 1000, ended);
  const after = watcher.between(killedAt, ended);
  const sec = (a: number, b: number) => (a && b ? `${((a - b) / 1000).toFixed(2)} s` : 'never');
  return [
    `fault: ${fmt(rate)} visits/s (${Math.round(FAULT_SHARE * 100)} % of the sustained rate); aggregator-1 SIGKILLed, restarted ${DOWN_SECONDS} s later`,
    `  ready (restore done, /ready 200): ${sec(readyAt, restartedAt)} after the restart; it restored ${fmt(restored!)} changelog records in ${restoreSeconds!.toFixed(2)} s`,
    `  its count partition's lag back to its level before the kill (median before the kill, ≤ ${fmt(preOwnLevel)}): ${sec(ownRecoveredAt, restartedAt)} after the restart, ${sec(ownRecoveredAt, killedAt)} after the kill`,
    `  whole pipeline's lag back to its level before the kill (median before the kill, ≤ ${fmt(preLevel)}): ${sec(recoveredAt, restartedAt)} after the restart, ${sec(recoveredAt, killedAt)} after the kill`,
    `  visits dropped as late (their window had closed on stream time while they waited upstream): ${fmt(lateDuring)} of ${fmt(producedTotal)} produced in the fault run`,
    `  finals after end + grace over the fault run (${finals.length}): p50 ${ms(percentile(finals, 0.5))}, p99 ${ms(percentile(finals, 0.99))}, max ${ms(Math.max(...finals))}; windows closing after the kill (${after.length}): p50 ${ms(percentile(after, 0.5))}, max ${ms(Math.max(...after))}`,
  ];
}

try {
  await main();
} finally {
  await producer?.stop();
  await Promise.all([gateway, ...aggregators].map((s) => s.stop()));
}
process.exit(0);
