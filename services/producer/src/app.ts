/**
 * The producer's HTTP app: the operations routes (`/healthz`, `/ready`, `/metrics`) and
 * `POST /v1/visits`. Built without listening, so tests drive it with `app.inject()`.
 *
 * Answers of `POST /v1/visits`, checked in this order (the cheap refusals before the body is read):
 * - 429 `{error: 'client_rate_limited'}` + `Retry-After`: this address sent too many requests.
 * - 401 `{error: 'missing_key' | 'unknown_key'}`: ingest keys are configured and the request
 *   has no `Authorization: Bearer <key>` or an unknown one.
 * - 408: the whole request did not arrive within the request timeout; the connection is closed.
 * - 202 `{accepted, ids}`: Kafka acknowledged every visit (acks=all); nothing will be lost.
 * - 400 `{error, message, invalid: [{index, reason, detail}]}`: nothing was written.
 * - 413: the body or the number of visits is over the limit; nothing was written.
 * - 403 `{error: 'account_not_allowed', accounts}`: the key may not send some of the visits'
 *   accounts; nothing was written.
 * - 429 `{error: 'account_over_budget', account}` + `Retry-After`: an account of the request is
 *   over its visit budget; nothing was written, and waiting Retry-After is enough to get through.
 * - 405 + `Allow: POST` for any other method on the path.
 * - 503 `{error, message, visits}` + `Retry-After`: Kafka is unreachable, the queue is full, or
 *   the acknowledgement did not come in time. Some visits may have been written: resend the
 *   `visits` of the answer as they are (with the ids and timestamps the server filled in), and
 *   Eric counts each visit once.
 */
import { randomUUID } from 'node:crypto';
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { createHttpServer, operationsRoutes, type AccountScope, type Logger, type Readiness } from '@eric/shared';
import { AccountBudgets } from './account-budget.js';
import { parseIngestBody } from './ingest.js';
import { IngestKeys, accountsOutside } from './ingest-keys.js';
import type { ProducerMetrics } from './metrics.js';
import type { VisitWriter } from './visit-writer.js';

/** The `ingest` part of the configuration (config.ts documents each). */
export interface IngestSettings {
  bodyLimitBytes: number;
  maxVisits: number;
  retryAfterSeconds: number;
  keys: string;
  maxFutureSeconds: number;
  requestTimeoutMs: number;
  clientRequestsPerSecond: number;
  accountVisitsPerSecond: number;
  accountBurstSeconds: number;
  maxTrackedClients: number;
  maxTrackedAccounts: number;
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
  const { bodyLimitBytes, requestTimeoutMs } = deps.ingest;
  // A slowly trickled body must not hold a connection: a request that takes longer than the
  // timeout to arrive gets 408 and its connection is closed, and a silent connection is dropped.
  // Node checks its request timeouts every connectionsCheckingInterval (30 s by default, which
  // would triple a 10 s timeout), so check every second at most.
  const app = createHttpServer(deps.logger, {
    bodyLimit: bodyLimitBytes,
    requestTimeout: requestTimeoutMs,
    connectionTimeout: requestTimeoutMs,
    http: { requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs) },
  });
  app.server.on('clientError', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') deps.metrics.ingestRefused.inc({ reason: 'request_timeout' });
  });
  void app.register(operationsRoutes, { registry: deps.registry, readiness: deps.readiness });
  void app.register(ingestRoutes, deps);
  return app;
}

const ingestRoutes: FastifyPluginAsync<AppDeps> = async (app, deps) => {
  const { metrics, writer, ingest } = deps;
  const now = deps.now ?? (() => Date.now() / 1000);
  const newId = deps.newId ?? randomUUID;
  const keys = new IngestKeys(ingest.keys);
  const budgets = new AccountBudgets({
    visitsPerSecond: ingest.accountVisitsPerSecond,
    burstSeconds: ingest.accountBurstSeconds,
    maxAccounts: ingest.maxTrackedAccounts,
  });
  const scopes = new WeakMap<FastifyRequest, AccountScope>();

  // Per client address, before anything else (a key guesser is slowed down too). Only the ingest
  // route: /healthz, /ready and /metrics stay free. The table is an LRU of maxTrackedClients.
  await app.register(rateLimit, {
    global: false,
    cache: ingest.maxTrackedClients,
    onExceeded: () => metrics.ingestRefused.inc({ reason: 'client_rate_limited' }),
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: 'client_rate_limited',
      message: `this address sent more than ${context.max} requests in a second: retry after ${context.after}`,
    }),
  });
  const clientLimit: RateLimitOptions | false = ingest.clientRequestsPerSecond > 0 ? { max: ingest.clientRequestsPerSecond, timeWindow: 1_000 } : false;

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
  const options = {
    bodyLimit: ingest.bodyLimitBytes,
    logLevel: 'warn' as const,
    config: { rateLimit: clientLimit },
    // The key is checked before the body is read: an unknown sender does not get to upload 1 MiB.
    preParsing: async (request: FastifyRequest, reply: FastifyReply) => {
      const checked = keys.check(request.headers.authorization);
      if (checked.ok) {
        scopes.set(request, checked.scope);
        return;
      }
      metrics.ingestRefused.inc({ reason: checked.reason });
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({
          error: checked.reason,
          message:
            checked.reason === 'missing_key'
              ? 'send an ingest key as "Authorization: Bearer <key>"'
              : 'the ingest key is not known',
        });
    },
  };

  app.post('/v1/visits', options, async (request, reply) => {
    const body = typeof request.body === 'string' ? request.body : '';
    const nowSeconds = now();
    const parsed = parseIngestBody(body, request.headers['content-type'], {
      nowSeconds,
      newId,
      limits: { maxVisits: ingest.maxVisits, maxFutureSeconds: ingest.maxFutureSeconds },
    });
    if (!parsed.ok) {
      for (const reason of parsed.rejected) metrics.ingestRejectedVisits.inc({ reason });
      return reply.code(parsed.status).send(parsed.body);
    }

    const forbidden = accountsOutside(scopes.get(request) ?? { all: false, accounts: new Set() }, parsed.visits);
    if (forbidden.length > 0) {
      metrics.ingestRefused.inc({ reason: 'account_not_allowed' });
      return reply.code(403).send({
        error: 'account_not_allowed',
        message: `this ingest key may not send visits of account ${forbidden.join(', ')}; nothing was written`,
        accounts: forbidden,
      });
    }

    const admission = budgets.admit(parsed.visits, nowSeconds * 1000);
    if (!admission.ok) {
      metrics.ingestRefused.inc({ reason: 'account_over_budget' });
      return reply
        .code(429)
        .header('retry-after', String(admission.retryAfterSeconds))
        .send({
          error: 'account_over_budget',
          message: `account ${admission.accountId} is over its budget of ${ingest.accountVisitsPerSecond} visits per second; nothing was written: resend after Retry-After`,
          account: admission.accountId,
        });
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
