import { Writable } from 'node:stream';
import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createHttpServer, operationsRoutes } from '../src/http/base.js';
import { Readiness } from '../src/http/readiness.js';
import { createLogger } from '../src/logger.js';
import { createMetricsRegistry } from '../src/metrics.js';

function silentLogger() {
  return createLogger('test', 'silent');
}

async function buildApp(readiness = new Readiness()) {
  const registry = createMetricsRegistry();
  const app = createHttpServer(silentLogger());
  await app.register(operationsRoutes, { registry, readiness });
  return { app, registry, readiness };
}

describe('operations routes', () => {
  it('answers /healthz without checking anything', async () => {
    const { app } = await buildApp(new Readiness().add('kafka', () => ({ ready: false })));
    const response = await app.inject('/healthz');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('reports not ready with every check and its reason, then ready', async () => {
    let restored = 3;
    const readiness = new Readiness()
      .add('state', () => ({ ready: restored === 10, detail: `restoring ${restored} of 10` }))
      .add('http', () => ({ ready: true }));
    const { app } = await buildApp(readiness);

    const before = await app.inject('/ready');
    expect(before.statusCode).toBe(503);
    expect(before.json()).toEqual({
      ready: false,
      checks: { state: { ready: false, detail: 'restoring 3 of 10' }, http: { ready: true } },
    });

    restored = 10;
    const after = await app.inject('/ready');
    expect(after.statusCode).toBe(200);
    expect(after.json().ready).toBe(true);
  });

  it('turns a failing check into a not-ready reason instead of a 500', async () => {
    const readiness = new Readiness().add('broken', () => {
      throw new Error('metadata timeout');
    });
    const { app } = await buildApp(readiness);
    const response = await app.inject('/ready');
    expect(response.statusCode).toBe(503);
    expect(response.json().checks.broken.detail).toBe('check failed: metadata timeout');
  });

  it('reports not ready once shutting down', async () => {
    const { app, readiness } = await buildApp();
    expect((await app.inject('/ready')).statusCode).toBe(200);
    readiness.markShuttingDown();
    const response = await app.inject('/ready');
    expect(response.statusCode).toBe(503);
    expect(response.json().checks.shutdown.detail).toBe('shutting down');
  });

  it('exposes default and service metrics in Prometheus format', async () => {
    const { app, registry } = await buildApp();
    new Counter({ name: 'eric_test_things_total', help: 'Things.', registers: [registry] }).inc(3);
    const response = await app.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.body).toContain('eric_test_things_total 3');
    expect(response.body).toContain('process_cpu_seconds_total');
    expect(response.body).toContain('nodejs_eventloop_lag_seconds');
  });
});

describe('logger', () => {
  it('writes JSON lines with the service name and redacts secrets', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger('aggregator', 'info', sink);
    logger.child({ partition: 2 }).info({ kafka: { saslPassword: 'hunter2' } }, 'started');
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ service: 'aggregator', partition: 2, msg: 'started', level: 30 });
    expect(JSON.stringify(line)).not.toContain('hunter2');
  });
});
