/**
 * The producer's HTTP app: the operations routes (`/healthz`, `/ready`, `/metrics`) and
 * `POST /v1/visits`. Built without listening, so tests drive it with `app.inject()`.
 *
 * Answers of `POST /v1/visits`:
 * - 202 `{accepted, ids}`: Kafka acknowledged every visit (acks=all); nothing will be lost.
 * - 400 `{error, message, invalid: [{index, reason, detail}]}`: nothing was written.
 * - 413: the body or the number of visits is over the limit; nothing was written.
 * - 405 + `Allow: POST` for any other method on the path.
 * - 503 `{error, message, visits}` + `Retry-After`: Kafka is unreachable, the queue is full, or
 *   the acknowledgement did not come in time. Some visits may have been written: resend the
 *   `visits` of the answer as they are (with the ids and timestamps the server filled in), and
 *   Eric counts each visit once.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { createHttpServer, operationsRoutes, type Logger, type Readiness } from '@eric/shared';
import { parseIngestBody } from './ingest.js';
import type { ProducerMetrics } from './metrics.js';
import type { VisitWriter } from './visit-writer.js';

export interface IngestSettings {
  bodyLimitBytes: number;
  maxVisits: number;
  retryAfterSeconds: number;
}

export interface AppDeps {
  logger: Logger;
  registry: Registry;
  readiness: Readiness;
  metrics: ProducerMetrics;
  writer: Pick<VisitWriter, 'write'>;
  ingest: IngestSettings;
  /** Epoch seconds; tests may fix it. */
  now?: () => number;
  newId?: () => string;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = createHttpServer(deps.logger, { bodyLimit: deps.ingest.bodyLimitBytes });
  void app.register(operationsRoutes, { registry: deps.registry, readiness: deps.readiness });
  void app.register(ingestRoutes, deps);
  return app;
}

const ingestRoutes: FastifyPluginAsync<AppDeps> = async (app, deps) => {
  const { metrics, writer, ingest } = deps;
  const now = deps.now ?? (() => Date.now() / 1000);
  const newId = deps.newId ?? randomUUID;

  // The body is parsed by the route, item by item, so that one bad item gets its own reason
  // instead of fastify's generic 400. Any content type is read as text: `curl -d` sends
  // application/x-www-form-urlencoded, and refusing it would only confuse.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.addHook('onResponse', async (_request, reply) => {
    metrics.ingestRequests.inc({ status: String(reply.statusCode) });
  });

  // The path exists, only the method is wrong: say so (405 + Allow) rather than "not found".
  app.route({
    method: ['GET', 'PUT', 'PATCH', 'DELETE'],
    url: '/v1/visits',
    logLevel: 'warn',
    handler: async (request, reply) =>
      reply
        .code(405)
        .header('allow', 'POST')
        .send({ error: 'method_not_allowed', message: `${request.method} is not supported here: send visits with POST /v1/visits` }),
  });

  // logLevel warn: an ingest endpoint takes thousands of requests a second; the metrics count
  // them, and only refusals (503) are worth a log line.
  app.post('/v1/visits', { bodyLimit: ingest.bodyLimitBytes, logLevel: 'warn' }, async (request, reply) => {
    const body = typeof request.body === 'string' ? request.body : '';
    const parsed = parseIngestBody(body, request.headers['content-type'], {
      nowSeconds: now(),
      newId,
      limits: { maxVisits: ingest.maxVisits },
    });
    if (!parsed.ok) {
      for (const reason of parsed.rejected) metrics.ingestRejectedVisits.inc({ reason });
      return reply.code(parsed.status).send(parsed.body);
    }

    const ids = parsed.visits.map((visit) => visit.id);
    const outcome = await writer.write(parsed.visits, 'http');
    if (outcome.ok) return reply.code(202).send({ accepted: outcome.written, ids });

    request.log.warn({ reason: outcome.reason, detail: outcome.detail, visits: ids.length }, 'ingest refused: Kafka did not take the visits');
    return reply
      .code(503)
      .header('retry-after', String(ingest.retryAfterSeconds))
      .send({
        error: outcome.reason,
        message:
          outcome.mayHaveWritten
            ? `${outcome.detail}. Some visits may have been written: resend these visits as they are (a visit is counted once).`
            : `${outcome.detail}. Nothing was written: resend these visits as they are after Retry-After.`,
        // Complete, with the ids and timestamps filled in here: a retry of the same visits can
        // never count twice, which a retry that let the server pick new ones could.
        visits: parsed.visits,
      });
  });
};
