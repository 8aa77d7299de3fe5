/**
 * Access control: tokens mapped to the accounts they may see. Off when no token is configured.
 *
 * The configuration (`GATEWAY_AUTH_TOKENS`, from a Secret) reads `token=1,2;other=*`: each token,
 * then the account ids it may see, or `*` for every account. Tokens are kept only as SHA-256
 * digests, so a lookup costs the same whatever the guess and no token sits in memory in clear.
 */
import { createHash } from 'node:crypto';

/** Which accounts a connection or request may see. */
export type AccountScope = { all: true } | { all: false; accounts: ReadonlySet<number> };

const ALL_ACCOUNTS: AccountScope = { all: true };

export function scopeAllows(scope: AccountScope, accountId: number): boolean {
  return scope.all || scope.accounts.has(accountId);
}

/** Parses the token list; throws on a malformed one, with a message that never quotes a token. */
export function parseTokens(text: string): Map<string, AccountScope> {
  const tokens = new Map<string, AccountScope>();
  const entries = text.split(';').map((entry) => entry.trim()).filter((entry) => entry !== '');
  entries.forEach((entry, index) => {
    const where = `entry ${index + 1} of the token list`;
    const separator = entry.indexOf('=');
    if (separator <= 0) throw new Error(`${where} must read token=accounts (e.g. "s3cret=1,2" or "s3cret=*")`);
    const token = entry.slice(0, separator).trim();
    const accounts = entry.slice(separator + 1).trim();
    if (token.length < 8) throw new Error(`${where}: a token must have at least 8 characters`);
    if (/[\s,=]/.test(token)) throw new Error(`${where}: a token cannot contain spaces, commas or "="`);
    const digest = hashToken(token);
    if (tokens.has(digest)) throw new Error(`${where} repeats an earlier token`);
    if (accounts === '*') {
      tokens.set(digest, ALL_ACCOUNTS);
      return;
    }
    const ids = accounts.split(',').map((id) => id.trim());
    if (ids.length === 0 || ids.some((id) => !/^\d{1,15}$/.test(id))) {
      throw new Error(`${where}: accounts must be "*" or a comma-separated list of account ids`);
    }
    tokens.set(digest, { all: false, accounts: new Set(ids.map(Number)) });
  });
  return tokens;
}

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
    return this.#tokens.get(hashToken(token)) ?? null;
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

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
