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
    // close-with-grace calls process.exit(1) right after these two hooks, and process.exit()
    // waits for the Kafka calls still running (see exitNow): a second signal, or an error while
    // stopping, ends the process here instead, without waiting.
    onSecondSignal: (signal: string) => exitNow(logger, 1, `${signal} again while shutting down`),
    onSecondError: (error: unknown) => exitNow(logger, 1, `an error while shutting down: ${(error as Error)?.message ?? String(error)}`),
    onTimeout: () => exitNow(logger, 1, `did not stop within ${shutdownTimeoutMs} ms`),
  };
  const handle = closeWithGrace(options, async ({ signal, err }) => {
    const deadline = Date.now() + shutdownTimeoutMs;
    if (err) logger.error({ err }, 'shutting down after an error');
    else if (failure) logger.error({ err: failure }, 'shutting down: the service cannot go on');
    else logger.info({ signal }, 'shutting down');
    readiness.markShuttingDown();
    let stopError: unknown;
    try {
      await service.stop();
    } catch (error) {
      stopError = error;
    }
    await http.close();
    // process.exit() waits for every native call still running on libuv's thread pool (a Kafka
    // call can take its whole timeout): wait for them within the grace period, or do not wait —
    // also when stop() failed, after which close-with-grace calls process.exit() as well.
    while (pendingCalls().length > 0 && Date.now() < deadline - 250) await new Promise((resolve) => setTimeout(resolve, 50));
    if (pendingCalls().length > 0) exitNow(logger, failure || stopError ? 1 : 0, 'stopped, but not every Kafka call returned within the grace period');
    // close-with-grace logs what this callback throws and exits with 1.
    if (stopError) throw stopError;
    logger.info('stopped');
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
 * thread pool (it joins the pool's threads), which is exactly what may be stuck: with calls
 * pending, SIGKILL, which cannot wait.
 *
 * Except where the kernel ignores it: the first process of a PID namespace (PID 1 of a container
 * started without an init) receives from inside its namespace only the signals it has a handler
 * for, and no process can handle SIGKILL. Such a process cannot end before its Kafka calls
 * return; it says so. (The aggregator never runs as PID 1: its entry point, start.cts, then runs
 * it as a child process.)
 */
function exitNow(logger: Logger, code: number, why: string): never {
  const calls = pendingCalls().map(({ name, startedAt }) => `${name} (${Date.now() - startedAt} ms)`);
  if (calls.length === 0) {
    logger.error({ exitCode: code }, why);
    process.exit(code);
  }
  logger.error({ pendingKafkaCalls: calls, exitCode: 137 }, `${why}: exiting without waiting for the Kafka calls still running`);
  process.kill(process.pid, 'SIGKILL');
  // A signal a process sends itself is delivered before kill() returns: still here means ignored.
  logger.error(
    { pid: process.pid, exitCode: code },
    'SIGKILL to itself was ignored: this process is PID 1 of a container without an init, and ends only once its Kafka calls return; run it under an init (tini, docker run --init)',
  );
  process.exit(code);
}
