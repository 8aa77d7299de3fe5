/**
 * The gateway's HTTP surface as a fastify instance, without a port or Kafka: tests build it and
 * call `inject()` or listen on port 0.
 *
 *   GET /                        the dashboard page; its modules in /dashboard/, uPlot in /vendor/
 *   GET /ws                      websocket: snapshot, then live counts; setFilter / close (?windows=)
 *   GET /api/active-visitors     the current counts as JSON (?account=&store=&windows=)
 *   GET /api/access              whether a token is needed, and which accounts this one may see
 *   GET /healthz /ready /metrics operations
 *
 * /ws and /api pass the access guard first (access-guard.ts: origin and host, throttling of
 * refused tokens, the token), so a refusal is a plain 403, 429 or 401 before any upgrade.
 */
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { createHttpServer, operationsRoutes, type Logger, type Readiness } from '@eric/shared';
import { scopeAllows, selectProtocol, type AccessControl, type AccountScope } from './access.js';
import { createGuard } from './access-guard.js';
import type { Collator } from './collator.js';
import { loadDashboardAssets } from './dashboard-assets.js';
import { isProtocolViolation, type Hub } from './hub.js';
import type { GatewayMetrics } from './metrics.js';
import type { OriginPolicy } from './origin-policy.js';
import { matchesFilter, type Filter, type WindowView } from './protocol.js';
import { InvalidCursorError, SnapshotPages } from './snapshot-pages.js';

export interface AppDependencies {
  logger: Logger;
  registry: Registry;
  readiness: Readiness;
  metrics: GatewayMetrics;
  access: AccessControl;
  /** Origins allowed besides the gateway's own host (GATEWAY_ALLOWED_ORIGINS). */
  origins: OriginPolicy;
  /** Refused tokens per address and window before it is throttled. */
  refusals: { max: number; windowSeconds: number };
  collator: Collator;
  hub: Hub;
  /** Whether the view is as current as the topic (reported with REST snapshots). */
  caughtUp(): boolean;
  maxPayloadBytes: number;
  snapshotWindows: number;
  /** Most views in one REST response. */
  pageMaxKeys: number;
  /** REST snapshot requests per client address and minute. */
  restRequestsPerMinute: number;
}

/** Response headers of the dashboard's files: the page loads nothing from elsewhere and talks only to this host. */
const DASHBOARD_HEADERS = {
  'cache-control': 'no-cache',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self'",
  'x-content-type-options': 'nosniff',
};

interface SnapshotQuery {
  account?: number;
  store?: string;
  windows?: number;
  limit?: number;
  cursor?: string;
  token?: string;
}

/**
 * How long a closing connection may take to answer our close frame before it is cut. ws waits
 * 30 s by default, holding the queue of a client that never reads: a dropped slow client's
 * memory is given back within this.
 */
const CLOSE_TIMEOUT_MS = 5_000;

/** `windows` as REST and /ws take it: how many of the most recent windows to send. */
const WINDOWS_PARAMETER = { type: 'integer', minimum: 1, maximum: 100_000 } as const;

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = createHttpServer(deps.logger);
  const dashboard = loadDashboardAssets();
  const pages = new SnapshotPages(deps.collator, deps.pageMaxKeys);

  await app.register(operationsRoutes, { registry: deps.registry, readiness: deps.readiness });
  // ws ≥ 8.18 reads closeTimeout; @types/ws does not list it yet, hence a variable, not a literal.
  // handleProtocols: the dashboard offers `eric.v1` and its token as a second subprotocol; the answer names only the first.
  const serverOptions = { maxPayload: deps.maxPayloadBytes, closeTimeout: CLOSE_TIMEOUT_MS, handleProtocols: selectProtocol };
  await app.register(websocket, {
    options: serverOptions,
    // The plugin's default logs every socket error at error level with its stack and cuts the
    // connection, so an oversized frame ended as 1006 instead of ws's own 1009 close frame.
    errorHandler(error, socket) {
      if (isProtocolViolation(error)) return; // ws is closing it with the right code; the hub counts it
      // Anything else comes from the gateway's own handler: a bug worth an error line.
      deps.logger.error({ err: error }, 'websocket handler failed');
      socket.terminate();
    },
  });

  // logLevel warn: one page load fetches eight files, sixteen request lines of no interest.
  for (const [path, asset] of dashboard) {
    app.get(path, { logLevel: 'warn' }, async (_request, reply) => reply.headers(DASHBOARD_HEADERS).type(asset.contentType).send(asset.body));
  }

  // /ws and /api share the access guard; it runs before the upgrade, so a refusal is a plain HTTP answer.
  const scopes = new WeakMap<FastifyRequest, AccountScope>();
  const scopeOf = (request: FastifyRequest): AccountScope => scopes.get(request) ?? { all: false, accounts: new Set() };
  await app.register(async (api) => {
    const guard = await createGuard(api, { access: deps.access, origins: deps.origins, refusals: deps.refusals, metrics: deps.metrics });
    api.addHook('preValidation', async (request: FastifyRequest, reply: FastifyReply) => {
      const scope = await guard(request, reply);
      if (scope === null) return reply;
      scopes.set(request, scope);
    });

    // These routes log only warnings: a line per request is noise (their URLs' tokens are redacted anyway).
    api.get<{ Querystring: { windows?: number } }>(
      '/ws',
      { websocket: true, logLevel: 'warn', schema: { querystring: { type: 'object', properties: { windows: WINDOWS_PARAMETER, token: { type: 'string' } } } } },
      (socket, request) => {
        deps.hub.connect(socket, scopeOf(request), { transport: request.socket, snapshotWindows: request.query.windows });
      },
    );

    api.get('/api/access', { logLevel: 'warn' }, async (request) => {
      const scope = scopeOf(request);
      return { access_control: deps.access.enabled, accounts: scope.all ? '*' : [...scope.accounts].sort((a, b) => a - b) };
    });

    api.get<{ Querystring: SnapshotQuery }>(
      '/api/active-visitors',
      {
        logLevel: 'warn',
        // Each request walks the collation: an address polling in a loop is told to slow down.
        config: { rateLimit: { max: deps.restRequestsPerMinute, timeWindow: 60_000 } },
        schema: {
          querystring: {
            type: 'object',
            properties: {
              account: { type: 'integer', minimum: 0 },
              store: { type: 'string', maxLength: 256 },
              windows: WINDOWS_PARAMETER,
              limit: { type: 'integer', minimum: 1, maximum: deps.pageMaxKeys },
              cursor: { type: 'string', maxLength: 1024 },
              token: { type: 'string' },
            },
          },
        },
      },
      async (request, reply) => {
        const scope = scopeOf(request);
        const { account, store, windows, limit, cursor } = request.query;
        if (account !== undefined && !scopeAllows(scope, account)) {
          return reply.code(403).send({ error: 'forbidden', message: `this token may not see account ${account}` });
        }
        const filter: Filter = {};
        if (account !== undefined) filter.account = account;
        if (store !== undefined) filter.store = store;
        const unfiltered = scope.all && account === undefined && store === undefined;
        const include = unfiltered ? null : (view: WindowView) => scopeAllows(scope, view.account_id) && matchesFilter(filter, view);
        try {
          const page = pages.page(include, windows ?? deps.snapshotWindows, limit ?? deps.pageMaxKeys, cursor);
          return { caught_up: deps.caughtUp(), ...page };
        } catch (error) {
          if (error instanceof InvalidCursorError) return reply.code(400).send({ error: 'invalid_cursor', message: error.message });
          throw error;
        }
      },
    );
  });

  return app;
}
