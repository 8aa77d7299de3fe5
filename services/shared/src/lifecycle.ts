/**
 * Start-up and graceful shutdown of a service process. On SIGTERM or SIGINT the service first
 * reports not ready, then runs its own `stop` (finish or abort the open transaction, close Kafka
 * clients), then closes the HTTP server; if that takes longer than `shutdownTimeoutMs` the
 * process exits anyway, well inside Kubernetes' termination grace period.
 */
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import type { Logger } from './logger.js';
import type { Readiness } from './http/readiness.js';

export interface ServiceProcess {
  logger: Logger;
  http: FastifyInstance;
  readiness: Readiness;
  listen: { host: string; port: number };
  /** Starts the service's work (Kafka clients, loops). Called after the HTTP server listens. */
  start(): Promise<void>;
  /** Stops the service's work cleanly. */
  stop(): Promise<void>;
  shutdownTimeoutMs?: number;
}

export async function runServiceProcess(service: ServiceProcess): Promise<void> {
  const { logger, http, readiness } = service;
  closeWithGrace({ delay: service.shutdownTimeoutMs ?? 10_000, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else logger.info({ signal }, 'shutting down');
    readiness.markShuttingDown();
    try {
      await service.stop();
    } finally {
      await http.close();
    }
    logger.info('stopped');
  });
  await http.listen(service.listen);
  await service.start();
}
