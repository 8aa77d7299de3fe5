/**
 * The aggregator as a user sees it: visits in, exact final counts out, with two processes
 * (P = 2), duplicates, null stores, window boundaries, late and malformed visits.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EXIT_BAD_CONFIG, TopicAdmin } from '@eric/shared';
import { finalKey, finalsOf, isolatedRunEnv, produceRecords, readRecords, testKafkaSettings, uniqueName, waitForFinals } from '@eric/shared/testing';
import { AggregatorProcess, buildAggregator, sleep } from './support/aggregator-process.js';
import { expectedFinals, type ModelVisit } from './support/model.js';

const settings = testKafkaSettings(inject('kafkaBrokers'));
const SIZE = 3;
const GRACE = 1;

function topicEnv(prefix: string) {
  return {
    KAFKA_BROKERS: settings.brokers,
    ...isolatedRunEnv(prefix),
    WINDOW_SECONDS: String(SIZE),
    GRACE_SECONDS: String(GRACE),
    PARTITIONS: '2',
    VISITS_PARTITIONS: '2',
  };
}

describe('aggregator: exact unique counts', () => {
  const prefix = uniqueName('agg-exact');
  const env = topicEnv(prefix);
  const processes = [0, 1].map((i) => new AggregatorProcess(`${prefix}-${i}`, { ...env, AGGREGATOR_ORDINAL: String(i) }));

  beforeAll(async () => {
    buildAggregator();
    await Promise.all(processes.map((p) => p.start()));
    await Promise.all(processes.map((p) => p.ready()));
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
  });

  it('counts each distinct visit id once per account, store and window; drops late visits; dead-letters bad input', async () => {
    // Two windows that start in the future, so every visit below is on time when produced.
    const w0 = Math.ceil((Date.now() / 1000 + 1.5) / SIZE) * SIZE;
    const w1 = w0 + SIZE;
    const stores = ['a', 'b', null];
    const onTime: ModelVisit[] = [];
    let n = 0;
    for (const account_id of [1, 2]) {
      for (const store_id of stores) {
        for (let i = 0; i < 40; i++) {
          // ids repeat (i % 25): 25 distinct per key and window; timestamps hit both boundaries.
          const id = `${account_id}-${store_id}-${i % 25}`;
          const timestamp = i === 0 ? w0 : i === 1 ? w1 - 0.001 : w0 + ((i * 0.37) % SIZE);
          onTime.push({ id, account_id, store_id, timestamp });
          // The same ids in the next window are other visits of that window.
          if (i % 2 === 0) onTime.push({ id: `${id}-next-${n++ % 7}`, account_id, store_id, timestamp: i === 2 ? w1 : w1 + ((i * 0.11) % SIZE) });
        }
      }
    }
    const malformed = ['{not json', JSON.stringify({ id: 'x', account_id: 'one', store_id: null, timestamp: w0 }), JSON.stringify({ id: 'y', account_id: 1, store_id: 'a' })];
    const afterMalformed: ModelVisit = { id: 'after-malformed', account_id: 1, store_id: 'a', timestamp: w0 + 1 };
    const producedAt = Date.now() / 1000;
    await produceRecords(settings, env.TOPIC_VISITS, [
      ...onTime.map((v) => ({ value: JSON.stringify(v) })),
      ...malformed.map((value) => ({ value })),
      { value: JSON.stringify(afterMalformed) },
    ]);

    // Wait for window 0 to close (end + grace, by the wall clock: no newer traffic arrives).
    const keysPerWindow = 2 * stores.length;
    const firstFinals = await waitForFinals(settings, env.TOPIC_ACTIVE_VISITORS, keysPerWindow, 30_000);
    expect(firstFinals.filter((r) => r.final && r.window[0] === w0)).toHaveLength(keysPerWindow);

    // Now visits for window 0 are late; window 1 is still open and takes new ones.
    const late: ModelVisit[] = stores.map((store_id, i) => ({ id: `late-${i}`, account_id: 1, store_id, timestamp: w0 + 1 }));
    const stillOnTime: ModelVisit[] = stores.map((store_id, i) => ({ id: `w1-extra-${i}`, account_id: 2, store_id, timestamp: w1 + 0.5 }));
    const now = Date.now() / 1000;
    expect(now).toBeLessThan(w1 + SIZE + GRACE); // window 1 must still be open for this test to mean anything
    await produceRecords(settings, env.TOPIC_VISITS, [...late, ...stillOnTime].map((v) => ({ value: JSON.stringify(v) })));

    const results = await waitForFinals(settings, env.TOPIC_ACTIVE_VISITORS, 2 * keysPerWindow, 30_000);
    await sleep(1500);
    const finals = finalsOf(results); // throws on a second final for a window

    // Independent expectation: all on-time visits and the one after the malformed records;
    // the late ones are excluded because window 0 had closed when they were produced.
    const all = [...onTime, afterMalformed, ...stillOnTime];
    // They all reached Kafka before their windows' ends: event time is capped by arrival.
    const arrivals = new Map(all.map((visit) => [visit, producedAt]));
    const { finals: expected } = expectedFinals(all, SIZE, GRACE, arrivals);
    expect(finals).toEqual(expected);
    expect(finals.get(finalKey(1, 'a', w0))).toBe(26); // 25 distinct ids + "after-malformed"
    expect(finals.get(finalKey(2, null, w1))).toBe(expected.get(finalKey(2, null, w1)));

    // Provisional counts came first and never exceeded the final.
    for (const result of results.filter((r) => !r.final)) {
      expect(result.count).toBeLessThanOrEqual(finals.get(finalKey(result.account_id, result.store_id, result.window[0]))!);
    }
    expect(results.some((r) => !r.final)).toBe(true);

    // Every drop is visible in metrics, by reason.
    const lateDropped = (await Promise.all(processes.map((p) => p.metric('eric_aggregator_visits_dropped_total', 'reason="late"')))).reduce((a, b) => a + b);
    expect(lateDropped).toBe(late.length);
    const wallClockCloses = (await Promise.all(processes.map((p) => p.metric('eric_aggregator_windows_closed_total', 'trigger="wall-clock"')))).reduce((a, b) => a + b);
    expect(wallClockCloses).toBeGreaterThan(0);

    // Malformed input reached the dead-letter topic with its reason and origin.
    const dead = await readRecords(settings, env.TOPIC_DEAD_LETTER, { partitions: [0], count: 3 });
    const reasons = dead.map((record) => record.headers?.find((h) => 'eric.reason' in h)?.['eric.reason']?.toString()).sort();
    expect(reasons).toEqual(['invalid_json', 'missing_field', 'wrong_type']);
    expect(dead.map((record) => record.value?.toString()).sort()).toEqual([...malformed].sort());
    expect(dead[0]?.headers?.some((h) => 'eric.source.offset' in h)).toBe(true);
    const invalid = (await Promise.all(processes.map((p) => p.metric('eric_aggregator_visits_invalid_total', 'reason="invalid_json"')))).reduce((a, b) => a + b);
    expect(invalid).toBe(1);
  });

  it('restores without resurrecting closed windows and emits no second final after a restart', async () => {
    const resultsBefore = await waitForFinals(settings, env.TOPIC_ACTIVE_VISITORS, 12, 5_000);
    const finalsBefore = finalsOf(resultsBefore).size;
    const idsInChangelog = await processes[0]!.metric('eric_aggregator_visits_counted_total');
    expect(idsInChangelog).toBeGreaterThan(0);
    await processes[0]!.stop();
    await processes[0]!.start();
    await processes[0]!.ready();
    // Every window was closed at the last commit: the restore starts after their records.
    expect(await processes[0]!.metric('eric_aggregator_restore_records_total')).toBeLessThan(idsInChangelog);
    expect(await processes[0]!.metric('eric_aggregator_state_windows')).toBe(0);
    await sleep(2 * (SIZE + GRACE) * 1000);
    const after = finalsOf(await waitForFinals(settings, env.TOPIC_ACTIVE_VISITORS, finalsBefore, 5_000));
    expect(after.size).toBe(finalsBefore);
  });
});

describe('aggregator: upgrade', () => {
  it('restores the state that an aggregator of the first changelog format wrote (one record per id)', async () => {
    const prefix = uniqueName('agg-upgrade');
    const size = 20;
    const env = { ...topicEnv(prefix), WINDOW_SECONDS: String(size), PARTITIONS: '1', VISITS_PARTITIONS: '1', AGGREGATOR_ORDINAL: '0' };
    // A window with at least 12 s left: the restart below must happen while it is open.
    while ((Date.now() / 1000) % size > size - 12) await sleep(500);
    const start = Math.floor(Date.now() / 1000 / size) * size;
    const admin = new TopicAdmin(settings);
    try {
      await admin.ensureTopics([{ name: env.TOPIC_CHANGELOG, partitions: 1, config: { 'cleanup.policy': 'compact,delete' } }]);
    } finally {
      admin.close();
    }
    // What the previous version left in the changelog: three ids counted in the open window.
    const oldIds = ['old-1', 'old-2', 'old-3'];
    await produceRecords(settings, env.TOPIC_CHANGELOG, oldIds.map((id) => ({ key: JSON.stringify([start, 5, 'shop', id]), value: '1', partition: 0 })));

    const aggregator = new AggregatorProcess(`${prefix}-0`, env);
    buildAggregator();
    await aggregator.start();
    try {
      await aggregator.ready();
      expect(await aggregator.metric('eric_aggregator_state_ids')).toBe(oldIds.length);
      const now = Date.now() / 1000;
      const visits: ModelVisit[] = [{ id: 'old-1', account_id: 5, store_id: 'shop', timestamp: now }, { id: 'new-1', account_id: 5, store_id: 'shop', timestamp: now }];
      await produceRecords(settings, env.TOPIC_VISITS, visits.map((visit) => ({ value: JSON.stringify(visit) })));
      const finals = finalsOf(await waitForFinals(settings, env.TOPIC_ACTIVE_VISITORS, 1, 60_000));
      // The restored ids count, and a visit already counted by the old version is a duplicate.
      expect(finals).toEqual(new Map([[finalKey(5, 'shop', start), 4]]));
      expect(await aggregator.metric('eric_aggregator_visits_duplicate_total')).toBe(1);
    } finally {
      await aggregator.stop();
    }
  }, 120_000);

  it('counts exactly while repartition stages write both formats (a rolling upgrade\'s first step)', async () => {
    const prefix = uniqueName('agg-mixed');
    const env = topicEnv(prefix);
    // Pod 0 writes one JSON record per visit, as with REPARTITION_FORMAT=json; pod 1 writes batches.
    const pods = (['json', 'batch'] as const).map((format, i) => new AggregatorProcess(`${prefix}-${i}`, { ...env, AGGREGATOR_ORDINAL: String(i), REPARTITION_FORMAT: format }));
    buildAggregator();
    await Promise.all(pods.map((pod) => pod.start()));
    try {
      await Promise.all(pods.map((pod) => pod.ready()));
      const now = Date.now() / 1000;
      const visits: ModelVisit[] = Array.from({ length: 400 }, (_, i) => ({ id: `v-${i % 300}`, account_id: i % 4, store_id: i % 5 === 0 ? null : `s-${i % 3}`, timestamp: now }));
      const producedAt = Date.now() / 1000;
      await produceRecords(settings, env.TOPIC_VISITS, visits.map((visit, i) => ({ value: JSON.stringify(visit), partition: i % 2 })));
      const { finals: expected } = expectedFinals(visits, SIZE, GRACE, new Map(visits.map((visit) => [visit, producedAt])));
      const finals = finalsOf(await waitForFinals(settings, env.TOPIC_ACTIVE_VISITORS, expected.size, 30_000));
      expect(finals).toEqual(expected);
      // Both count stages read records of both formats: none was unreadable.
      for (const pod of pods) expect(await pod.metric('eric_aggregator_visits_dropped_total', 'reason="unreadable"')).toBe(0);
    } finally {
      await Promise.all(pods.map((pod) => pod.stop()));
    }
  }, 120_000);
});

describe('aggregator: lifecycle', () => {
  it('exits cleanly within 10 s of SIGTERM', async () => {
    const prefix = uniqueName('agg-term');
    const process0 = new AggregatorProcess(`${prefix}-0`, { ...topicEnv(prefix), PARTITIONS: '1', AGGREGATOR_ORDINAL: '0' });
    buildAggregator();
    await process0.start();
    await process0.ready();
    const started = Date.now();
    process0.kill('SIGTERM');
    const { code } = await process0.exited();
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('stops at start with the name of a bad setting', async () => {
    const process0 = new AggregatorProcess(uniqueName('agg-badconfig'), { WINDOW_SECONDS: 'a minute', AGGREGATOR_ORDINAL: '0' });
    buildAggregator();
    await process0.start();
    const { code } = await process0.exited();
    expect(code).toBe(EXIT_BAD_CONFIG);
    expect(process0.output()).toContain('WINDOW_SECONDS (window.sizeSeconds)');
  });

  it('creates its topics with the partition counts and policies it relies on', async () => {
    const prefix = uniqueName('agg-topics');
    const process0 = new AggregatorProcess(`${prefix}-0`, { ...topicEnv(prefix), PARTITIONS: '3', AGGREGATOR_ORDINAL: '0' });
    buildAggregator();
    await process0.start();
    const admin = new TopicAdmin(settings);
    try {
      // Ready needs all three partitions counted; process 0 alone reports its own readiness.
      await process0.ready();
      expect(await admin.partitionCount(`${prefix}-repartition`)).toBe(3);
      expect(await admin.partitionCount(`${prefix}-changelog`)).toBe(3);
      expect(await admin.partitionCount(`${prefix}-active-visitors`)).toBe(1);
    } finally {
      admin.close();
      await process0.stop();
    }
  });
});
