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

export interface RunningService {
  /** Shuts the service down gracefully because it cannot go on; the process exits with code 1. */
  fail(error: Error): void;
}

export async function runServiceProcess(service: ServiceProcess): Promise<RunningService> {
  const { logger, http, readiness } = service;
  let failure: Error | undefined;
  const handle = closeWithGrace({ delay: service.shutdownTimeoutMs ?? 10_000, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else if (failure) logger.error({ err: failure }, 'shutting down: the service cannot go on');
    else logger.info({ signal }, 'shutting down');
    readiness.markShuttingDown();
    try {
      await service.stop();
    } finally {
      await http.close();
    }
    logger.info('stopped');
    // close-with-grace exits with 1 when this callback throws.
    if (failure) throw failure;
  });
  const running: RunningService = {
    fail(error) {
      failure ??= error;
      handle.close();
    },
  };
  await http.listen(service.listen);
  try {
    await service.start();
  } catch (error) {
    running.fail(error as Error);
  }
  return running;
}
