/**
 * The aggregator's HTTP surface: /healthz, /ready (with the phase of each stage: restoring n of
 * m, catching up, running; and the topology verdict), /metrics.
 */
import { createHttpServer, operationsRoutes, type Logger, type Readiness } from '@eric/shared';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export async function buildAggregatorHttp(deps: { logger: Logger; registry: Registry; readiness: Readiness }): Promise<FastifyInstance> {
  const app = createHttpServer(deps.logger);
  await app.register(operationsRoutes, { registry: deps.registry, readiness: deps.readiness });
  return app;
}
