/**
 * The HTTP surface every Eric service shares: `/healthz` (the process is alive: with a Liveness,
 * every loop makes progress or waits only for Kafka; it calls nothing external itself), `/ready` (it can do its job now; 503 with reasons otherwise) and `/metrics`
 * (Prometheus text format). Services register it as a fastify plugin and add their own routes.
 */
import fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { ServerOptions } from 'node:http';
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

/**
 * A URL as logs may show it: the value of every query parameter whose name ends in `token`
 * replaced. Browsers and old clients pass a token as `?token=`; a log line is read by more people,
 * and kept longer, than the token's owner would allow.
 */
export function redactUrl(url: string): string {
  return url.replace(/([?&][^=&#]*token=)[^&#]*/gi, '$1[redacted]');
}

/** fastify's own request serializer, with the URL redacted: it logs `req` on every 5xx. */
function requestForLog(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** fastify's log lines, except that its 404 line (which quotes the URL in its message) is redacted. */
class RedactingLogController extends LogController {
  override routeNotFound(request: FastifyRequest, _reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    request.log.info(`Route ${request.method}:${redactUrl(request.url)} not found`);
  }
}

/** Options of createHttpServer: fastify's, and node's HTTP server's (`http`, e.g. its timeout checks). */
export type HttpServerOptions = Omit<FastifyServerOptions, 'logger' | 'loggerInstance'> & { http?: ServerOptions };

/** A fastify instance that logs through the service's pino logger, never a token of a URL. */
export function createHttpServer(logger: Logger, options: HttpServerOptions = {}): FastifyInstance {
  // fastify merges the instance's serializers over its own, so this `req` replaces fastify's.
  const httpLogger = logger.child({}, { serializers: { req: requestForLog } });
  // pino's Logger is a FastifyBaseLogger; the cast only widens fastify's logger type parameter.
  return fastify({ logController: new RedactingLogController(), ...options, loggerInstance: httpLogger as FastifyBaseLogger });
}
