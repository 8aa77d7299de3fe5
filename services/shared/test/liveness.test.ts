import { describe, expect, it } from 'vitest';
import { createHttpServer, operationsRoutes } from '../src/http/base.js';
import { Liveness } from '../src/http/liveness.js';
import { Readiness } from '../src/http/readiness.js';
import { createLogger } from '../src/logger.js';
import { createMetricsRegistry } from '../src/metrics.js';

/** A Liveness on a clock the test moves, with Kafka reachable from `reachableSince` (undefined: not). */
function fixture(stallAfterMs = 60_000) {
  const state = { now: 1_000_000, reachableSince: 1_000_000 as number | undefined };
  const liveness = new Liveness({ stallAfterMs, now: () => state.now, reachableSince: () => state.reachableSince });
  return { state, liveness };
}

describe('liveness', () => {
  it('is alive while every loop makes progress', () => {
    const { state, liveness } = fixture();
    const count = liveness.watch('count');
    for (let i = 0; i < 10; i++) {
      state.now += 30_000;
      count.progress();
    }
    expect(liveness.report()).toEqual({ alive: true, stalled: [] });
  });

  it('names the loop that made no progress for longer than the limit while Kafka answered', () => {
    const { state, liveness } = fixture();
    const count = liveness.watch('count');
    const repartition = liveness.watch('repartition');
    state.now += 61_000;
    repartition.progress();
    expect(liveness.report()).toEqual({ alive: false, stalled: [{ name: 'count', lastProgressAt: 1_000_000, stalledSince: 1_000_000 }] });
    count.progress();
    expect(liveness.report().alive).toBe(true);
  });

  it('never calls a loop wedged while Kafka does not answer, and restarts the clock when it answers again', () => {
    const { state, liveness } = fixture();
    liveness.watch('count');
    state.reachableSince = undefined; // a broker outage of ten minutes
    state.now += 600_000;
    expect(liveness.report().alive).toBe(true);
    state.reachableSince = state.now; // Kafka is back: the loop gets the whole limit to move again
    state.now += 59_000;
    expect(liveness.report().alive).toBe(true);
    state.now += 2_000;
    expect(liveness.report().stalled.map((watch) => watch.name)).toEqual(['count']);
  });

  it('fails /healthz and says in /ready which loop is stuck and since when', async () => {
    const { state, liveness } = fixture();
    liveness.watch('count');
    const readiness = new Readiness().add('progress', () => liveness.readiness());
    const app = createHttpServer(createLogger('test', 'silent'));
    await app.register(operationsRoutes, { registry: createMetricsRegistry(), readiness, liveness });

    expect((await app.inject('/healthz')).statusCode).toBe(200);
    state.now += 75_000;
    const health = await app.inject('/healthz');
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ status: 'stalled', stalled: [{ name: 'count', lastProgressAt: 1_000_000 }] });
    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.progress.detail).toBe(
      `count: no progress since ${new Date(1_000_000).toISOString()} (75 s) although Kafka answers`,
    );
  });
});
