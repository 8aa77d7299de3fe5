import { createLogger } from '@eric/shared';
import { describe, expect, it } from 'vitest';
import { AccessControl, logAccessMode, parseTokens, presentedToken, scopeAllows, selectProtocol } from '../src/access.js';

const TEAM = 'team-one-token-0123456789';
const ADMIN = 'admin-token-abcdefghijklmn';

describe('access control', () => {
  it('is off without tokens: everyone sees every account', () => {
    const access = new AccessControl('');
    expect(access.enabled).toBe(false);
    expect(access.authenticate(undefined)).toEqual({ all: true });
  });

  it('maps each token to its accounts, * to all, and refuses unknown or missing tokens', () => {
    const access = new AccessControl(`${TEAM}=1,2; ${ADMIN}=*`);
    expect(access.enabled).toBe(true);
    const one = access.authenticate(TEAM);
    expect(one && scopeAllows(one, 1)).toBe(true);
    expect(one && scopeAllows(one, 2)).toBe(true);
    expect(one && scopeAllows(one, 3)).toBe(false);
    expect(access.authenticate(ADMIN)).toEqual({ all: true });
    expect(access.authenticate(TEAM.slice(0, -1))).toBeNull();
    expect(access.authenticate(undefined)).toBeNull();
    expect(access.authenticate('')).toBeNull();
  });

  it.each([
    ['no-equals-sign-here-at-all', /token=accounts/],
    ['long-enough-token-but=1', /at least 22 characters/],
    ['long-enough-token-0123456=', /accounts must be/],
    ['long-enough-token-0123456=1,x', /accounts must be/],
    ['long-enough-token-0123456=1;long-enough-token-0123456=2', /repeats/],
    [';', /holds no token/],
    [' ; ', /holds no token/],
  ])('refuses the malformed list %j without quoting the token', (text, message) => {
    expect(() => parseTokens(text)).toThrow(message);
    try {
      parseTokens(text);
    } catch (error) {
      expect((error as Error).message).not.toContain('long-enough-token');
    }
  });

  it('reads the token from a Bearer header, the eric.token subprotocol, or the token query parameter', () => {
    expect(presentedToken({ authorization: 'Bearer abc.def' }, {})).toBe('abc.def');
    const base64Token = 'a+b/c==';
    const offered = `eric.v1, eric.token.${Buffer.from(base64Token).toString('base64url')}`;
    expect(presentedToken({ 'sec-websocket-protocol': offered }, {})).toBe(base64Token);
    expect(presentedToken({ 'sec-websocket-protocol': 'eric.v1' }, {})).toBeUndefined();
    expect(presentedToken({}, { token: 'from-query' })).toBe('from-query');
    expect(presentedToken({ authorization: 'Basic xyz' }, {})).toBeUndefined();
    expect(presentedToken({}, null)).toBeUndefined();
  });

  it('answers a websocket with eric.v1, never with the protocol that carries the token', () => {
    expect(selectProtocol(new Set(['eric.v1', 'eric.token.c2VjcmV0']))).toBe('eric.v1');
    expect(selectProtocol(new Set(['eric.token.c2VjcmV0']))).toBe(false);
  });

  it('says at start, as a warning, that access control is off; as info that it is on', () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = createLogger('gateway', 'info', { write: (line: string) => lines.push(JSON.parse(line)) });
    logAccessMode(logger, new AccessControl(''));
    logAccessMode(logger, new AccessControl(`${TEAM}=1`));
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, msg: expect.stringContaining('access control OFF') }),
      expect.objectContaining({ level: 30, msg: expect.stringContaining('access control on') }),
    ]);
  });
});
