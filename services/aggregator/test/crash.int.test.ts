/**
 * Exactly once under crashes: SIGKILL at random moments, a zombie with the same ordinal, and a
 * restore that reads only what retention left.
 */
import { describe, expect, inject, it } from 'vitest';
import { TopicAdmin, kafka, rdkafkaConnectionConfig } from '@eric/shared';
import { finalsOf, isolatedRunEnv, produceRecords, readRecords, readResults, testKafkaSettings, uniqueName, waitForFinals } from '@eric/shared/testing';
import { decodeChangelogRecord } from '../src/count/changelog.js';
import { AggregatorProcess, buildAggregator, sleep } from './support/aggregator-process.js';
import { expectedFinals, type ModelVisit } from './support/model.js';

const settings = testKafkaSettings(inject('kafkaBrokers'));
const SIZE = 10;
const GRACE = 5;

function env(prefix: string, partitions: number) {
  return {
    KAFKA_BROKERS: settings.brokers,
    ...isolatedRunEnv(prefix),
    WINDOW_SECONDS: String(SIZE),
    GRACE_SECONDS: String(GRACE),
    PARTITIONS: String(partitions),
    // One visits partition keeps the production order, which the model replays.
    VISITS_PARTITIONS: '1',
    // Small transactions: more of them, so a kill lands inside one more often.
    COUNT_BATCH_SIZE: '500',
    REPARTITION_BATCH_SIZE: '1000',
  };
}

/**
 * A history of `count` visits over the last `windows` windows: roughly in time order with some
 * disorder, 15 % re-sent ids, and a few visits far behind the stream (late by stream time).
 */
function history(count: number, windows: number, seed: number): ModelVisit[] {
  let state = seed;
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const start = Math.floor(Date.now() / 1000 / SIZE) * SIZE - (windows + 5) * SIZE;
  const visits: ModelVisit[] = [];
  for (let i = 0; i < count; i++) {
    const progress = (i / count) * windows * SIZE;
    const jitter = (random() - 0.5) * 4;
    // Late visits far behind the stream, and not among the first (see the model's note).
    const lateBy = i > count / 10 && random() < 0.01 ? SIZE * 3 : 0;
    const previous = visits.length > 0 && random() < 0.15 ? visits[Math.floor(random() * visits.length)] : undefined;
    const visit: ModelVisit = previous ?? {
      id: `v${i}`,
      account_id: 1 + Math.floor(random() * 3),
      store_id: [null, 's1', 's2'][Math.floor(random() * 3)]!,
      timestamp: start + progress + jitter - lateBy,
    };
    visits.push({ ...visit });
  }
  return visits;
}

async function produceHistory(topic: string, visits: ModelVisit[]) {
  for (let i = 0; i < visits.length; i += 10_000) {
    await produceRecords(settings, topic, visits.slice(i, i + 10_000).map((visit) => ({ value: JSON.stringify(visit) })));
  }
}

