/**
 * Ingest keys: who may send visits, and for which accounts. `PRODUCER_INGEST_KEYS` reads like the
 * gateway's tokens (`key=1,2;other=*`, parsed by @eric/shared, kept only as SHA-256 digests).
 * A key travels only in `Authorization: Bearer <key>`: never in the URL, which proxies and access
 * logs keep.
 *
 * Without keys ingestion is open, as before keys existed (main.ts logs a warning at start).
 */
import { TokenTable, bearerToken, scopeAllows, type AccountScope, type Visit } from '@eric/shared';

export type KeyCheck = { ok: true; scope: AccountScope } | { ok: false; reason: 'missing_key' | 'unknown_key' };

export class IngestKeys {
  readonly #keys: TokenTable;

  constructor(keyList: string) {
    this.#keys = new TokenTable(keyList);
  }

  get enabled(): boolean {
    return this.#keys.enabled;
  }

  /** The scope of the key a request presents in its Authorization header. */
  check(authorization: string | undefined): KeyCheck {
    const key = bearerToken(authorization);
    if (this.enabled && key === undefined) return { ok: false, reason: 'missing_key' };
    const scope = this.#keys.scopeOf(key);
    return scope ? { ok: true, scope } : { ok: false, reason: 'unknown_key' };
  }
}

/** The account ids of the visits a scope may not send, each once, in order of appearance. */
export function accountsOutside(scope: AccountScope, visits: readonly Visit[]): number[] {
  return [...new Set(visits.map((visit) => visit.account_id))].filter((accountId) => !scopeAllows(scope, accountId));
}
