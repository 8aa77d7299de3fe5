import { describe, expect, it } from 'vitest';
import { encodeView, errorMessage, matchesFilter, parseClientMessage } from '../src/protocol.js';

const view = { account_id: 352, store_id: 'web', ts_from: 60, ts_to: 120, count: 7, final: false };

describe('client messages', () => {
  it('accepts the original setFilter and an optional store', () => {
    expect(parseClientMessage('{"type":"setFilter","filter":{"account":352}}')).toEqual({ ok: true, value: { type: 'setFilter', filter: { account: 352 } } });
    expect(parseClientMessage('{"type":"setFilter","filter":{"account":352,"store":"web"}}')).toEqual({
      ok: true,
      value: { type: 'setFilter', filter: { account: 352, store: 'web' } },
    });
  });

  it('takes an account id typed into a text field, and null or {} as "no filter"', () => {
    expect(parseClientMessage('{"type":"setFilter","filter":{"account":"352"}}')).toMatchObject({ value: { filter: { account: 352 } } });
    expect(parseClientMessage('{"type":"setFilter","filter":{"account":null,"store":null}}')).toMatchObject({ value: { filter: {} } });
    expect(parseClientMessage('{"type":"setFilter","filter":{}}')).toMatchObject({ value: { filter: {} } });
  });

  it('treats the text close (and {"type":"close"}) as a request to close', () => {
    expect(parseClientMessage('close')).toEqual({ ok: true, value: { type: 'close' } });
    expect(parseClientMessage(' close\n')).toEqual({ ok: true, value: { type: 'close' } });
    expect(parseClientMessage('{"type":"close"}')).toEqual({ ok: true, value: { type: 'close' } });
  });

  it.each([
    ['not json', 'invalid_json'],
    ['[1,2]', 'invalid_json'],
    ['null', 'invalid_json'],
    ['{"type":"subscribe"}', 'unknown_type'],
    ['{"filter":{"account":1}}', 'unknown_type'],
    ['{"type":"setFilter","filter":"352"}', 'invalid_filter'],
    ['{"type":"setFilter","filter":{"acount":352}}', 'invalid_filter'],
    ['{"type":"setFilter","filter":{"account":352,"shop":"web"}}', 'invalid_filter'],
    ['{"type":"setFilter","filter":{"account":-1}}', 'invalid_filter'],
    ['{"type":"setFilter","filter":{"account":1.5}}', 'invalid_filter'],
    ['{"type":"setFilter","filter":{"account":"abc"}}', 'invalid_filter'],
    ['{"type":"setFilter","filter":{"account":1,"store":5}}', 'invalid_filter'],
    [`{"type":"setFilter","filter":{"account":1,"store":"${'x'.repeat(300)}"}}`, 'invalid_filter'],
  ])('refuses %s as %s', (text, reason) => {
    expect(parseClientMessage(text)).toMatchObject({ ok: false, reason });
  });

  it('names the unknown key of a mistyped filter instead of showing every account', () => {
    expect(parseClientMessage('{"type":"setFilter","filter":{"acount":352}}')).toEqual({
      ok: false,
      reason: 'invalid_filter',
      detail: 'unknown filter key "acount"; a filter has only "account" and "store"',
    });
  });

  it('matches a view by account and store, an absent field matching anything', () => {
    expect(matchesFilter({}, view)).toBe(true);
    expect(matchesFilter({ account: 352 }, view)).toBe(true);
    expect(matchesFilter({ account: 352, store: 'web' }, view)).toBe(true);
    expect(matchesFilter({ account: 352, store: 'app' }, view)).toBe(false);
    expect(matchesFilter({ account: 1 }, view)).toBe(false);
  });

  it('encodes a view in the original field order and errors with a type', () => {
    expect(encodeView(view).toString()).toBe('{"account_id":352,"store_id":"web","ts_from":60,"ts_to":120,"count":7,"final":false}');
    expect(JSON.parse(errorMessage('invalid_json', 'nope'))).toEqual({ type: 'error', error: 'invalid_json', message: 'nope' });
  });
});
