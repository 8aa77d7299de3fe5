/**
 * `make bench-aggregator`: how fast the aggregator is on this machine, broker included.
 *
 *   1. Throughput: N visits are written to `visits` first; then P aggregator processes start and
 *      the clock runs from the first counted visit to the last. Both stages, exactly-once on.
 *   2. Restore: a changelog partition holding R ids, written as the count stage writes them (the
 *      ids of a batch in one record per window, I per record), is restored by a fresh process.
 *   3. Memory: resident memory of that process with R ids in state, minus an empty one.
 *
 * Prints figures; asserts nothing. Environment: KAFKA_BROKERS (default 127.0.0.1:9092),
 * BENCH_VISITS (default 500000), BENCH_PARTITIONS (default "1,4"), BENCH_RESTORE_IDS
 * (R, default 1000000), BENCH_IDS_PER_RECORD (I, default 1000: a batch at ~30 000 visits/s),
 * BENCH_AGGREGATOR_NODE_ARGS (the aggregators' Node.js flags, default none).
 * BENCH_PARTITIONS="" skips the throughput runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TopicAdmin, visitsTopicSpec } from '@eric/shared';
import { testKafkaSettings, uniqueName, isolatedRunEnv } from '@eric/shared/testing';
import { bulkProduce, procStats } from '@eric/shared/testing/bench';
// The compiled aggregator, as the image runs it: its entry point and its changelog record format.
import { idRecords } from '../../dist/count/changelog.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const settings = testKafkaSettings(brokers, 'eric-bench');
const entry = fileURLToPath(new URL('../../dist/start.cjs', import.meta.url));
const VISITS = Number(process.env.BENCH_VISITS ?? 500_000);
const PARTITION_COUNTS = (process.env.BENCH_PARTITIONS ?? '1,4').split(',').filter(Boolean).map(Number);
const RESTORE_IDS = Number(process.env.BENCH_RESTORE_IDS ?? 1_000_000);
const IDS_PER_RECORD = Number(process.env.BENCH_IDS_PER_RECORD ?? 1_000);
// None by default, as in production; BENCH_AGGREGATOR_NODE_ARGS sets some, e.g. another
// young-generation size ("--max-semi-space-size=64").
const AGGREGATOR_NODE_FLAGS = (process.env.BENCH_AGGREGATOR_NODE_ARGS ?? '').split(' ').filter(Boolean);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

class Aggregator {
  child!: ChildProcess;
  port = 0;
  constructor(readonly env: Record<string, string>) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.child = spawn(process.execPath, [...AGGREGATOR_NODE_FLAGS, entry], {
      env: { ...process.env, KAFKA_BROKERS: brokers, LOG_LEVEL: 'warn', ...this.env, HTTP_PORT: String(this.port), HTTP_HOST: '127.0.0.1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }

  async metrics(): Promise<Map<string, number>> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    const values = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line === '') continue;
      const at = line.lastIndexOf(' ');
      values.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return values;
  }

  async ready(): Promise<void> {
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${this.port}/ready`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
  }

  /** CPU seconds used so far (user + system), from /proc. */
  cpuSeconds(): number {
    return procStats(this.child.pid)?.cpu ?? 0;
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

function topicsEnv(prefix: string, partitions: number) {
  return {
    ...isolatedRunEnv(prefix),
    PARTITIONS: String(partitions),
    VISITS_PARTITIONS: '4',
  };
}

async function throughput(partitions: number): Promise<void> {
  const prefix = uniqueName(`bench-p${partitions}`);
  const admin = new TopicAdmin(settings);
  await admin.ensureTopics([visitsTopicSpec(`${prefix}-visits`, 4)]);
  admin.close();
  // Visits of the last two minutes, in time order, over 1 000 accounts x 5 stores.
  const now = Date.now() / 1000;
  const produceRate = await bulkProduce(settings, `${prefix}-visits`, VISITS, (i) => ({
    key: null,
    partition: i % 4,
    value: Buffer.from(
      JSON.stringify({ id: `v-${i}`, account_id: i % 1000, store_id: `store-${i % 5}`, timestamp: now - 120 + (i / VISITS) * 120 }),
    ),
  }));

  const processes = Array.from({ length: partitions }, (_, i) => new Aggregator({ ...topicsEnv(prefix, partitions), AGGREGATOR_ORDINAL: String(i) }));
  await Promise.all(processes.map((p) => p.start()));
  let firstAt = 0;
  let cpuAtFirst: number[] = [];
  let counted = 0;
  const samples: string[] = [];
  const started = Date.now();
  while (counted < VISITS) {
    await sleep(250);
    let total = 0;
    for (const p of processes) {
      try {
        const m = await p.metrics();
        total += (m.get('eric_aggregator_visits_counted_total') ?? 0) + (m.get('eric_aggregator_visits_duplicate_total') ?? 0) + (m.get('eric_aggregator_visits_dropped_total{reason="late"}') ?? 0);
      } catch {
        // still starting
      }
    }
    if (total > 0 && firstAt === 0) {
      firstAt = Date.now();
      cpuAtFirst = processes.map((p) => p.cpuSeconds());
    }
    if (firstAt > 0 && samples.length < 400) samples.push(`${((Date.now() - firstAt) / 1000).toFixed(1)}s:${total}`);
    counted = total;
    if (Date.now() - started > 600_000) throw new Error(`timed out with ${counted} of ${VISITS} counted`);
  }
  const seconds = (Date.now() - firstAt) / 1000;
  const cpu = processes.map((p, i) => p.cpuSeconds() - (cpuAtFirst[i] ?? 0));
  const rss = await Promise.all(processes.map(async (p) => ((await p.metrics()).get('process_resident_memory_bytes') ?? 0) / 2 ** 20));
  const commit = await processes[0]!.metrics();
  const commits = commit.get('eric_aggregator_transaction_commit_seconds_count') ?? 0;
  const commitAvg = commits > 0 ? (commit.get('eric_aggregator_transaction_commit_seconds_sum') ?? 0) / commits : 0;
  await Promise.all(processes.map((p) => p.stop()));
  console.log(`\nthroughput, P = ${partitions}, exactly-once, ${VISITS} visits (pre-loaded at ${Math.round(produceRate)} visits/s)`);
  console.log(`  counted end to end: ${Math.round(VISITS / seconds)} visits/s (${seconds.toFixed(1)} s from first to last counted)`);
  console.log(`  CPU per aggregator: ${cpu.map((c) => `${Math.round((c / seconds) * 100)}%`).join(', ')}; RSS: ${rss.map((r) => `${Math.round(r)} MiB`).join(', ')}`);
  console.log(`  CPU per visit, aggregators together: ${((cpu.reduce((a, b) => a + b, 0) / VISITS) * 1e6).toFixed(1)} µs`);
  console.log(`  count transactions of aggregator 0: ${commits}, mean commit ${(commitAvg * 1000).toFixed(1)} ms`);
}

async function restoreAndMemory(): Promise<void> {
  const prefix = uniqueName('bench-restore');
  const admin = new TopicAdmin(settings);
  await admin.ensureTopics([{ name: `${prefix}-changelog`, partitions: 1 }]);
  admin.close();
  // Ids in windows that are still open (now), so they all stay in memory after the restore.
  const start = Math.floor(Date.now() / 1000 / 60) * 60;
  const changelogRecords = Math.ceil(RESTORE_IDS / IDS_PER_RECORD);
  const produceRate = await bulkProduce(settings, `${prefix}-changelog`, changelogRecords, (r) => {
    const ids = Array.from({ length: Math.min(IDS_PER_RECORD, RESTORE_IDS - r * IDS_PER_RECORD) }, (_, j) => {
      const i = r * IDS_PER_RECORD + j;
      return { window: { start, account_id: i % 1000, store_id: `store-${i % 5}` }, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` };
    });
    const [record] = idRecords(start, r * IDS_PER_RECORD, ids);
    return { key: record!.key, value: record!.value, partition: 0 };
  });

  const empty = new Aggregator({ ...topicsEnv(uniqueName('bench-empty'), 1), AGGREGATOR_ORDINAL: '0', WALL_CLOCK_CLOSE: 'false' });
  await empty.start();
  await empty.ready();
  await sleep(2000);
  const emptyMetrics = await empty.metrics();
  const baseline = emptyMetrics.get('process_resident_memory_bytes') ?? 0;
  await empty.stop();

  const restoring = new Aggregator({ ...topicsEnv(prefix, 1), AGGREGATOR_ORDINAL: '0', WALL_CLOCK_CLOSE: 'false', WINDOW_SECONDS: '60' });
  await restoring.start();
  await restoring.ready();
  await sleep(2000);
  const m = await restoring.metrics();
  const seconds = m.get('eric_aggregator_restore_duration_seconds') ?? 0;
  const records = m.get('eric_aggregator_restore_records_total') ?? 0;
  const ids = m.get('eric_aggregator_state_ids') ?? 0;
  const rss = m.get('process_resident_memory_bytes') ?? 0;
  const heap = m.get('nodejs_heap_size_used_bytes') ?? 0;
  const emptyHeap = emptyMetrics.get('nodejs_heap_size_used_bytes') ?? 0;
  await restoring.stop();
  console.log(`\nrestore of a changelog partition of ${RESTORE_IDS} ids in ${changelogRecords} records (written at ${Math.round(produceRate)} records/s)`);
  console.log(`  ${records} records in ${seconds.toFixed(2)} s = ${Math.round(ids / seconds)} ids/s (${Math.round(records / seconds)} records/s); ${ids} ids in state`);
  console.log(`  resident memory: ${Math.round(rss / 2 ** 20)} MiB with ${ids} ids, ${Math.round(baseline / 2 ** 20)} MiB empty`);
  console.log(`  V8 heap used: ${Math.round(heap / 2 ** 20)} MiB with the ids, ${Math.round(emptyHeap / 2 ** 20)} MiB empty`);
  console.log(
    `  per 1 M stored ids (36-character UUIDs): ${Math.round(((heap - emptyHeap) / 2 ** 20 / ids) * 1e6)} MiB of heap, ` +
      `${Math.round(((rss - baseline) / 2 ** 20 / ids) * 1e6)} MiB of RSS (RSS keeps the restore's fetch buffers and garbage)`,
  );
}

console.log(`Eric aggregator benchmark on ${brokers}`);
for (const partitions of PARTITION_COUNTS) await throughput(partitions);
if (RESTORE_IDS > 0) await restoreAndMemory();
process.exit(0);
