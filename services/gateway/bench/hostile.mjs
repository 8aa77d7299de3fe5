#!/usr/bin/env node
/**
 * The gateway against a crowded window and a hostile client (`make bench-gateway-hostile`).
 *
 * Starts the built gateway as its own process on a fresh topic holding BENCH_KEYS counts in one
 * window, then prints:
 *   1. the REST snapshot: time to read every page, pages, bytes;
 *   2. a websocket connect: time until the (capped) snapshot has arrived, frames;
 *   3. a setFilter flood from a client that never reads, once with the default message limit and
 *      once with it lifted (GATEWAY_WS_MESSAGE_BURST), so that only the snapshot coalescing and the
 *      memory budget hold the gateway: its RSS before and at the peak, its queued bytes, and
 *      whether the client was dropped.
 * Figures come from the gateway's own /metrics (process_resident_memory_bytes,
 * eric_gateway_ws_queued_bytes), so they are the process's, not the machine's.
 *
 * Environment: KAFKA_BROKERS (default 127.0.0.1:9092), BENCH_KEYS (default 200000),
 * BENCH_FLOOD_MESSAGES (default 400), BENCH_PORT (default 16067).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { TopicAdmin } from '@eric/shared';
import { produceRecords, testKafkaSettings, uniqueName } from '@eric/shared/testing';

const env = process.env;
const brokers = env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const keys = Number(env.BENCH_KEYS ?? 200_000);
const floodMessages = Number(env.BENCH_FLOOD_MESSAGES ?? 400);
const port = Number(env.BENCH_PORT ?? 16067);
const base = `http://127.0.0.1:${port}`;
const gatewayMain = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const settings = testKafkaSettings(brokers, 'eric-bench');
const MiB = 2 ** 20;

async function metric(name, labels = '') {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function startGateway(topic, extraEnv) {
  const child = spawn(process.execPath, [gatewayMain], {
    env: { ...env, KAFKA_BROKERS: brokers, TOPIC_ACTIVE_VISITORS: topic, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), LOG_LEVEL: 'error', GATEWAY_MAX_KEYS: String(keys + 1000), ...extraEnv },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 120_000;
  while (!(await fetch(`${base}/ready`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('the gateway did not become ready within 120 s');
    await sleep(100);
  }
  return { stop: async () => (child.kill('SIGTERM'), await exited) };
}

async function readAllPages() {
  const started = performance.now();
  let cursor = null;
  let pages = 0;
  let bytes = 0;
  let views = 0;
  do {
    const text = await (await fetch(`${base}/api/active-visitors${cursor ? `?cursor=${cursor}` : ''}`)).text();
    const page = JSON.parse(text);
    bytes += text.length;
    views += page.results.length;
    cursor = page.next_cursor;
    pages += 1;
  } while (cursor);
  return { ms: performance.now() - started, pages, bytes, views };
}

async function snapshotOverWebsocket() {
  const started = performance.now();
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  let frames = 0;
  socket.on('message', () => (frames += 1));
  await new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject)));
  // The server answers messages in order: the error reply to a marker comes after the snapshot.
  await new Promise((resolve) => {
    socket.on('message', (data) => String(data).includes('snapshot-done') && resolve());
    socket.send(JSON.stringify({ type: 'snapshot-done' }));
  });
  socket.terminate();
  return { ms: performance.now() - started, frames: frames - 1 };
}

async function flood(label) {
  const rssBefore = await metric('process_resident_memory_bytes');
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject)));
  socket.pause(); // never reads
  let peakRss = rssBefore;
  let peakQueued = 0;
  for (let i = 0; i < floodMessages && socket.readyState === WebSocket.OPEN; i += 1) {
    socket.send(JSON.stringify({ type: 'setFilter', filter: { store: 'web' } }));
    if (i % 20 === 19) {
      peakRss = Math.max(peakRss, await metric('process_resident_memory_bytes'));
      peakQueued = Math.max(peakQueued, await metric('eric_gateway_ws_queued_bytes'));
    }
  }
  // The gateway works through the queued messages (each a snapshot) for a while: watch it do so.
  const droppedReasons = async () => {
    const counts = await Promise.all(['message_flood', 'memory_budget', 'slow_consumer'].map(async (reason) => [reason, await metric('eric_gateway_clients_dropped_total', `{reason="${reason}"}`)]));
    return counts.filter(([, n]) => n > 0).map(([reason, n]) => `${reason} ${n}`);
  };
  let reasons = [];
  for (let waited = 0; waited < 20 && reasons.length === 0; waited += 1) {
    await sleep(1000);
    peakRss = Math.max(peakRss, await metric('process_resident_memory_bytes'));
    peakQueued = Math.max(peakQueued, await metric('eric_gateway_ws_queued_bytes'));
    reasons = await droppedReasons();
  }
  socket.terminate();
  console.log(
    `${label.padEnd(34)} RSS ${(rssBefore / MiB).toFixed(0)} -> peak ${(peakRss / MiB).toFixed(0)} MiB, queued peak ${(peakQueued / MiB).toFixed(1)} MiB, dropped: ${reasons.join(', ') || 'no'}`,
  );
}

async function main() {
  const topic = uniqueName('bench-hostile');
  const admin = new TopicAdmin(settings);
  try {
    await admin.ensureTopics([{ name: topic, partitions: 1 }]);
  } finally {
    admin.close();
  }
  const start = Math.floor(Date.now() / 60_000) * 60;
  const records = [];
  for (let account = 1; account <= keys; account += 1) {
    records.push({ value: JSON.stringify({ account_id: account, store_id: 'web', window: [start, start + 60], count: 1, final: false, partition: 0, emitted_at: Date.now() / 1000 }), partition: 0 });
  }
  // In parts: librdkafka's local queue holds 100 000 records.
  for (let i = 0; i < records.length; i += 50_000) await produceRecords(settings, topic, records.slice(i, i + 50_000));
  console.log(`gateway with ${keys} counts in one window (one process, loopback)`);

  for (const [label, extraEnv] of [
    ['default limits', {}],
    ['message limit lifted', { GATEWAY_WS_MESSAGE_BURST: String(floodMessages * 2), GATEWAY_WS_MESSAGES_PER_SECOND: '100000' }],
  ]) {
    const gateway = await startGateway(topic, extraEnv);
    try {
      if (label === 'default limits') {
        const rest = await readAllPages();
        console.log(`REST snapshot, all pages               ${rest.ms.toFixed(0)} ms, ${rest.pages} pages, ${rest.views} counts, ${(rest.bytes / MiB).toFixed(1)} MiB`);
        const again = await readAllPages();
        console.log(`REST snapshot again (cached)           ${again.ms.toFixed(0)} ms`);
        const ws = await snapshotOverWebsocket();
        console.log(`websocket snapshot on connect          ${ws.ms.toFixed(0)} ms, ${ws.frames} frames`);
      }
      await flood(`setFilter flood x${floodMessages}, ${label}:`);
    } finally {
      await gateway.stop();
    }
  }
}

await main();
