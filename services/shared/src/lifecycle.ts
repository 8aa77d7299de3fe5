/**
 * Start-up and graceful shutdown of a service process. On SIGTERM or SIGINT the service first
 * reports not ready, then runs its own `stop` (finish or abort the open transaction, close Kafka
 * clients), then closes the HTTP server; if that takes longer than `shutdownTimeoutMs` the
 * process exits anyway, well inside Kubernetes' termination grace period — whatever state a
 * Kafka call is in (see exitNow).
 */
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import type { Logger } from './logger.js';
import type { Readiness } from './http/readiness.js';
import { pendingCalls, reportOverdueCalls } from './kafka/rdkafka.js';

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
  reportOverdueCalls((call, waitedMs, timeoutMs) =>
    logger.warn({ call, waitedMs, timeoutMs }, 'a Kafka call has not answered past its timeout; still waiting for it'),
  );
  const shutdownTimeoutMs = service.shutdownTimeoutMs ?? 10_000;
  let failure: Error | undefined;
  const options = {
    delay: shutdownTimeoutMs,
    logger,
    // A second Ctrl-C or SIGTERM changes nothing: the stop under way is bounded by the delay.
    onSecondSignal: (signal: string) => logger.warn({ signal }, `already shutting down (at most ${shutdownTimeoutMs} ms)`),
    onTimeout: () => exitNow(logger, 1, `did not stop within ${shutdownTimeoutMs} ms`),
  };
  const handle = closeWithGrace(options, async ({ signal, err }) => {
    const deadline = Date.now() + shutdownTimeoutMs;
    if (err) logger.error({ err }, 'shutting down after an error');
    else if (failure) logger.error({ err: failure }, 'shutting down: the service cannot go on');
    else logger.info({ signal }, 'shutting down');
    readiness.markShuttingDown();
    try {
      await service.stop();
    } finally {
      await http.close();
    }
    // process.exit() waits for every native call still running on libuv's thread pool (a Kafka
    // call can take its whole timeout): wait for them within the grace period, or do not wait.
    while (pendingCalls().length > 0 && Date.now() < deadline - 250) await new Promise((resolve) => setTimeout(resolve, 50));
    if (pendingCalls().length > 0) exitNow(logger, failure ? 1 : 0, 'stopped, but not every Kafka call returned within the grace period');
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

/**
 * Ends the process now. process.exit() would wait for every native call still running on libuv's
 * thread pool, which is exactly what may be stuck: with calls pending, SIGKILL, which cannot wait.
 */
function exitNow(logger: Logger, code: number, why: string): never {
  const calls = pendingCalls().map(({ name, startedAt }) => `${name} (${Date.now() - startedAt} ms)`);
  if (calls.length === 0) {
    logger.error({ exitCode: code }, why);
    process.exit(code);
  }
  logger.error({ pendingKafkaCalls: calls, exitCode: 137 }, `${why}: exiting without waiting for the Kafka calls still running`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL was sent');
}
