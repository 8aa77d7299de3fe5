/**
 * `make bench-window-cap`: 2 M distinct visit ids sent to ONE (account, store, window), the attack
 * AGGREGATOR_MAX_IDS_PER_WINDOW is for. One aggregator (P = 1) at the default cap counts the
 * backlog; the command prints how many ids were counted and dead-lettered and the aggregator's
 * peak resident memory (sampled every 100 ms from /proc), beside the same process idle.
 *
 * Prints figures; asserts nothing. Environment: KAFKA_BROKERS (default 127.0.0.1:9092),
 * BENCH_IDS (default 2000000), AGGREGATOR_MAX_IDS_PER_WINDOW (default: the aggregator's).
 */
import { TopicAdmin, visitsTopicSpec } from '@eric/shared';
import { isolatedRunEnv, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import { bulkProduce, procStats } from '@eric/shared/testing/bench';
import { ServiceProcess, sleep } from '@eric/shared/testing/process';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const settings = testKafkaSettings(brokers, 'eric-bench');
const IDS = Number(process.env.BENCH_IDS ?? 2_000_000);
// A window of days, chosen so that its end is at least an hour away: the backlog must fit in one
// window, whatever time it takes to count (windows are aligned to the epoch).
const now = Date.now() / 1000;
const WINDOW_SECONDS = [7, 5, 3, 2].map((days) => days * 86_400).find((size) => size - (now % size) > 3_600)!;
const MiB = 1024 * 1024;

const prefix = uniqueName('bench-cap');
const env: Record<string, string> = {
  KAFKA_BROKERS: brokers,
  ...isolatedRunEnv(prefix),
  PARTITIONS: '1',
  VISITS_PARTITIONS: '1',
  AGGREGATOR_ORDINAL: '0',
  WINDOW_SECONDS: String(WINDOW_SECONDS),
  LOG_LEVEL: 'warn',
  ...(process.env.AGGREGATOR_MAX_IDS_PER_WINDOW ? { AGGREGATOR_MAX_IDS_PER_WINDOW: process.env.AGGREGATOR_MAX_IDS_PER_WINDOW } : {}),
};

const admin = new TopicAdmin(settings);
await admin.ensureTopics([visitsTopicSpec(env.TOPIC_VISITS!, 1)]);
admin.close();
console.log(`writing ${IDS.toLocaleString('en')} distinct ids for account 1, store "target", one window ...`);
await bulkProduce(settings, env.TOPIC_VISITS!, IDS, (i) => ({
  key: null,
  partition: 0,
  value: Buffer.from(JSON.stringify({ id: `attack-${i}`, account_id: 1, store_id: 'target', timestamp: now })),
}));

const aggregator = new ServiceProcess(`${prefix}-0`, { service: 'aggregator', env, logDirectory: '.eric/bench-logs' });
await aggregator.start();
let peak = 0;
let idle = 0;
const sampler = setInterval(() => (peak = Math.max(peak, procStats(aggregator.pid)?.rss ?? 0)), 100);
try {
  await aggregator.ready(120_000);
  idle = procStats(aggregator.pid)?.rss ?? 0;
  const started = Date.now();
  let counted = 0;
  let capped = 0;
  while (counted + capped < IDS) {
    await sleep(500);
    [counted, capped] = await Promise.all([aggregator.metric('eric_aggregator_visits_counted_total'), aggregator.metric('eric_aggregator_visits_dropped_total', 'reason="window_id_cap"')]);
  }
  const seconds = (Date.now() - started) / 1000;
  const held = await aggregator.metric('eric_aggregator_state_ids');
  await sleep(1_000);
  const after = procStats(aggregator.pid)?.rss ?? 0;
  console.log(
    [
      '| what | figure |',
      '|---|---:|',
      `| distinct ids sent to one key | ${IDS.toLocaleString('en')} |`,
      `| counted (ids held in state) | ${counted.toLocaleString('en')} (${held.toLocaleString('en')}) |`,
      `| dead-lettered as window_id_cap | ${capped.toLocaleString('en')} |`,
      `| time to count the backlog | ${seconds.toFixed(1)} s (${Math.round(IDS / seconds).toLocaleString('en')} visits/s) |`,
      `| aggregator RSS: ready (empty), peak, at the end | ${(idle / MiB).toFixed(0)} MiB, ${(peak / MiB).toFixed(0)} MiB, ${(after / MiB).toFixed(0)} MiB |`,
    ].join('\n'),
  );
} finally {
  clearInterval(sampler);
  await aggregator.stop();
}
