import { describe, expect, it } from 'vitest';
import { DEFAULT_VISIT_LIMITS, parseVisit, repartitionKey, validateVisit } from '../src/schemas/visit.js';

const now = 1_750_000_000;
const good = { id: 'v-1', account_id: 352, store_id: 'default', timestamp: now - 5.25 };
const raw = (value: unknown) => JSON.stringify(value);

describe('parseVisit', () => {
  it('accepts a visit of the original format, with a float timestamp', () => {
    expect(parseVisit(raw(good), now)).toEqual({ ok: true, value: good });
  });

  it('accepts a null store_id and keeps it null', () => {
    const result = parseVisit(Buffer.from(raw({ ...good, store_id: null })), now);
    expect(result).toEqual({ ok: true, value: { ...good, store_id: null } });
  });

  it('drops fields the contract does not know', () => {
    expect(parseVisit(raw({ ...good, referrer: 'x' }), now)).toEqual({ ok: true, value: good });
  });

  it.each([
    ['not JSON', '{"id":', 'invalid_json', /not valid JSON/],
    ['an empty record', null, 'invalid_json', /empty/],
    ['a JSON array', '[1,2]', 'not_an_object', /got an array/],
    ['a JSON string', '"visit"', 'not_an_object', /got string/],
    ['no id', raw({ ...good, id: undefined }), 'missing_field', /"id" is missing/],
    ['no store_id', raw({ id: 'a', account_id: 1, timestamp: now }), 'missing_field', /"store_id" is missing/],
    ['a numeric id', raw({ ...good, id: 7 }), 'wrong_type', /"id" must be a string, got number/],
    ['an empty id', raw({ ...good, id: '' }), 'invalid_value', /"id" must have 1 to 256/],
    ['a string account_id', raw({ ...good, account_id: '352' }), 'wrong_type', /"account_id" must be an integer, got string/],
    ['a fractional account_id', raw({ ...good, account_id: 1.5 }), 'invalid_value', /non-negative integer/],
    ['a negative account_id', raw({ ...good, account_id: -1 }), 'invalid_value', /non-negative integer/],
    ['an account_id beyond 2^53 - 1', `{"id":"a","account_id":9007199254740993,"store_id":null,"timestamp":${now}}`, 'invalid_value', /"account_id" is out of range: the largest account id is 9007199254740991/],
    ['a numeric store_id', raw({ ...good, store_id: 3 }), 'wrong_type', /"store_id" must be a string or null/],
    ['a string timestamp', raw({ ...good, timestamp: '2024-01-01' }), 'wrong_type', /epoch seconds/],
    ['a timestamp before 2000', raw({ ...good, timestamp: 12 }), 'timestamp_out_of_range', /before 946684800/],
    ['a timestamp in milliseconds', raw({ ...good, timestamp: now * 1000 }), 'timestamp_out_of_range', /milliseconds instead of seconds/],
    ['a timestamp 10 minutes ahead', raw({ ...good, timestamp: now + 600 }), 'timestamp_out_of_range', /in the future/],
  ])('rejects %s with its reason', (_case, input, reason, detail) => {
    const result = parseVisit(input as string | null, now);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(reason);
      expect(result.detail).toMatch(detail);
    }
  });

  it('rejects a message over the size limit before parsing it', () => {
    const huge = raw({ ...good, padding: 'x'.repeat(DEFAULT_VISIT_LIMITS.maxBytes) });
    const result = parseVisit(huge, now);
    expect(result).toMatchObject({ ok: false, reason: 'too_large' });
  });

  it('honours custom limits', () => {
    const limits = { ...DEFAULT_VISIT_LIMITS, maxFutureSeconds: 0 };
    expect(validateVisit({ ...good, timestamp: now + 1 }, now, limits)).toMatchObject({ ok: false, reason: 'timestamp_out_of_range' });
  });
});

describe('repartitionKey', () => {
  it('is account:store, with an empty store for null', () => {
    expect(repartitionKey({ account_id: 352, store_id: 'default' })).toBe('352:default');
    expect(repartitionKey({ account_id: 352, store_id: null })).toBe('352:');
  });
});
