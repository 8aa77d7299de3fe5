/**
 * The gateway's HTTP surface as a fastify instance, without a port or Kafka: tests build it and
 * call `inject()` or listen on port 0.
 *
 *   GET /                        the dashboard page (self-contained HTML)
 *   GET /ws                      websocket: snapshot, then live counts; setFilter / close
 *   GET /api/active-visitors     the current counts as JSON (?account=&store=&windows=)
 *   GET /healthz /ready /metrics operations
 *
 * With access control on, /ws and /api need a token (`Authorization: Bearer …` or `?token=`);
 * without a valid one the answer is 401, before any websocket upgrade.
 */
import { readFileSync } from 'node:fs';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { createHttpServer, operationsRoutes, type Logger, type Readiness } from '@eric/shared';
import { presentedToken, scopeAllows, type AccessControl, type AccountScope } from './access.js';
import type { Collator, WindowView } from './collator.js';
import type { Hub } from './hub.js';
import type { GatewayMetrics } from './metrics.js';
import { matchesFilter, type Filter } from './protocol.js';

export interface AppDependencies {
  logger: Logger;
  registry: Registry;
  readiness: Readiness;
  metrics: GatewayMetrics;
  access: AccessControl;
  collator: Collator;
  hub: Hub;
  /** Whether the view is as current as the topic (reported with REST snapshots). */
  caughtUp(): boolean;
  maxPayloadBytes: number;
  snapshotWindows: number;
}

// Kept outside src/ so the same relative path works from src/ (tests) and dist/ (the build).
const DASHBOARD_URL = new URL('../public/index.html', import.meta.url);

/** Response headers of the dashboard: it loads nothing from elsewhere and talks only to this host. */
const DASHBOARD_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-cache',
  'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'",
  'x-content-type-options': 'nosniff',
};

interface SnapshotQuery {
  account?: number;
  store?: string;
  windows?: number;
  token?: string;
}

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = createHttpServer(deps.logger);
  const dashboard = readFileSync(DASHBOARD_URL);

  await app.register(operationsRoutes, { registry: deps.registry, readiness: deps.readiness });
  await app.register(websocket, { options: { maxPayload: deps.maxPayloadBytes } });

  app.get('/', async (_request, reply) => reply.headers(DASHBOARD_HEADERS).send(dashboard));

  // /ws and /api share the token check; it runs before the upgrade, so a refusal is a plain 401.
  const scopes = new WeakMap<FastifyRequest, AccountScope>();
  await app.register(async (api) => {
    api.addHook('preValidation', async (request: FastifyRequest, reply: FastifyReply) => {
      const scope = deps.access.authenticate(presentedToken(request.headers, request.query));
      if (scope === null) {
        deps.metrics.upgradesRefused.inc();
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid token is required' });
      }
      scopes.set(request, scope);
    });

    // Both routes log only warnings: fastify's request lines would carry ?token= into the logs.
    api.get('/ws', { websocket: true, logLevel: 'warn' }, (socket, request) => {
      deps.hub.connect(socket, scopes.get(request) ?? { all: false, accounts: new Set() }, request.socket);
    });

    api.get<{ Querystring: SnapshotQuery }>(
      '/api/active-visitors',
      {
        logLevel: 'warn',
        schema: {
          querystring: {
            type: 'object',
            properties: {
              account: { type: 'integer', minimum: 0 },
              store: { type: 'string', maxLength: 256 },
              windows: { type: 'integer', minimum: 1, maximum: 100_000 },
              token: { type: 'string' },
            },
          },
        },
      },
      async (request, reply) => {
        const scope = scopes.get(request) ?? { all: false, accounts: new Set() };
        const { account, store, windows } = request.query;
        if (account !== undefined && !scopeAllows(scope, account)) {
          return reply.code(403).send({ error: 'forbidden', message: `this token may not see account ${account}` });
        }
        const filter: Filter = {};
        if (account !== undefined) filter.account = account;
        if (store !== undefined) filter.store = store;
        const include = (view: WindowView) => scopeAllows(scope, view.account_id) && matchesFilter(filter, view);
        return { caught_up: deps.caughtUp(), results: deps.collator.snapshot(include, windows ?? deps.snapshotWindows) };
      },
    );
  });

  return app;
}
