#!/usr/bin/env node
/**
 * Websocket fan-out benchmark of the gateway (`make bench-gateway`).
 *
 * Starts the built gateway (services/gateway/dist/main.js) as its own process on a fresh topic,
 * opens N websocket clients on loopback, writes window results to active-visitors at a fixed
 * rate and measures, for every frame, the time from just before the record was handed to the
 * Kafka producer to the frame's arrival at the client. Reports p50/p99 over all deliveries and
 * over "every interested client has it" per record, the gateway's own share (its fan-out
 * histogram: record consumed → frames written, as a bucket bound), and the gateway's CPU and
 * memory (from its own /metrics, so the figures are the process's, not the machine's).
 *
 * Environment:
 *   KAFKA_BROKERS   broker to use (default 127.0.0.1:9092)
 *   BENCH_CLIENTS   comma-separated client counts, one run each (default 1000,10000)
 *   BENCH_RATE      records per second (default 100)
 *   BENCH_SECONDS   measured seconds per run, after a 2 s warm-up (default 15)
 *   BENCH_ACCOUNTS  0 = broadcast: every client watches everything and gets every record;
 *                   A > 0 = each client filters on one of A accounts and records cycle through
 *                   them, so each record reaches N / A clients (default 0)
 *   BENCH_PORT      gateway HTTP port (default 16066)
 *   BENCH_GATEWAY_NODE_ARGS  extra node arguments for the gateway process, e.g. "--cpu-prof"
 *
 * It needs a file-descriptor limit above N (the Makefile target raises it to the hard limit).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { kafka, rdkafkaConnectionConfig } from '@eric/shared';
import { testKafkaSettings, uniqueName } from '@eric/shared/testing';

const env = process.env;
const brokers = env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const clientCounts = (env.BENCH_CLIENTS ?? '1000,10000').split(',').map(Number);
const rate = Number(env.BENCH_RATE ?? 100);
const seconds = Number(env.BENCH_SECONDS ?? 15);
const accounts = Number(env.BENCH_ACCOUNTS ?? 0);
const port = Number(env.BENCH_PORT ?? 16066);
const WARMUP_SECONDS = 2;
const gatewayMain = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const settings = testKafkaSettings(brokers, 'eric-bench');

/** Busy and total jiffies of the whole machine (Linux), to see whether the cores were saturated. */
function machineCpu() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + fields[4];
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function scrape(url) {
  const text = await (await fetch(url)).text();
  const value = (name) => Number(text.split('\n').find((line) => line.startsWith(`${name} `))?.split(' ')[1] ?? NaN);
  // Cumulative buckets of the gateway's own fan-out histogram (record consumed → frames written).
  const buckets = text
    .split('\n')
    .filter((line) => line.startsWith('eric_gateway_fanout_latency_seconds_bucket'))
    .map((line) => ({ le: Number(/le="([^"]+)"/.exec(line)?.[1] ?? 'NaN'), count: Number(line.split(' ').pop()) }));
  return { cpuSeconds: value('process_cpu_seconds_total'), rssBytes: value('process_resident_memory_bytes'), heapBytes: value('nodejs_heap_size_used_bytes'), buckets };
}

/** The bucket bound under which `p` % of the observations between two scrapes fall. */
function histogramQuantile(before, after, p) {
  const counts = after.buckets.map((bucket, i) => ({ le: bucket.le, count: bucket.count - (before.buckets[i]?.count ?? 0) }));
  const total = counts.at(-1)?.count ?? 0;
  if (total === 0) return NaN;
  return (counts.find((bucket) => bucket.count >= (p / 100) * total)?.le ?? Infinity) * 1000;
}

async function startGateway(topic) {
  const nodeArgs = (env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const child = spawn(process.execPath, [...nodeArgs, gatewayMain], {
    env: { ...env, KAFKA_BROKERS: brokers, TOPIC_ACTIVE_VISITORS: topic, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), LOG_LEVEL: 'warn', GATEWAY_HISTORY_SECONDS: '600' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the gateway did not become ready within 60 s');
    await sleep(100);
  }
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Opens `n` clients, `parallel` handshakes at a time; each records the arrival time of every count. */
async function openClients(n, onFrame) {
  const sockets = [];
  const parallel = 200;
  for (let i = 0; i < n; i += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, n - i) }, (_, j) => {
        const index = i + j;
        const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
        sockets.push(socket);
        socket.on('message', (data) => onFrame(data));
        return new Promise((resolve, reject) => {
          socket.once('open', () => {
            if (accounts > 0) socket.send(JSON.stringify({ type: 'setFilter', filter: { account: index % accounts } }));
            resolve();
          });
          socket.once('error', reject);
        });
      }),
    );
  }
  return sockets;
}

async function run(n) {
  const topic = uniqueName('bench-active-visitors');
  const gateway = await startGateway(topic);
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  /** count (unique per record) → { sentAt, expected, received, lastAt } */
  const records = new Map();
  const deliveries = [];
  let measuring = false;
  let unexpected = 0;

  const onFrame = (data) => {
    const now = performance.now();
    // The count is unique per record: it identifies the record without parsing the whole frame.
    const match = /"count":(\d+)/.exec(data.toString());
    const record = match && records.get(Number(match[1]));
    if (!record) {
      unexpected += 1;
      return;
    }
    record.received += 1;
    record.lastAt = now;
    if (record.measured) deliveries.push(now - record.sentAt);
  };

  const sockets = await openClients(n, onFrame);
  await sleep(1000); // let the filters settle
  const producer = new kafka.Producer({ ...rdkafkaConnectionConfig(settings), 'linger.ms': 0, 'socket.nagle.disable': true });
  producer.setPollInterval(100);
  await kafka.connect(producer);

  const windowStart = Math.floor(Date.now() / 60_000) * 60;
  const total = Math.round(rate * (WARMUP_SECONDS + seconds));
  const perAccount = accounts > 0 ? n / accounts : n;
  const startedAt = performance.now();
  let before;
  let clientCpuBefore;
  let machineBefore;
  for (let i = 0; i < total; i += 1) {
    const due = startedAt + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (i === rate * WARMUP_SECONDS) {
      measuring = true;
      before = await scrape(metricsUrl);
      clientCpuBefore = process.cpuUsage();
      machineBefore = machineCpu();
    }
    const count = i + 1;
    const account = accounts > 0 ? i % accounts : 0;
    const expected = accounts > 0 ? Math.floor(n / accounts) + (account < n % accounts ? 1 : 0) : n;
    const value = JSON.stringify({ account_id: account, store_id: 'bench', window: [windowStart, windowStart + 60], count, final: false, partition: 0, emitted_at: Date.now() / 1000 });
    records.set(count, { sentAt: performance.now(), expected, received: 0, lastAt: 0, measured: measuring });
    producer.produce(topic, 0, Buffer.from(value), null, Date.now());
  }
  const elapsed = (performance.now() - startedAt) / 1000;
  await sleep(2000); // stragglers
  const after = await scrape(metricsUrl);
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const machineAfter = machineCpu();
  const machineBusy = machineBefore && machineAfter ? (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total) : NaN;
  const measuredSeconds = seconds + 2;

  const measured = [...records.values()].filter((r) => r.measured);
  const complete = measured.filter((r) => r.received === r.expected).map((r) => r.lastAt - r.sentAt).sort((a, b) => a - b);
  deliveries.sort((a, b) => a - b);
  const expectedDeliveries = measured.reduce((sum, r) => sum + r.expected, 0);

  await kafka.disconnect(producer);
  for (const socket of sockets) socket.terminate();
  await gateway.stop();

  return {
    clients: n,
    fanout: Math.round(perAccount),
    rate,
    achievedRate: Math.round(total / elapsed),
    frames: deliveries.length,
    missing: expectedDeliveries - deliveries.length,
    unexpected,
    p50: percentile(deliveries, 50),
    p99: percentile(deliveries, 99),
    max: deliveries.at(-1),
    allP50: percentile(complete, 50),
    allP99: percentile(complete, 99),
    gatewayCpu: (after.cpuSeconds - before.cpuSeconds) / measuredSeconds,
    fanoutP99: histogramQuantile(before, after, 99),
    gatewayRssMiB: after.rssBytes / 2 ** 20,
    gatewayHeapMiB: after.heapBytes / 2 ** 20,
    clientCpu: (clientCpu.user + clientCpu.system) / 1e6 / measuredSeconds,
    machineBusy,
    latencyBySecond: env.BENCH_DEBUG
      ? measured.reduce((acc, r, i) => {
          const second = Math.floor(i / rate);
          (acc[second] ??= []).push(r.lastAt - r.sentAt);
          return acc;
        }, []).map((values) => Math.round(values.sort((a, b) => a - b)[Math.floor(values.length / 2)]))
      : undefined,
  };
}

const ms = (v) => (v === Infinity ? '> 1000 ms' : Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
console.log(`gateway fan-out benchmark: ${rate} records/s for ${seconds} s (+${WARMUP_SECONDS} s warm-up), ${accounts > 0 ? `clients spread over ${accounts} account filters` : 'every client gets every record'}, broker ${brokers}`);
console.log('| clients | frames/record | frames/s | p50 | p99 | p99 all clients | max | missing | gateway fan-out p99 ≤ | gateway CPU | gateway RSS | bench CPU | machine busy |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const n of clientCounts) {
  const r = await run(n);
  console.log(
    `| ${r.clients} | ${r.fanout} | ${Math.round(r.fanout * r.achievedRate)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.allP99)} | ${ms(r.max)} | ${r.missing} | ${ms(r.fanoutP99)} | ${(r.gatewayCpu * 100).toFixed(0)} % of a core | ${r.gatewayRssMiB.toFixed(0)} MiB | ${(r.clientCpu * 100).toFixed(0)} % | ${(r.machineBusy * 100).toFixed(0)} % |`,
  );
  if (r.latencyBySecond) console.log(`  median "all clients" latency per second (ms): ${r.latencyBySecond.join(' ')}`);
}
