/**
 * Turns the body of `POST /v1/visits` into visits, or into the list of what is wrong with it.
 *
 * A body is one visit (a JSON object), a JSON array of visits, or NDJSON (one visit per line,
 * with `Content-Type: application/x-ndjson`). A visit without `id` gets a fresh UUID and one
 * without `timestamp` the server's time; every other field is required (see the Visit contract).
 *
 * A request is all or nothing: one invalid item and nothing is written. Writing the valid part
 * would leave the client to work out which items to resend, and resending an item whose id the
 * server generated would count that visit twice.
 *
 * Pure: the clock and the id source are passed in.
 */
import { DEFAULT_VISIT_LIMITS, validateVisit, type Visit, type VisitRejection } from '@eric/shared';

export interface IngestLimits {
  /** Most visits per request. */
  maxVisits: number;
  /** How far ahead of `nowSeconds` a timestamp may be, in seconds. */
  maxFutureSeconds: number;
}

export interface InvalidItem {
  /** Position of the item in the array or among the NDJSON lines (0-based). */
  index: number;
  /** 1-based line of the body, for NDJSON. */
  line?: number;
  reason: VisitRejection;
  detail: string;
}

/** At most this many invalid items are listed in an answer; `invalidCount` has them all. */
export const MAX_LISTED_INVALID = 100;

export type IngestParse =
  | { ok: true; visits: Visit[] }
  | { ok: false; status: 400 | 413; body: IngestError; rejected: VisitRejection[] };

export interface IngestError {
  error: 'invalid_json' | 'no_visits' | 'too_many_visits' | 'invalid_visits';
  message: string;
  invalid?: InvalidItem[];
  invalidCount?: number;
}

export interface IngestContext {
  /** Epoch seconds, for missing timestamps and the future-timestamp check. */
  nowSeconds: number;
  newId: () => string;
  limits: IngestLimits;
}

/** Whether the content type announces NDJSON (or its twin JSON Lines). */
export function isNdjson(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl' || type === 'application/x-jsonlines';
}

export function parseIngestBody(body: string, contentType: string | undefined, context: IngestContext): IngestParse {
  const items: Array<{ value: unknown; line?: number } | InvalidItem> = [];
  if (isNdjson(contentType)) {
    const lines = body.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const text = (lines[i] as string).trim();
      if (text === '') continue;
      try {
        items.push({ value: JSON.parse(text), line: i + 1 });
      } catch (error) {
        items.push({ index: items.length, line: i + 1, reason: 'invalid_json', detail: `not valid JSON: ${(error as Error).message}` });
      }
    }
  } else {
    if (body.trim() === '') return failure(400, { error: 'no_visits', message: 'the body is empty: send a visit, a JSON array of visits or NDJSON' }, []);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      return failure(
        400,
        {
          error: 'invalid_json',
          message: `the body is not valid JSON (${(error as Error).message}); for one visit per line send Content-Type: application/x-ndjson`,
        },
        ['invalid_json'],
      );
    }
    for (const value of Array.isArray(parsed) ? parsed : [parsed]) items.push({ value });
  }

  if (items.length === 0) return failure(400, { error: 'no_visits', message: 'the request holds no visits' }, []);
  if (items.length > context.limits.maxVisits) {
    return failure(
      413,
      { error: 'too_many_visits', message: `the request holds ${items.length} visits, the limit is ${context.limits.maxVisits}: split it` },
      [],
    );
  }

  const visits: Visit[] = [];
  const invalid: InvalidItem[] = [];
  items.forEach((item, index) => {
    if ('reason' in item) {
      invalid.push(item);
      return;
    }
    const checked = validateVisit(withDefaults(item.value, context), context.nowSeconds, {
      ...DEFAULT_VISIT_LIMITS,
      maxFutureSeconds: context.limits.maxFutureSeconds,
    });
    if (checked.ok) visits.push(checked.value);
    else invalid.push({ index, ...(item.line === undefined ? {} : { line: item.line }), reason: checked.reason, detail: checked.detail });
  });

  if (invalid.length > 0) {
    return failure(
      400,
      {
        error: 'invalid_visits',
        message: `${invalid.length} of ${items.length} visits are invalid; nothing was written`,
        invalid: invalid.slice(0, MAX_LISTED_INVALID),
        invalidCount: invalid.length,
      },
      invalid.map((item) => item.reason),
    );
  }
  return { ok: true, visits };
}

/** Fills in a missing `id` and `timestamp`; anything that is not an object is left to validation. */
function withDefaults(value: unknown, context: IngestContext): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  if ('id' in record && 'timestamp' in record) return record;
  return {
    ...record,
    ...('id' in record ? {} : { id: context.newId() }),
    ...('timestamp' in record ? {} : { timestamp: context.nowSeconds }),
  };
}

function failure(status: 400 | 413, body: IngestError, rejected: VisitRejection[]): IngestParse {
  return { ok: false, status, body, rejected };
}
