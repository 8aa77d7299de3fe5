/**
 * A broker that goes away and comes back: routine in a rolling upgrade of Kafka. The aggregator
 * must ride it out by itself — no crash, no wedge, exact counts — stay live (a broker outage is
 * not a reason for Kubernetes to restart it), and still stop within its grace period if it is
 * told to stop meanwhile. Each test uses a broker of its own, which it stops or freezes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalsOf, isolatedRunEnv, produceRecords, readResults, testKafkaSettings, uniqueName, waitForFinals } from '@eric/shared/testing';
import { PID_1_LAUNCHER, PrivateBroker, canLaunchAsPid1 } from '@eric/shared/testing/process';
import { AggregatorProcess, buildAggregator, sleep } from './support/aggregator-process.js';
import { expectedFinals, type ModelVisit } from './support/model.js';

const broker = new PrivateBroker('aggregator-outage', 700);
const settings = testKafkaSettings(broker.brokers);
const SIZE = 4;
const GRACE = 2;

beforeAll(async () => {
  buildAggregator();
  await broker.run('reset');
  await broker.run('start');
}, 120_000);
afterAll(() => broker.run('reset'), 60_000);

function aggregatorEnv(prefix: string, extra: Record<string, string> = {}) {
  return {
    KAFKA_BROKERS: broker.brokers,
    ...isolatedRunEnv(prefix),
    WINDOW_SECONDS: String(SIZE),
    GRACE_SECONDS: String(GRACE),
    PARTITIONS: '1',
    AGGREGATOR_ORDINAL: '0',
    VISITS_PARTITIONS: '1',
    ...extra,
  };
}

function visitsNow(prefix: string, count: number): ModelVisit[] {
  const now = Date.now() / 1000;
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}-${i % Math.ceil(count * 0.8)}`, account_id: 1 + (i % 3), store_id: i % 2 ? 's' : null, timestamp: now }));
}

async function produceVisits(topic: string, visits: ModelVisit[]): Promise<void> {
  await produceRecords(settings, topic, visits.map((visit) => ({ value: JSON.stringify(visit) })));
}

/**
 * Produces once the broker takes the visits again. A fresh producer right after a 30 s freeze
 * (connect, producer id, write) has been seen to need more than one flush (10 s) on a loaded
 * machine; this test is about the aggregator, so its producer simply tries again. A try that
 * timed out may have written some visits already: their ids repeat, which unique counting ignores.
 */
async function produceVisitsOnceServing(topic: string, visits: ModelVisit[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await produceVisits(topic, visits);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

async function healthStatus(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
}

/**
 * The freeze of issue 22: 40 s, longer than the stall limit and than librdkafka's request timeouts
 * of the transactional calls, under live traffic. The default suite freezes twice;
 * ERIC_FREEZE_ROUNDS=10 repeats it ten times, as done to find and check the fix.
 */
const FREEZE_ROUNDS = Number(process.env.ERIC_FREEZE_ROUNDS ?? 2);
const FREEZE_MS = 40_000;
/** The product's promise: finals flow again this soon after the broker answers again. */
const FLOWING_AGAIN_MS = 10_000;
/** How long a round waits for finals to measure a broken promise before going on. */
const MEASURE_UP_TO_MS = 120_000;
/** Traffic before each freeze: enough for windows that close while the broker is frozen. */
const TRAFFIC_BETWEEN_FREEZES_MS = 15_000;
/**
 * The grace of the freeze test. After a resume the test's first visits can take seconds to be
 * acknowledged while the event time moves on with the wall clock; 20 s keeps them in time, and
 * windows of the traffic before a freeze still close during it, so finals are due at the resume.
 */
const FREEZE_GRACE = 20;

interface FreezeRound {
  round: number;
  /** Per aggregator: seconds from SIGCONT to its first final committed after it. */
  secondsToFinals: number[];
  healthzFailures: number;
}

/**
 * Visits with the current time, in batches, from a test producer, until stopped; pause() returns
 * once the batch in flight is acknowledged. A batch that fails is sent again as it was (same ids
 * and timestamps), so a partial first try only repeats ids, which unique counting ignores.
 */
class LiveTraffic {
  readonly acknowledged: ModelVisit[] = [];
  #paused = false;
  #stopped = false;
  #sent = 0;
  #loop: Promise<void> | undefined;
  #batchInFlight: Promise<void> = Promise.resolve();

  constructor(private readonly topic: string) {}

  start(): void {
    this.#loop = this.#run();
  }

  async pause(): Promise<void> {
    this.#paused = true;
    await this.#batchInFlight;
  }

  resume(): void {
    this.#paused = false;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      if (!this.#paused) {
        const batch = this.#nextBatch(20);
        this.#batchInFlight = produceVisitsOnceServing(this.topic, batch, MEASURE_UP_TO_MS);
        await this.#batchInFlight;
        this.acknowledged.push(...batch);
      }
      await sleep(250);
    }
  }

  #nextBatch(size: number): ModelVisit[] {
    const timestamp = Date.now() / 1000;
    return Array.from({ length: size }, () => {
      const n = this.#sent++;
      // Every tenth visit repeats the id before it: a duplicate to ignore.
      const id = `${this.topic}-${n % 10 === 9 ? n - 1 : n}`;
      return { id, account_id: 1 + (n % 4), store_id: n % 8 < 4 ? 's' : null, timestamp };
    });
  }
}

