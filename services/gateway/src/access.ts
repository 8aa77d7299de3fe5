/**
 * Access control: tokens mapped to the accounts they may see. Off when no token is configured.
 *
 * The configuration (`GATEWAY_AUTH_TOKENS`, from a Secret) reads `token=1,2;other=*`: each token,
 * then the account ids it may see, or `*` for every account. Tokens are kept only as SHA-256
 * digests, so a lookup costs the same whatever the guess and no token sits in memory in clear.
 */
import { ALL_ACCOUNTS, parseTokens, tokenDigest, type AccountScope } from '@eric/shared';

// The parser lives in @eric/shared (the producer's ingest keys use it too); re-exported for the gateway's modules.
export { parseTokens, scopeAllows, type AccountScope } from '@eric/shared';

export class AccessControl {
  readonly #tokens: Map<string, AccountScope>;

  constructor(tokenList: string) {
    this.#tokens = parseTokens(tokenList);
  }

  get enabled(): boolean {
    return this.#tokens.size > 0;
  }

  /** The scope of a presented token: everything when access control is off, null when refused. */
  authenticate(token: string | undefined): AccountScope | null {
    if (!this.enabled) return ALL_ACCOUNTS;
    if (token === undefined || token === '') return null;
    return this.#tokens.get(tokenDigest(token)) ?? null;
  }
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, or `?token=` for browsers,
 * whose WebSocket API cannot set headers.
 */
export function presentedToken(headers: Record<string, string | string[] | undefined>, query: unknown): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const token = (query as { token?: unknown } | null)?.token;
  return typeof token === 'string' ? token : undefined;
}
