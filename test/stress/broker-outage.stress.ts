/**
 * The broker-outage scenario, over and over: the whole pipeline (producer, 4 aggregators,
 * gateway) under live traffic while its broker is stopped (refused connections) or frozen
 * (SIGSTOP: requests hang until their timeouts) for 1, 3, 10 and 40 seconds at random moments,
 * most of them inside a transaction. After each outage every service must be ready again by
 * itself, no process may have died, every acknowledged visit is counted exactly once and every
 * window has one exact final. Prints a table of the runs.
 *
 *   make stress-broker-outage                     # 20 runs: outages of 1, 3, 10, 40 s, five times
 *   STRESS_RUNS=8 STRESS_OUTAGES=3,10 make stress-broker-outage
 *
 * Not part of `make test`: it takes about half an hour.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalsOf, readResults, testKafkaSettings } from '@eric/shared/testing';
import { PrivateBroker, sleep } from '@eric/shared/testing/process';
import { DashboardClient, expectedCounts } from '../e2e/support/dashboard-client.js';
import { Pipeline, Traffic } from '../e2e/support/pipeline.js';

const WINDOW = 4;
/** Traffic uses accounts 1 to 3; this one marks the visit that shows the pipeline counts again. */
const MARKER_ACCOUNT = 999;
const outages = (process.env.STRESS_OUTAGES ?? '1,3,10,40').split(',').map(Number);
const runs = Number(process.env.STRESS_RUNS ?? outages.length * 5);
const broker = new PrivateBroker('stress-outage', 800);

interface RunFigures {
  run: number;
  outageSeconds: number;
  how: 'stopped' | 'frozen';
  /** Seconds from the broker serving again to a visit sent then being counted on the websocket. */
  recoverySeconds: number;
  acknowledged: number;
  windows: number;
  exactFinals: number;
  transactionalRetries: number;
  processesDied: number;
  healthzFailures: number;
}
const table: RunFigures[] = [];

beforeAll(async () => {
  await broker.run('reset');
  await broker.run('start');
}, 180_000);

afterAll(async () => {
  console.log(`\nbroker-outage stress: ${table.length} runs`);
  console.table(table);
  const exact = table.filter((run) => run.exactFinals === run.windows && run.processesDied === 0 && run.healthzFailures === 0).length;
  const recoveries = table.map((run) => run.recoverySeconds).sort((a, b) => a - b);
  console.log(
    `runs fully exact and alive: ${exact} of ${table.length}; processes died: ${table.reduce((n, run) => n + run.processesDied, 0)}; ` +
      `/healthz failures: ${table.reduce((n, run) => n + run.healthzFailures, 0)}; runs that retried a transactional call: ${table.filter((run) => run.transactionalRetries > 0).length}; ` +
      `recovery median ${recoveries[Math.floor(recoveries.length / 2)]} s, max ${recoveries.at(-1)} s`,
  );
  await broker.run('reset');
}, 120_000);

describe('broker outages under traffic', () => {
  for (let run = 1; run <= runs; run++) {
    const outageSeconds = outages[(run - 1) % outages.length]!;
    // Rounds through the outage lengths alternate stopped and frozen: every length gets both.
    const how = Math.floor((run - 1) / outages.length) % 2 === 0 ? 'stopped' : 'frozen';
    it(`run ${run}: broker ${how} for ${outageSeconds} s`, async () => {
      // Visits the producer could not write during the outage are retried after it with their
      // original timestamps: the grace covers the outage and the broker's start.
      const graceSeconds = outageSeconds + 30;
      const pipeline = new Pipeline({ brokers: broker.brokers, partitions: 4, windowSeconds: WINDOW, graceSeconds });
      await pipeline.start();
      const client = await DashboardClient.connect(pipeline.gateway.port);
      const services = [...pipeline.aggregators, pipeline.gateway, pipeline.producer];
      const healthz = new HealthWatch(pipeline.aggregators.map((aggregator) => aggregator.port));
      // A batch sent when the outage began is acknowledged only once the broker is back.
      const traffic = new Traffic(pipeline, { ackTimeoutMs: (outageSeconds + 90) * 1000 });
      try {
        traffic.start();
        await sleep(1000 + Math.random() * 3000);
        if (how === 'stopped') await broker.run('stop');
        else broker.signal('SIGSTOP');
        await sleep(outageSeconds * 1000);
        if (how === 'stopped') await broker.run('start');
        else broker.signal('SIGCONT');
        // Recovered: a visit sent now is counted and its count reaches the websocket.
        const back = Date.now();
        const marker = { id: `${pipeline.prefix}-marker`, account_id: MARKER_ACCOUNT, store_id: null, timestamp: back / 1000 };
        await pipeline.postUntilAcknowledged([marker], 120_000);
        await client.waitFor(() => client.frames.some((frame) => frame.account_id === MARKER_ACCOUNT), 120_000, 'the count of a visit sent after the outage');
        const recoverySeconds = (Date.now() - back) / 1000;
        await Promise.all(services.map((service) => service.ready(120_000)));
        const acknowledgedBefore = traffic.acknowledged.length;
        while (traffic.acknowledged.length < acknowledgedBefore + 100) await sleep(100);
        await traffic.stop();

        const expected = expectedCounts([...traffic.acknowledged, marker], WINDOW);
        await client.waitFor(() => [...expected.keys()].every((key) => client.finals().has(key)), (graceSeconds + 60) * 1000, `${expected.size} finals`);
        const onTopic = finalsOf(await readResults(testKafkaSettings(broker.brokers), pipeline.activeVisitorsTopic, 1000)); // throws on a second final
        const exactFinals = [...expected].filter(([key, count]) => client.finals().get(key) === count && onTopic.get(key) === count).length;
        let transactionalRetries = 0;
        for (const aggregator of pipeline.aggregators) transactionalRetries += await aggregator.metric('eric_aggregator_transaction_call_retries_total', 'call="commitTransaction"').catch(() => 0);
        for (const aggregator of pipeline.aggregators) transactionalRetries += await aggregator.metric('eric_aggregator_transaction_call_retries_total', 'call="sendOffsetsToTransaction"').catch(() => 0);
        const figures: RunFigures = {
          run,
          outageSeconds,
          how,
          recoverySeconds,
          acknowledged: traffic.acknowledged.length,
          windows: expected.size,
          exactFinals,
          transactionalRetries,
          processesDied: services.filter((service) => !service.running).length,
          healthzFailures: healthz.failures,
        };
        table.push(figures);
        expect(figures).toMatchObject({ exactFinals: expected.size, processesDied: 0, healthzFailures: 0 });
      } finally {
        await traffic.stop().catch(() => undefined);
        healthz.stop();
        client.close();
        await pipeline.stop();
      }
    }, 600_000);
  }
});

/** Polls every aggregator's /healthz twice a second and counts the answers that are not 200. */
class HealthWatch {
  failures = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(ports: number[]) {
    this.#timer = setInterval(() => {
      for (const port of ports) {
        fetch(`http://127.0.0.1:${port}/healthz`)
          .then((response) => {
            if (response.status !== 200) this.failures++;
          })
          .catch(() => undefined); // not listening: a dead process, counted apart
      }
    }, 500);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
