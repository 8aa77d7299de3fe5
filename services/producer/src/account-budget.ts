/**
 * Per-account visit budgets for `POST /v1/visits`: a token bucket (a Pacer that starts full) per
 * account, so that one account's flood cannot fill Kafka and the aggregator's state while every
 * other account is served.
 *
 * A request is admitted whole or not at all, as its validation is: the budgets of all its
 * accounts are checked first and charged only when every one of them suffices. A refused request
 * costs nothing, so a client that waits `retryAfterSeconds` gets through.
 *
 * The table holds at most `maxAccounts` buckets, least recently used dropped first (a Map keeps
 * insertion order; a touched bucket is re-inserted at the end). A dropped bucket comes back full,
 * which forgives at most one burst: the bound keeps memory fixed whatever account ids are sent.
 *
 * Pure: the caller passes the time.
 */
import type { Visit } from '@eric/shared';
import { Pacer } from './pacing.js';

export interface AccountBudgetSettings {
  /** Visits per second each account may send; 0 = no limit. */
  visitsPerSecond: number;
  /** How many seconds' worth an idle account may send at once. */
  burstSeconds: number;
  /** Most accounts tracked at once. */
  maxAccounts: number;
}

export type Admission = { ok: true } | { ok: false; accountId: number; retryAfterSeconds: number };

export class AccountBudgets {
  readonly #settings: AccountBudgetSettings;
  readonly #buckets = new Map<number, Pacer>();

  constructor(settings: AccountBudgetSettings) {
    this.#settings = settings;
  }

  get tracked(): number {
    return this.#buckets.size;
  }

  /** Admits and charges the request's visits, or refuses them all with the first account over its budget. */
  admit(visits: readonly Visit[], nowMs: number): Admission {
    if (this.#settings.visitsPerSecond === 0) return { ok: true };
    const perAccount = new Map<number, number>();
    for (const visit of visits) perAccount.set(visit.account_id, (perAccount.get(visit.account_id) ?? 0) + 1);

    const buckets = [...perAccount].map(([accountId, count]) => ({ accountId, count, bucket: this.#bucket(accountId, nowMs) }));
    for (const { accountId, count, bucket } of buckets) {
      if (bucket.due(nowMs) < count) {
        return { ok: false, accountId, retryAfterSeconds: Math.max(1, Math.ceil(bucket.msUntil(count) / 1000)) };
      }
    }
    for (const { count, bucket } of buckets) bucket.take(count);
    return { ok: true };
  }

  #bucket(accountId: number, nowMs: number): Pacer {
    const { visitsPerSecond, burstSeconds, maxAccounts } = this.#settings;
    let bucket = this.#buckets.get(accountId);
    if (bucket) {
      this.#buckets.delete(accountId);
    } else {
      bucket = new Pacer(visitsPerSecond, nowMs, burstSeconds, Infinity);
      if (this.#buckets.size >= maxAccounts) this.#buckets.delete(this.#buckets.keys().next().value as number);
    }
    this.#buckets.set(accountId, bucket);
    return bucket;
  }
}
