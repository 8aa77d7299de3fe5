#!/usr/bin/env node
// `make bench-producer`: how many visits per second the producer gets acknowledged by Kafka
// (acks=all, idempotent), on this machine, against the broker of KAFKA_BROKERS (default the
// local one on 127.0.0.1:9092):
//
//   1. the bulk generator: `produce --rate max` for BENCH_VISITS visits;
//   2. HTTP ingestion on loopback with autocannon: one visit per request, then batches of
//      BENCH_BATCH visits per request, BENCH_SECONDS each; req/s, visits/s, p50/p99 latency.
//
// Every run writes to fresh topics (bench-visits-<time>), so it never disturbs other data.
// Load generator, service and broker share the machine: the figures are a floor, not a ceiling.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dist = `${root}services/producer/dist`;
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const visits = Number(process.env.BENCH_VISITS ?? 1_000_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const batch = Number(process.env.BENCH_BATCH ?? 100);
const port = Number(process.env.BENCH_PORT ?? 16061);
const stamp = Date.now();

function run(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(stderr) : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr}`))));
  });
}

async function benchGenerator() {
  const topic = `bench-visits-${stamp}-cli`;
  console.log(`bulk generator: produce --rate max --max-messages ${visits} → ${topic}`);
  const stderr = await run(process.execPath, [`${dist}/cli.js`, '--brokers', brokers, '--topic', topic, '--rate', 'max', '--max-messages', String(visits), '--account-id', '1', '--account-id', '2', '--store-id', 'us', '--store-id', 'uk']);
  const match = /(\d+) visits acknowledged .* in ([\d.]+) s \((\d+) visits\/s/.exec(stderr);
  if (!match) throw new Error(`no summary in the output of produce:\n${stderr}`);
  return { visits: Number(match[1]), seconds: Number(match[2]), visitsPerSecond: Number(match[3]) };
}

async function startService(topic) {
  const child = spawn(process.execPath, [`${dist}/main.js`], {
    env: { ...process.env, KAFKA_BROKERS: brokers, TOPIC_VISITS: topic, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), PRODUCER_RATE: '0', LOG_LEVEL: 'warn',
      // The throughput of ingestion itself is measured, not its per-address and per-account limits.
      PRODUCER_INGEST_ACCOUNT_VISITS_PER_SECOND: '0', PRODUCER_INGEST_CLIENT_REQUESTS_PER_SECOND: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ready`)).ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the producer service did not become ready');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function benchHttp(name, connections, visitsPerRequest) {
  // No ids and no timestamps: the server makes them, as for a website that only knows the account.
  const one = { account_id: 352, store_id: 'default' };
  const body = JSON.stringify(visitsPerRequest === 1 ? one : Array.from({ length: visitsPerRequest }, () => one));
  console.log(`HTTP ${name}: ${connections} connections, ${visitsPerRequest} visit(s) per request, ${seconds} s`);
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/v1/visits`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
  });
  const ok = result['2xx'];
  if (result.non2xx > 0 || result.errors > 0) console.log(`  warning: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return {
    connections,
    visitsPerRequest,
    requestsPerSecond: Math.round(ok / result.duration),
    visitsPerSecond: Math.round((ok * visitsPerRequest) / result.duration),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const report = { brokers, date: new Date(stamp).toISOString(), node: process.version };
report.generator = await benchGenerator();
const service = await startService(`bench-visits-${stamp}-http`);
try {
  report.httpSingle = await benchHttp('single visits', 50, 1);
  report.httpBatch = await benchHttp('batches', 10, batch);
} finally {
  service.kill('SIGTERM');
  await new Promise((resolve) => service.once('exit', resolve));
}

const line = (label, r) =>
  `  ${label.padEnd(34)} ${String(r.requestsPerSecond).padStart(7)} req/s ${String(r.visitsPerSecond).padStart(8)} visits/s   p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms`;
console.log('\nproducer benchmark (acks=all, idempotent, loopback)');
console.log(`  bulk generator (--rate max)        ${report.generator.visitsPerSecond} visits/s (${report.generator.visits} visits in ${report.generator.seconds} s)`);
console.log(line('HTTP, 1 visit per request', report.httpSingle));
console.log(line(`HTTP, ${batch} visits per request`, report.httpBatch));
mkdirSync(`${root}.cache`, { recursive: true });
writeFileSync(`${root}.cache/bench-producer.json`, `${JSON.stringify(report, null, 2)}\n`);
console.log('  (also in .cache/bench-producer.json)');
