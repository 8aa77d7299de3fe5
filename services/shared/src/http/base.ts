/**
 * The HTTP surface every Eric service shares: `/healthz` (the process is alive: with a Liveness,
 * every loop makes progress or waits only for Kafka; it calls nothing external itself), `/ready` (it can do its job now; 503 with reasons otherwise) and `/metrics`
 * (Prometheus text format). Services register it as a fastify plugin and add their own routes.
 */
import fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import type { Liveness } from './liveness.js';
import type { Readiness } from './readiness.js';

export interface OperationsRoutesOptions {
  registry: Registry;
  readiness: Readiness;
  /** Services with long-running loops pass one, so that a wedged loop fails /healthz. */
  liveness?: Liveness;
}

export const operationsRoutes: FastifyPluginAsync<OperationsRoutesOptions> = async (app, { registry, readiness, liveness }) => {
  app.get('/healthz', { logLevel: 'warn' }, async (_request, reply) => {
    const report = liveness?.report() ?? { alive: true, stalled: [] };
    return report.alive ? { status: 'ok' } : reply.code(503).send({ status: 'stalled', stalled: report.stalled });
  });

  app.get('/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const report = await readiness.report();
    return reply.code(report.ready ? 200 : 503).send(report);
  });

  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
};

/** The `http` part of a service's config schema. */
export function httpConfigSchema(defaultPort: number) {
  return {
    host: {
      doc: 'Address the HTTP server listens on (0.0.0.0 in a pod).',
      format: String,
      default: '0.0.0.0',
      env: 'HTTP_HOST',
    },
    port: {
      doc: 'Port of the HTTP server (health, readiness, metrics and the service API).',
      format: 'port',
      default: defaultPort,
      env: 'HTTP_PORT',
    },
  };
}

/** A fastify instance that logs through the service's pino logger. */
export function createHttpServer(logger: Logger, options: Omit<FastifyServerOptions, 'logger' | 'loggerInstance'> = {}): FastifyInstance {
  // pino's Logger is a FastifyBaseLogger; the cast only widens fastify's logger type parameter.
  return fastify({ ...options, loggerInstance: logger as FastifyBaseLogger });
}
