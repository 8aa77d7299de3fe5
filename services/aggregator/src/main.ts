/**
 * The aggregator process (see aggregator.ts), run by its entry point start.cjs (start.cts), which
 * sizes libuv's thread pool before this module loads: configuration from the environment,
 * then the HTTP server, then the stages; graceful shutdown on SIGTERM/SIGINT. Exits with 78 when
 * the configuration is bad, with 1 when a stage cannot start or after a fatal error.
 */
import { createLogger, loadConfigOrExit, runServiceProcess, type RunningService } from '@eric/shared';
import { createAggregator } from './aggregator.js';
import { loadAggregatorConfig } from './config.js';
import { requireEnoughThreads } from './thread-pool.js';

// The thread pool start.cjs sized, then the settings: either one wrong ends the process with 78.
loadConfigOrExit(() => requireEnoughThreads());
const config = loadConfigOrExit(() => loadAggregatorConfig());

const logger = createLogger('aggregator', config.log.level).child({ partition: config.ordinal, instance: config.instanceId });
let running: RunningService | undefined;
const aggregator = await createAggregator(config, logger, {
  onFatal(error) {
    if (running) running.fail(error);
    else {
      logger.fatal({ err: error }, 'cannot start');
      process.exit(1);
    }
  },
});
running = await runServiceProcess({
  logger,
  http: aggregator.http,
  readiness: aggregator.readiness,
  listen: config.http,
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  start: () => aggregator.start(),
  stop: () => aggregator.stop(),
});
