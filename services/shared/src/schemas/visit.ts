/**
 * The visit: one event per visit to a website, as the original Faust app defined it.
 *
 *   {"id": "6b1c…", "account_id": 352, "store_id": "default" | null, "timestamp": 1732471234.5}
 *
 * `timestamp` is epoch seconds (a float is allowed). Validation never throws: it returns the
 * reason, so the caller can send the record to the dead-letter topic and count it by reason.
 */
import { reject, type Validation } from './result.js';

export interface Visit {
  id: string;
  account_id: number;
  store_id: string | null;
  timestamp: number;
}

/** Why a visit was rejected; also the `reason` label of the dead-letter metrics. */
export const VISIT_REJECTIONS = [
  'too_large',
  'invalid_json',
  'not_an_object',
  'missing_field',
  'wrong_type',
  'invalid_value',
  'timestamp_out_of_range',
] as const;
export type VisitRejection = (typeof VISIT_REJECTIONS)[number];

export interface VisitLimits {
  /** Largest accepted message, in bytes. */
  maxBytes: number;
  /** Longest accepted `id` and `store_id`, in characters. */
  maxIdLength: number;
  /** Earliest accepted timestamp, epoch seconds. */
  minTimestamp: number;
  /** How far in the future a timestamp may be, in seconds, relative to `now`. */
  maxFutureSeconds: number;
}

export const DEFAULT_VISIT_LIMITS: VisitLimits = {
  maxBytes: 16 * 1024,
  maxIdLength: 256,
  minTimestamp: 946_684_800, // 2000-01-01T00:00:00Z: anything earlier is a bug, not a visit
  maxFutureSeconds: 300,
};

const FIELDS = ['id', 'account_id', 'store_id', 'timestamp'] as const;

/** Parses and validates a raw message (the value of a Kafka record or one HTTP item). */
export function parseVisit(
  raw: Buffer | string | null | undefined,
  nowSeconds: number = Date.now() / 1000,
  limits: VisitLimits = DEFAULT_VISIT_LIMITS,
): Validation<Visit, VisitRejection> {
  if (raw === null || raw === undefined) return reject('invalid_json', 'empty message');
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > limits.maxBytes) return reject('too_large', `message is ${size} bytes, the limit is ${limits.maxBytes}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (error) {
    return reject('invalid_json', `not valid JSON: ${(error as Error).message}`);
  }
  return validateVisit(parsed, nowSeconds, limits);
}

/** Validates an already-parsed value, e.g. one element of a JSON array posted over HTTP. */
export function validateVisit(
  value: unknown,
  nowSeconds: number = Date.now() / 1000,
  limits: VisitLimits = DEFAULT_VISIT_LIMITS,
): Validation<Visit, VisitRejection> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return reject('not_an_object', `expected a JSON object, got ${describeType(value)}`);
  }
  const record = value as Record<string, unknown>;
  for (const field of FIELDS) {
    if (!(field in record)) return reject('missing_field', `"${field}" is missing`);
  }
  const { id, account_id, store_id, timestamp } = record;

  if (typeof id !== 'string') return reject('wrong_type', `"id" must be a string, got ${describeType(id)}`);
  if (id.length === 0 || id.length > limits.maxIdLength) {
    return reject('invalid_value', `"id" must have 1 to ${limits.maxIdLength} characters, it has ${id.length}`);
  }
  if (typeof account_id !== 'number') {
    return reject('wrong_type', `"account_id" must be an integer, got ${describeType(account_id)}`);
  }
  if (Number.isInteger(account_id) && account_id > Number.MAX_SAFE_INTEGER) {
    // JSON.parse has already rounded such a number, so quoting it would show a value never sent.
    return reject('invalid_value', `"account_id" is out of range: the largest account id is ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`);
  }
  if (!Number.isSafeInteger(account_id) || account_id < 0) {
    return reject('invalid_value', `"account_id" must be a non-negative integer, got ${account_id}`);
  }
  if (store_id !== null && typeof store_id !== 'string') {
    return reject('wrong_type', `"store_id" must be a string or null, got ${describeType(store_id)}`);
  }
  if (typeof store_id === 'string' && store_id.length > limits.maxIdLength) {
    return reject('invalid_value', `"store_id" must have at most ${limits.maxIdLength} characters, it has ${store_id.length}`);
  }
  if (typeof timestamp !== 'number') {
    return reject('wrong_type', `"timestamp" must be a number (epoch seconds), got ${describeType(timestamp)}`);
  }
  if (!Number.isFinite(timestamp) || timestamp < limits.minTimestamp) {
    return reject('timestamp_out_of_range', `"timestamp" ${timestamp} is before ${limits.minTimestamp} (epoch seconds expected)`);
  }
  if (timestamp > nowSeconds + limits.maxFutureSeconds) {
    const hint = timestamp > nowSeconds * 100 ? ' (milliseconds instead of seconds?)' : '';
    return reject(
      'timestamp_out_of_range',
      `"timestamp" ${timestamp} is more than ${limits.maxFutureSeconds} s in the future${hint}`,
    );
  }
  return { ok: true, value: { id, account_id, store_id, timestamp } };
}

/**
 * The key of every record about one (account, store): `<account_id>:<store_id>`. On the
 * repartition topic all visits of one (account, store) share it, so they land on the same
 * partition and the same counting process; on `active-visitors` it is the key of the window
 * results, so a reader or a compacted copy can group by it. A null store is written as an empty
 * string here; the key only chooses the partition, the counting state keeps null and "" apart.
 */
export function repartitionKey(visit: Pick<Visit, 'account_id' | 'store_id'>): string {
  return `${visit.account_id}:${visit.store_id ?? ''}`;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
