/**
 * Access control: tokens mapped to the accounts they may see. Off when no token is configured
 * (the gateway says so in a warning at start).
 *
 * The configuration (`GATEWAY_AUTH_TOKENS`, from a Secret) reads `token=1,2;other=*`: each token,
 * then the account ids it may see, or `*` for every account. Tokens are kept only as SHA-256
 * digests, so a lookup costs the same whatever the guess and no token sits in memory in clear.
 */
import { TokenTable, bearerToken, type AccountScope, type Logger } from '@eric/shared';

// The parser lives in @eric/shared (the producer's ingest keys use it too); re-exported for the gateway's modules.
export { parseTokens, scopeAllows, type AccountScope } from '@eric/shared';

export class AccessControl {
  readonly #tokens: TokenTable;

  constructor(tokenList: string) {
    this.#tokens = new TokenTable(tokenList);
  }

  get enabled(): boolean {
    return this.#tokens.enabled;
  }

  /** The scope of a presented token: everything when access control is off, null when refused. */
  authenticate(token: string | undefined): AccountScope | null {
    return this.#tokens.scopeOf(token);
  }
}

/** The start-up line on access control: a warning when it is off, which nobody should run into unawares. */
export function logAccessMode(logger: Logger, access: AccessControl): void {
  if (access.enabled) logger.info('access control on: /ws and /api need a token');
  else logger.warn('access control OFF: every client that reaches this gateway sees every account (set GATEWAY_AUTH_TOKENS)');
}

/** The websocket subprotocol of Eric's messages: the one the gateway answers with. */
export const WS_PROTOCOL = 'eric.v1';
/**
 * A browser's WebSocket API cannot set headers, and a token in the URL reaches access logs; it
 * can offer subprotocols. The token rides as `eric.token.<token as base64url>` (base64url: a
 * subprotocol allows no "/" or "=", which a base64 token has), and the gateway answers
 * `eric.v1`, never the token's protocol.
 */
const TOKEN_PROTOCOL_PREFIX = 'eric.token.';

/** The subprotocol to answer with: `eric.v1` when offered, else none (a client that offered only a token's fails, as it should). */
export function selectProtocol(offered: ReadonlySet<string>): string | false {
  return offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false;
}

function tokenFromProtocols(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const offered = header.split(',').map((protocol) => protocol.trim()).find((protocol) => protocol.startsWith(TOKEN_PROTOCOL_PREFIX));
  return offered === undefined ? undefined : Buffer.from(offered.slice(TOKEN_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, the websocket subprotocol
 * `eric.token.<base64url>` (the dashboard), or `?token=` (older clients; the logs redact it, a
 * proxy's may not).
 */
export function presentedToken(headers: Record<string, string | string[] | undefined>, query: unknown): string | undefined {
  const authorization = headers.authorization;
  const fromHeader = bearerToken(typeof authorization === 'string' ? authorization : undefined);
  if (fromHeader !== undefined) return fromHeader;
  const fromProtocol = tokenFromProtocols(headers['sec-websocket-protocol']);
  if (fromProtocol !== undefined) return fromProtocol;
  const token = (query as { token?: unknown } | null)?.token;
  return typeof token === 'string' ? token : undefined;
}