/** Polls every aggregator's /healthz for `ms`; the statuses seen (0: no answer). */
async function healthWhile(aggregators: AggregatorProcess[], ms: number): Promise<number[]> {
  const statuses: number[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    statuses.push(...(await Promise.all(aggregators.map((aggregator) => healthStatus(aggregator.port).catch(() => 0)))));
    await sleep(500);
  }
  return statuses;
}

function finalsEmitted(aggregator: AggregatorProcess): Promise<number> {
  return aggregator.metric('eric_aggregator_results_emitted_total', 'kind="final"');
}

/**
 * Seconds from `since` until each aggregator has committed a final more than `before` (its
 * metric counts finals after their commit), waiting at most MEASURE_UP_TO_MS; an aggregator that
 * emitted none by then gets that bound.
 */
async function untilEveryAggregatorEmitsAFinal(aggregators: AggregatorProcess[], before: number[], since: number): Promise<number[]> {
  const seconds: Array<number | undefined> = aggregators.map(() => undefined);
  while (seconds.includes(undefined) && Date.now() - since < MEASURE_UP_TO_MS) {
    const now = await Promise.all(aggregators.map((aggregator) => finalsEmitted(aggregator).catch(() => 0)));
    now.forEach((finals, i) => {
      if (seconds[i] === undefined && finals > before[i]!) seconds[i] = Math.round((Date.now() - since) / 100) / 10;
    });
    await sleep(200);
  }
  return seconds.map((s) => s ?? MEASURE_UP_TO_MS / 1000);
}

