/**
 * Entry point of the aggregator process (see aggregator.ts): configuration from the environment,
 * then the HTTP server, then the stages; graceful shutdown on SIGTERM/SIGINT. Exits with 78 when
 * the configuration is bad, with 1 when a stage cannot start or after a fatal error.
 */
import { createLogger, loadConfigOrExit, runServiceProcess, type RunningService } from '@eric/shared';
import { createAggregator } from './aggregator.js';
import { loadAggregatorConfig } from './config.js';
import { exitUnlessEnoughThreads } from './thread-pool.js';

exitUnlessEnoughThreads();

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
