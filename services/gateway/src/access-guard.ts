/**
 * The check every request to /ws and /api passes before its handler (so before any websocket
 * upgrade), in this order:
 *
 * 1. origin and host (origin-policy.ts): 403, a page that may not use the gateway;
 * 2. refusals: an address that had `max` tokens refused within the window gets 429 with
 *    Retry-After until that window ends, even with a right token — a token cannot be guessed at
 *    more than `max` tries a window (the count is @fastify/rate-limit's, per client address);
 * 3. the token: 401 with the reason, and the refusal counted against the address.
 *
 * Every refusal is counted in `eric_gateway_requests_refused_total{reason}`.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { presentedToken, type AccessControl, type AccountScope } from './access.js';
import type { GatewayMetrics } from './metrics.js';
import { checkOrigin, type OriginPolicy } from './origin-policy.js';

export interface GuardOptions {
  access: AccessControl;
  origins: OriginPolicy;
  /** Refused tokens an address may present within `windowSeconds` before it is throttled. */
  refusals: { max: number; windowSeconds: number };
  metrics: GatewayMetrics;
}

/** A request's scope, or null when the guard has sent the refusal (the hook then returns the reply). */
export type Guard = (request: FastifyRequest, reply: FastifyReply) => Promise<AccountScope | null>;

/** Why a request without a usable token is refused: the dashboard shows this to the person. */
function unauthorized(token: string | undefined) {
  return token === undefined || token === ''
    ? { error: 'unauthorized', reason: 'token_required', message: 'this gateway needs an access token (Authorization: Bearer <token>)' }
    : { error: 'unauthorized', reason: 'token_rejected', message: 'this token is not one of the gateway\'s tokens: check it for typos, or ask for a current one' };
}

export async function createGuard(app: FastifyInstance, { access, origins, refusals, metrics }: GuardOptions): Promise<Guard> {
  // global: false — the plugin limits nothing by itself; the guard counts refusals only.
  await app.register(rateLimit, { global: false });
  const refusalsOf = app.createRateLimit({ max: refusals.max, timeWindow: refusals.windowSeconds * 1000 });

  return async (request, reply) => {
    const refusal = checkOrigin(origins, request.headers.origin, request.headers.host, request.socket.localAddress);
    if (refusal) {
      metrics.requestsRefused.inc({ reason: refusal.reason });
      reply.code(403).send({ error: 'forbidden', ...refusal });
      return null;
    }

    const counted = await refusalsOf(request, { increment: false });
    if (!counted.isAllowed && counted.remaining === 0) {
      metrics.requestsRefused.inc({ reason: 'throttled' });
      reply
        .code(429)
        .header('retry-after', String(counted.ttlInSeconds))
        .send({ error: 'too_many_requests', reason: 'throttled', message: `too many refused tokens from this address: retry in ${counted.ttlInSeconds} s`, retry_after: counted.ttlInSeconds });
      return null;
    }

    const token = presentedToken(request.headers, request.query);
    const scope = access.authenticate(token);
    if (scope === null) {
      await refusalsOf(request);
      const body = unauthorized(token);
      metrics.requestsRefused.inc({ reason: body.reason });
      reply.code(401).header('www-authenticate', 'Bearer').send(body);
      return null;
    }
    return scope;
  };
}
