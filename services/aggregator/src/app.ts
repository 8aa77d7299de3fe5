/**
 * The aggregator's HTTP surface: /healthz (fails when a stage is wedged), /ready (with the phase of each stage: restoring n of
 * m, catching up, running; and the partition layout verdict, named "topology"), /metrics.
 */
import { createHttpServer, operationsRoutes, type Liveness, type Logger, type Readiness } from '@eric/shared';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export async function buildAggregatorHttp(deps: { logger: Logger; registry: Registry; readiness: Readiness; liveness?: Liveness }): Promise<FastifyInstance> {
  const app = createHttpServer(deps.logger);
  await app.register(operationsRoutes, { registry: deps.registry, readiness: deps.readiness, liveness: deps.liveness });
  return app;
}
