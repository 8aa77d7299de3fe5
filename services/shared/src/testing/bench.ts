/**
 * What the benchmarks share (`make bench`, `make bench-aggregator`, `make bench-compare`): CPU and
 * memory of processes from /proc, bulk loading of a topic, a consumer group's lag read from the
 * broker, and the tables they print.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { KafkaConsumer, Producer, call, connect, disconnect, flush } from '../kafka/rdkafka.js';
import { rdkafkaConnectionConfig, type KafkaSettings } from '../kafka/settings.js';

const CLOCK_TICKS = 100; // USER_HZ on Linux
const PAGE_BYTES = 4096;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds (user + system) and resident bytes of a process, from /proc; undefined once gone. */
export function procStats(pid: number | undefined): { cpu: number; rss: number } | undefined {
  if (!pid) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const rssPages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return { cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, rss: rssPages * PAGE_BYTES };
  } catch {
    return undefined;
  }
}

/** Child process ids by parent id, of every process that runs now (from /proc). */
function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/**
 * CPU seconds and resident bytes of each process with all its descendants (a JVM, a shell and
 * what it started), one /proc scan for all of them; undefined for a process that is gone.
 */
export function treeStats(pids: Array<number | undefined>): Array<{ cpu: number; rss: number } | undefined> {
  const children = childrenByParent();
  return pids.map((pid) => {
    const root = procStats(pid);
    if (!root || !pid) return undefined;
    const tree = [pid];
    for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
    return tree.slice(1).reduce((total, child) => {
      const s = procStats(child);
      return s ? { cpu: total.cpu + s.cpu, rss: total.rss + s.rss } : total;
    }, root);
  });
}

export interface BulkRecord {
  key: string | null;
  value: Buffer;
  partition: number | null;
}

/**
 * Writes records as fast as the producer allows, or at `ratePerSecond` (idempotent, acks=all, lz4);
 * returns the records/s it reached.
 */
export async function bulkProduce(settings: KafkaSettings, topic: string, count: number, make: (i: number) => BulkRecord, ratePerSecond?: number): Promise<number> {
  const producer = new Producer({
    ...rdkafkaConnectionConfig(settings),
    'enable.idempotence': true,
    'linger.ms': 20,
    'batch.num.messages': 10_000,
    'queue.buffering.max.messages': 2_000_000,
    'queue.buffering.max.kbytes': 1_048_576,
    'compression.type': 'lz4',
    dr_cb: false,
  });
  producer.setPollInterval(50);
  await connect(producer);
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    if (ratePerSecond && i % 100 === 0) {
      const ahead = started + (i / ratePerSecond) * 1000 - Date.now();
      if (ahead > 0) await sleep(ahead);
    }
    const record = make(i);
    for (;;) {
      try {
        producer.produce(topic, record.partition, record.value, record.key);
        break;
      } catch {
        await sleep(5); // local queue full: let librdkafka drain it
      }
    }
  }
  await flush(producer, 120_000);
  await disconnect(producer);
  return count / ((Date.now() - started) / 1000);
}

/**
 * A consumer group's progress, from the broker: committed offsets and lag (high watermark −
 * committed offset) per partition. It asks through a consumer of that group that never joins it
 * (librdkafka's `committed()`): the Admin API's `listConsumerGroupOffsets` can crash the process
 * when the broker restarts mid-call.
 */
export class GroupLag {
  readonly #consumer: KafkaConsumer;
  constructor(settings: KafkaSettings, readonly group: string) {
    // read_uncommitted: a read_committed consumer asks for stable offsets, and the broker makes
    // it wait while a transaction holds uncommitted offsets of the group (a 5 s stall).
    const config = { ...rdkafkaConnectionConfig(settings), 'group.id': group, 'client.id': 'eric-bench-lag', 'isolation.level': 'read_uncommitted' as const };
    this.#consumer = new KafkaConsumer(config, {});
  }
  connect(): Promise<void> {
    return connect(this.#consumer);
  }
  /** Per partition: the committed offset (-1 if none) and the lag. */
  async offsets(topic: string, partitions: number): Promise<Array<{ committed: number; lag: number }>> {
    const consumer = this.#consumer;
    const ids = Array.from({ length: partitions }, (_, i) => i);
    const [committed, watermarks] = await Promise.all([
      call<Array<{ partition: number; offset?: number }>>('committed', 5_000, (done) => consumer.committed(ids.map((partition) => ({ topic, partition })), 5_000, done)),
      Promise.all(ids.map((p) => call<{ lowOffset: number; highOffset: number }>('queryWatermarkOffsets', 5_000, (done) => consumer.queryWatermarkOffsets(topic, p, 5_000, done)))),
    ]);
    return ids.map((p) => {
      const offset = committed.find((entry) => entry.partition === p)?.offset ?? -1;
      const { lowOffset, highOffset } = watermarks[p]!;
      return { committed: offset, lag: Math.max(0, highOffset - (offset >= 0 ? offset : lowOffset)) };
    });
  }
  /** Records written to a topic so far (the sum of its partitions' high watermarks); throws if it does not exist. */
  async written(topic: string, partitions: number): Promise<number> {
    const consumer = this.#consumer;
    // Asking for the topic's metadata first: librdkafka would otherwise keep answering "unknown
    // partition" from its cache for minutes after the topic was created.
    await call<unknown>('getMetadata', 5_000, (done) => consumer.getMetadata({ topic, timeout: 5_000 }, done));
    const marks = await Promise.all(
      Array.from({ length: partitions }, (_, p) => call<{ highOffset: number }>('queryWatermarkOffsets', 5_000, (done) => consumer.queryWatermarkOffsets(topic, p, 5_000, done))),
    );
    return marks.reduce((total, m) => total + m.highOffset, 0);
  }
  /** Records not yet read, per partition. */
  async lag(topic: string, partitions: number): Promise<number[]> {
    return (await this.offsets(topic, partitions)).map((p) => p.lag);
  }
  close(): void {
    this.#consumer.disconnect();
  }
}

/**
 * Per metric name, the sum of its samples over every label set, from a service's /metrics on this
 * port (0 for a name it does not have); undefined when the service does not answer (killed,
 * restarting). A name may carry labels to pick one sample, e.g. `x_total{reason="late"}`.
 */
export async function scrapeMetrics(port: number, names: string[]): Promise<number[] | undefined> {
  const sums = names.map(() => 0);
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const line of text.split('\n')) {
      names.forEach((name, i) => {
        if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sums[i]! += Number(line.slice(line.lastIndexOf(' ') + 1));
      });
    }
  } catch {
    return undefined;
  }
  return sums;
}

/** 1234567 → "1 234 567". */
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US').replace(/,/g, ' ');

/** Prints a Markdown table: the first column left-aligned, the others right-aligned. */
export function table(headers: string[], rows: Array<Array<string | number>>): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `  | ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(headers));
  console.log(`  |${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of cells.slice(1)) console.log(line(r));
}
