import { describe, expect, it } from 'vitest';
import { AccessControl, parseTokens, presentedToken, scopeAllows } from '../src/access.js';

describe('access control', () => {
  it('is off without tokens: everyone sees every account', () => {
    const access = new AccessControl('');
    expect(access.enabled).toBe(false);
    expect(access.authenticate(undefined)).toEqual({ all: true });
  });

  it('maps each token to its accounts, * to all, and refuses unknown or missing tokens', () => {
    const access = new AccessControl('team-one-token=1,2; admin-token-xyz=*');
    expect(access.enabled).toBe(true);
    const one = access.authenticate('team-one-token');
    expect(one && scopeAllows(one, 1)).toBe(true);
    expect(one && scopeAllows(one, 2)).toBe(true);
    expect(one && scopeAllows(one, 3)).toBe(false);
    expect(access.authenticate('admin-token-xyz')).toEqual({ all: true });
    expect(access.authenticate('team-one-toke')).toBeNull();
    expect(access.authenticate(undefined)).toBeNull();
    expect(access.authenticate('')).toBeNull();
  });

  it.each([
    ['no-equals-sign-here', /token=accounts/],
    ['short=1', /at least 8 characters/],
    ['long-enough-token=', /accounts must be/],
    ['long-enough-token=1,x', /accounts must be/],
    ['long-enough-token=1;long-enough-token=2', /repeats/],
  ])('refuses the malformed list %s without quoting the token', (text, message) => {
    expect(() => parseTokens(text)).toThrow(message);
    try {
      parseTokens(text);
    } catch (error) {
      expect((error as Error).message).not.toContain('long-enough-token');
    }
  });

  it('reads the token from a Bearer header or the token query parameter', () => {
    expect(presentedToken({ authorization: 'Bearer abc.def' }, {})).toBe('abc.def');
    expect(presentedToken({}, { token: 'from-query' })).toBe('from-query');
    expect(presentedToken({ authorization: 'Basic xyz' }, {})).toBeUndefined();
    expect(presentedToken({}, null)).toBeUndefined();
  });
});