describe('aggregator under crashes', () => {
  it('gives exact final counts, each final once, when a process is SIGKILLed at random moments', async () => {
    buildAggregator();
    const prefix = uniqueName('agg-kill');
    const visits = history(40_000, 30, 42);
    const expected = expectedFinals(visits, SIZE, GRACE);
    await new TopicAdmin(settings).ensureTopics([{ name: `${prefix}-visits`, partitions: 1, config: { 'message.timestamp.type': 'LogAppendTime' } }]);
    await produceHistory(`${prefix}-visits`, visits);

    const victim = new AggregatorProcess(`${prefix}-0`, { ...env(prefix, 2), AGGREGATOR_ORDINAL: '0' });
    const survivor = new AggregatorProcess(`${prefix}-1`, { ...env(prefix, 2), AGGREGATOR_ORDINAL: '1' });
    await Promise.all([victim.start(), survivor.start()]);
    try {
      // Kill the victim 4 times at random moments of its work (start-up, restore, counting),
      // each time restarting it after a pause, as a crash-looping pod would be.
      for (let kill = 0; kill < 4; kill++) {
        await sleep(300 + Math.random() * 2500);
        victim.kill('SIGKILL');
        await victim.exited();
        await sleep(500 + Math.random() * 1000);
        await victim.start();
      }
      await Promise.all([victim.ready(), survivor.ready()]);
      const results = await waitForFinals(settings, `${prefix}-active-visitors`, expected.finals.size, 90_000);
      await sleep(3000);
      const finals = finalsOf(await readResults(settings, `${prefix}-active-visitors`)); // throws on a duplicate final
      expect(finals.size).toBe(expected.finals.size);
      expect(finals).toEqual(expected.finals);
      expect(results.filter((r) => r.final).length).toBe(expected.finals.size);
    } finally {
      await Promise.all([victim.stop(), survivor.stop()]);
    }
  }, 180_000);

  it('fences a zombie: a second process with the same ordinal takes over and counts stay exact', async () => {
    buildAggregator();
    const prefix = uniqueName('agg-zombie');
    const visits = history(20_000, 20, 7);
    await new TopicAdmin(settings).ensureTopics([{ name: `${prefix}-visits`, partitions: 1, config: { 'message.timestamp.type': 'LogAppendTime' } }]);
    await produceHistory(`${prefix}-visits`, visits);
    const first = new AggregatorProcess(`${prefix}-first`, { ...env(prefix, 1), AGGREGATOR_ORDINAL: '0' });
    await first.start();
    await first.ready();
    // The first one is counting its backlog when a second process with the same ordinal starts,
    // as when a pod is rescheduled while the old one still runs behind a network partition.
    const second = new AggregatorProcess(`${prefix}-second`, { ...env(prefix, 1), AGGREGATOR_ORDINAL: '0' });
    await second.start();
    try {
      await second.ready();
      // The first one is fenced (its transactional.id and static member id were taken over) and stops.
      const { code } = await first.exited();
      expect(code).not.toBe(0);
      expect(first.output()).toMatch(/fenced/);

      const expected = expectedFinals(visits, SIZE, GRACE);
      await waitForFinals(settings, `${prefix}-active-visitors`, expected.finals.size, 60_000);
      await sleep(2000);
      expect(finalsOf(await readResults(settings, `${prefix}-active-visitors`))).toEqual(expected.finals);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  }, 120_000);

  it('restores only the retained tail of the changelog', async () => {
    buildAggregator();
    const prefix = uniqueName('agg-tail');
    const changelog = `${prefix}-changelog`;
    const aggregator = new AggregatorProcess(`${prefix}-0`, { ...env(prefix, 1), AGGREGATOR_ORDINAL: '0', WALL_CLOCK_CLOSE: 'false' });
    try {
      await aggregator.start();
      await aggregator.ready();
      // Visits in the current window, which stays open (no wall-clock close): all of it is state.
      // Ten rounds, each counted before the next is sent: ten transactions at least, each with
      // its own changelog record.
      const now = Date.now() / 1000;
      for (let round = 0; round < 10; round++) {
        const visits = Array.from({ length: 200 }, (_, i) => ({ id: `t${round}-${i}`, account_id: 1, store_id: 'x', timestamp: now }));
        await produceRecords(settings, `${prefix}-visits`, visits.map((v) => ({ value: JSON.stringify(v) })));
        await waitForMetric(aggregator, 'eric_aggregator_state_ids', 200 * (round + 1));
      }
      await aggregator.stop();

      // What retention does to old segments, done at once: the log now starts in its middle.
      const records = await readRecords(settings, changelog, { partitions: [0] });
      const cut = records[Math.floor(records.length / 2)]!.offset;
      const retained = records.filter((record) => record.offset >= cut);
      const retainedIds = retained.flatMap((record) => {
        const entry = decodeChangelogRecord(record.key, record.value);
        return entry.kind === 'ids' ? entry.ids : [];
      });
      expect(records.length).toBeGreaterThanOrEqual(10);
      expect(retainedIds.length).toBeGreaterThan(0);
      expect(retainedIds.length).toBeLessThan(2000);
      const admin = kafka.AdminClient.create(rdkafkaConnectionConfig(settings));
      await kafka.call('deleteRecords', 10_000, (done) => admin.deleteRecords([{ topic: changelog, partition: 0, offset: cut }], { timeout: 10_000 }, done));
      admin.disconnect();

      await aggregator.start();
      await aggregator.ready();
      expect(await aggregator.metric('eric_aggregator_restore_records_total')).toBe(retained.length);
      expect(await aggregator.metric('eric_aggregator_state_ids')).toBe(retainedIds.length);
    } finally {
      await aggregator.stop();
    }
  }, 60_000);
});

async function waitForMetric(process: AggregatorProcess, name: string, value: number) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await process.metric(name)) >= value) return;
    await sleep(200);
  }
  throw new Error(`${name} did not reach ${value}`);
}
