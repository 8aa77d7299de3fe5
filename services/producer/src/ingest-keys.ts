/**
 * Ingest keys: who may send visits, and for which accounts. `PRODUCER_INGEST_KEYS` reads like the
 * gateway's tokens (`key=1,2;other=*`, parsed by @eric/shared, kept only as SHA-256 digests).
 * A key travels only in `Authorization: Bearer <key>`: never in the URL, which proxies and access
 * logs keep.
 *
 * Without keys ingestion is open, as before keys existed (main.ts logs a warning at start).
 */
import { ALL_ACCOUNTS, parseTokens, scopeAllows, tokenDigest, type AccountScope, type Visit } from '@eric/shared';

export type KeyCheck = { ok: true; scope: AccountScope } | { ok: false; reason: 'missing_key' | 'unknown_key' };

export class IngestKeys {
  readonly #keys: Map<string, AccountScope>;

  constructor(keyList: string) {
    this.#keys = parseTokens(keyList);
  }

  get enabled(): boolean {
    return this.#keys.size > 0;
  }

  /** The scope of the key a request presents in its Authorization header. */
  check(authorization: string | undefined): KeyCheck {
    if (!this.enabled) return { ok: true, scope: ALL_ACCOUNTS };
    const key = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (key === undefined) return { ok: false, reason: 'missing_key' };
    const scope = this.#keys.get(tokenDigest(key));
    return scope ? { ok: true, scope } : { ok: false, reason: 'unknown_key' };
  }
}

/** The account ids of the visits a scope may not send, each once, in order of appearance. */
export function accountsOutside(scope: AccountScope, visits: readonly Visit[]): number[] {
  return [...new Set(visits.map((visit) => visit.account_id))].filter((accountId) => !scopeAllows(scope, accountId));
}
