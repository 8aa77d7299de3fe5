/**
 * The gateway process: configuration from the environment, then the HTTP server, then the
 * follower of active-visitors; graceful shutdown on SIGTERM/SIGINT.
 */
import { createLogger, loadConfigOrExit, runServiceProcess } from '@eric/shared';
import { loadGatewayConfig } from './config.js';
import { createGateway } from './gateway.js';

const config = loadConfigOrExit(() => loadGatewayConfig());

const logger = createLogger('gateway', config.log.level);
const gateway = await createGateway(config, logger);
await runServiceProcess({
  logger,
  http: gateway.app,
  readiness: gateway.readiness,
  listen: { host: config.http.host, port: config.http.port },
  start: () => gateway.start(),
  stop: () => gateway.stop(),
});
