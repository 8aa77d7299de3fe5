import { describe, expect, it } from 'vitest';
import { MAX_LISTED_INVALID, isNdjson, parseIngestBody, type IngestContext } from '../src/ingest.js';

const NOW = 1_732_471_234.5;
let counter = 0;
const context = (maxVisits = 100): IngestContext => ({ nowSeconds: NOW, newId: () => `gen-${++counter}`, limits: { maxVisits, maxFutureSeconds: 60 } });
const visit = { id: 'v1', account_id: 352, store_id: 'default', timestamp: NOW - 1 };

function ok(body: string, contentType = 'application/json', maxVisits = 100) {
  const parsed = parseIngestBody(body, contentType, context(maxVisits));
  if (!parsed.ok) throw new Error(`expected visits, got ${JSON.stringify(parsed.body)}`);
  return parsed.visits;
}

function refused(body: string, contentType = 'application/json', maxVisits = 100) {
  const parsed = parseIngestBody(body, contentType, context(maxVisits));
  if (parsed.ok) throw new Error('expected a refusal');
  return parsed;
}

describe('parseIngestBody', () => {
  it('takes one visit, an array of visits, or NDJSON', () => {
    expect(ok(JSON.stringify(visit))).toEqual([visit]);
    expect(ok(JSON.stringify([visit, { ...visit, id: 'v2', store_id: null }]))).toEqual([visit, { ...visit, id: 'v2', store_id: null }]);
    const ndjson = `${JSON.stringify(visit)}\n\n${JSON.stringify({ ...visit, id: 'v2' })}\n`;
    expect(ok(ndjson, 'application/x-ndjson; charset=utf-8')).toEqual([visit, { ...visit, id: 'v2' }]);
  });

  it('reads any non-NDJSON content type as JSON (curl -d sends a form type)', () => {
    expect(ok(JSON.stringify(visit), 'application/x-www-form-urlencoded')).toEqual([visit]);
    expect(ok(JSON.stringify(visit), undefined as unknown as string)).toEqual([visit]);
  });

  it('gives a missing id a fresh one and a missing timestamp the server time', () => {
    const [filled] = ok(JSON.stringify({ account_id: 1, store_id: null }));
    expect(filled).toEqual({ id: expect.stringMatching(/^gen-\d+$/), account_id: 1, store_id: null, timestamp: NOW });
    const [kept] = ok(JSON.stringify({ id: 'mine', account_id: 1, store_id: 's', timestamp: NOW - 5 }));
    expect(kept).toEqual({ id: 'mine', account_id: 1, store_id: 's', timestamp: NOW - 5 });
  });

  it('keeps only the visit fields', () => {
    expect(ok(JSON.stringify({ ...visit, extra: 'x' }))).toEqual([visit]);
  });

  it('refuses the whole request with each invalid item and its reason', () => {
    const body = JSON.stringify([
      visit,
      { ...visit, account_id: '352' },
      { ...visit, id: '' },
      { id: 'x', timestamp: NOW },
      'hello',
      { ...visit, timestamp: NOW * 1000 },
      { ...visit, store_id: 5 },
    ]);
    const result = refused(body);
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({ error: 'invalid_visits', message: '6 of 7 visits are invalid; nothing was written', invalidCount: 6 });
    expect(result.body.invalid?.map(({ index, reason }) => [index, reason])).toEqual([
      [1, 'wrong_type'],
      [2, 'invalid_value'],
      [3, 'missing_field'],
      [4, 'not_an_object'],
      [5, 'timestamp_out_of_range'],
      [6, 'wrong_type'],
    ]);
    expect(result.body.invalid?.[4]?.detail).toMatch(/milliseconds/);
    expect(result.rejected).toHaveLength(6);
  });

  it('gives NDJSON items their line, and bad JSON lines their own reason', () => {
    const result = refused(`${JSON.stringify(visit)}\n{"account_id": 1,\n\n${JSON.stringify({ ...visit, account_id: -1 })}`, 'application/x-ndjson');
    expect(result.body.invalid).toEqual([
      { index: 1, line: 2, reason: 'invalid_json', detail: expect.stringContaining('not valid JSON') },
      { index: 2, line: 4, reason: 'invalid_value', detail: expect.stringContaining('account_id') },
    ]);
  });

  it('refuses a body that is not JSON, an empty one, and one with no visits', () => {
    expect(refused('{"id":').body.error).toBe('invalid_json');
    expect(refused('{"id":').body.message).toMatch(/application\/x-ndjson/);
    expect(refused('').body.error).toBe('no_visits');
    expect(refused('[]').body.error).toBe('no_visits');
    expect(refused('\n\n', 'application/x-ndjson').body.error).toBe('no_visits');
  });

  it('refuses more visits than the limit with 413', () => {
    const result = refused(JSON.stringify([visit, visit, visit]), 'application/json', 2);
    expect(result.status).toBe(413);
    expect(result.body.error).toBe('too_many_visits');
  });

  it('lists at most MAX_LISTED_INVALID items but counts them all', () => {
    const result = refused(JSON.stringify(new Array(MAX_LISTED_INVALID + 50).fill(1)), 'application/json', 1000);
    expect(result.body.invalid).toHaveLength(MAX_LISTED_INVALID);
    expect(result.body.invalidCount).toBe(MAX_LISTED_INVALID + 50);
  });
});

describe('isNdjson', () => {
  it('knows the NDJSON and JSON Lines types', () => {
    expect(isNdjson('application/x-ndjson')).toBe(true);
    expect(isNdjson('application/jsonl; charset=utf-8')).toBe(true);
    expect(isNdjson('Application/NDJSON')).toBe(true);
    expect(isNdjson('application/json')).toBe(false);
    expect(isNdjson(undefined)).toBe(false);
  });
});
