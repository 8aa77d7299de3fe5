/**
 * Token lists: secrets mapped to the accounts they may reach, one parser for every service that
 * checks them (the gateway's `GATEWAY_AUTH_TOKENS`, the producer's `PRODUCER_INGEST_KEYS`).
 *
 * A list reads `token=1,2;other=*`: each token, then the account ids it may reach, or `*` for
 * every account. Tokens are kept only as SHA-256 digests, so a lookup costs the same whatever the
 * guess and no token sits in memory in clear.
 */
import { createHash } from 'node:crypto';

/** Which accounts a token (a connection, a request) may reach. */
export type AccountScope = { all: true } | { all: false; accounts: ReadonlySet<number> };

export const ALL_ACCOUNTS: AccountScope = { all: true };

export function scopeAllows(scope: AccountScope, accountId: number): boolean {
  return scope.all || scope.accounts.has(accountId);
}

/**
 * 22 characters: a token is guessed online, and its digest may leak; 128 random bits (22
 * characters of base64) keep both out of reach, where the 8 characters allowed before did not.
 */
export const MIN_TOKEN_LENGTH = 22;

/** Parses a token list into digest → scope; throws on a malformed one, with a message that never quotes a token. */
export function parseTokens(text: string): Map<string, AccountScope> {
  const tokens = new Map<string, AccountScope>();
  const entries = text.split(';').map((entry) => entry.trim()).filter((entry) => entry !== '');
  // An empty list means "no tokens" (the caller decides whether that is allowed); a list that is
  // there but names none (";", " ; ") is a slip, and must not quietly mean the same.
  if (entries.length === 0 && text.trim() !== '') throw new Error('the token list is set but holds no token=accounts entry (leave it empty for none)');
  entries.forEach((entry, index) => {
    const where = `entry ${index + 1} of the token list`;
    const separator = entry.indexOf('=');
    if (separator <= 0) throw new Error(`${where} must read token=accounts (e.g. "s3cret=1,2" or "s3cret=*")`);
    const token = entry.slice(0, separator).trim();
    const accounts = entry.slice(separator + 1).trim();
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new Error(`${where}: a token must have at least ${MIN_TOKEN_LENGTH} characters (128 random bits: openssl rand -base64 24)`);
    }
    if (/[\s,=]/.test(token)) throw new Error(`${where}: a token cannot contain spaces, commas or "="`);
    const digest = tokenDigest(token);
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

/**
 * A convict `format` for a token-list setting: a malformed list stops the service at start with
 * the key's name, and the message never quotes a token (the value is a secret).
 */
export function tokenListFormat(value: unknown): void {
  if (typeof value !== 'string') throw new Error('must be a string');
  parseTokens(value);
}

/** The key under which parseTokens keeps a token. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A parsed token list: who a presented token is, if anyone. Off (everyone sees everything) when it holds no token. */
export class TokenTable {
  readonly #scopes: Map<string, AccountScope>;

  constructor(tokenList: string) {
    this.#scopes = parseTokens(tokenList);
  }

  get enabled(): boolean {
    return this.#scopes.size > 0;
  }

  /** The scope of a presented token: every account when the table is off, null when refused. */
  scopeOf(token: string | undefined): AccountScope | null {
    if (!this.enabled) return ALL_ACCOUNTS;
    if (token === undefined || token === '') return null;
    return this.#scopes.get(tokenDigest(token)) ?? null;
  }
}

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}