describe('aggregator: broker outages', () => {
  it(`finals flow again within ${FLOWING_AGAIN_MS / 1000} s of each resume of a broker frozen ${FREEZE_MS / 1000} s under traffic (${FREEZE_ROUNDS} times), live throughout, counts exact`, async () => {
    const prefix = uniqueName('agg-freeze');
    const env = (ordinal: number) =>
      aggregatorEnv(prefix, { PARTITIONS: '2', VISITS_PARTITIONS: '2', AGGREGATOR_ORDINAL: String(ordinal), GRACE_SECONDS: String(FREEZE_GRACE), STALL_TIMEOUT_SECONDS: '20' });
    const aggregators = [0, 1].map((ordinal) => new AggregatorProcess(`${prefix}-${ordinal}`, env(ordinal)));
    const traffic = new LiveTraffic(`${prefix}-visits`);
    const rounds: FreezeRound[] = [];
    await Promise.all(aggregators.map((aggregator) => aggregator.start()));
    try {
      await Promise.all(aggregators.map((aggregator) => aggregator.ready(90_000)));
      traffic.start();
      for (let round = 1; round <= FREEZE_ROUNDS; round++) {
        await sleep(TRAFFIC_BETWEEN_FREEZES_MS);
        // Nothing of the test's own in flight: every visit sent is either in Kafka or not yet sent.
        await traffic.pause();
        // Frozen, not stopped: requests hang until their timeouts instead of being refused.
        broker.signal('SIGSTOP');
        let statuses: number[];
        let finalsBefore: number[];
        try {
          statuses = await healthWhile(aggregators, FREEZE_MS);
          finalsBefore = await Promise.all(aggregators.map(finalsEmitted));
        } finally {
          broker.signal('SIGCONT');
        }
        const resumedAt = Date.now();
        traffic.resume();
        const secondsToFinals = await untilEveryAggregatorEmitsAFinal(aggregators, finalsBefore, resumedAt);
        rounds.push({ round, secondsToFinals, healthzFailures: statuses.filter((status) => status !== 200).length });
        console.log(`freeze round ${round}: first final after the resume ${secondsToFinals.map((s) => `${s} s`).join(', ')} (aggregator 0, 1)`);
      }
      await traffic.stop();
      console.table(rounds);

      const expected = expectedFinals(traffic.acknowledged, SIZE, FREEZE_GRACE);
      expect(expected.late).toBe(0); // the traffic is in time order: nothing of it may be late
      await waitForFinals(settings, `${prefix}-active-visitors`, expected.finals.size, (SIZE + FREEZE_GRACE + 60) * 1000);
      const finals = finalsOf(await readResults(settings, `${prefix}-active-visitors`)); // throws on a second final
      expect(finals).toEqual(expected.finals);
      const late = rounds.filter((round) => round.secondsToFinals.some((s) => s > FLOWING_AGAIN_MS / 1000));
      expect(late, `rounds in which an aggregator emitted no final within ${FLOWING_AGAIN_MS / 1000} s of the broker's resume`).toEqual([]);
      expect(rounds.filter((round) => round.healthzFailures > 0), 'rounds with a failed /healthz during the freeze').toEqual([]);
      expect(aggregators.map((aggregator) => aggregator.running), 'aggregators still running').toEqual([true, true]);
    } finally {
      await traffic.stop();
      await Promise.all(aggregators.map((aggregator) => aggregator.stop()));
    }
  }, FREEZE_ROUNDS * 120_000 + 240_000);

  // As PID 1 of its PID namespace (a container without an init) the kernel ignores a SIGKILL the
  // process sends itself: the aggregator used to log that it exited, then hang until killed.
  const launchers = [
    { how: 'as a child of the test', launcher: undefined, runs: true },
    { how: 'as PID 1 of its PID namespace', launcher: PID_1_LAUNCHER, runs: canLaunchAsPid1() },
  ];
  for (const { how, launcher, runs } of launchers) {
    it.runIf(runs)(`ends within its shutdown timeout when told to stop while the broker is frozen, ${how}`, async () => {
      const prefix = uniqueName('agg-term-frozen');
      const shutdownTimeoutMs = 4_000;
      const aggregator = new AggregatorProcess(`${prefix}-0`, aggregatorEnv(prefix, { SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) }), launcher);
      await aggregator.start();
      try {
        await aggregator.ready(90_000);
        await produceVisits(`${prefix}-visits`, visitsNow(prefix, 100));
        await sleep(500);
        broker.signal('SIGSTOP');
        await sleep(3_000); // Kafka calls now hang inside librdkafka
        aggregator.kill('SIGTERM');
        const ended = await Promise.race([aggregator.exited(), sleep(shutdownTimeoutMs + 1_500).then(() => 'still running')]);
        expect(ended).not.toBe('still running');
      } finally {
        broker.signal('SIGCONT');
        // One that did not end is killed from outside its namespace, where SIGKILL works.
        if (aggregator.running) aggregator.kill('SIGKILL');
        await aggregator.exited();
      }
    }, 180_000);
  }
});
