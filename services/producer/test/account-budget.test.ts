import type { Visit } from '@eric/shared';
import { describe, expect, it } from 'vitest';
import { AccountBudgets } from '../src/account-budget.js';

const visits = (account: number, count: number): Visit[] =>
  Array.from({ length: count }, (_, i) => ({ id: `${account}-${i}`, account_id: account, store_id: null, timestamp: 0 }));

describe('AccountBudgets', () => {
  it('admits a burst at once, then visitsPerSecond, and says when to retry', () => {
    const budgets = new AccountBudgets({ visitsPerSecond: 4, burstSeconds: 2, maxAccounts: 10 });
    expect(budgets.admit(visits(1, 8), 0)).toEqual({ ok: true });
    expect(budgets.admit(visits(1, 3), 0)).toEqual({ ok: false, accountId: 1, retryAfterSeconds: 1 });
    expect(budgets.admit(visits(1, 3), 750)).toEqual({ ok: true });
  });

  it('admits a request whole or not at all: a refused request charges no account', () => {
    const budgets = new AccountBudgets({ visitsPerSecond: 5, burstSeconds: 1, maxAccounts: 10 });
    expect(budgets.admit(visits(1, 5), 0).ok).toBe(true);
    expect(budgets.admit([...visits(2, 5), ...visits(1, 1)], 0)).toMatchObject({ ok: false, accountId: 1 });
    expect(budgets.admit(visits(2, 5), 0).ok).toBe(true);
  });

  it('keeps at most maxAccounts buckets, forgetting the least recently used', () => {
    const budgets = new AccountBudgets({ visitsPerSecond: 1, burstSeconds: 1, maxAccounts: 3 });
    for (let account = 0; account < 1000; account++) budgets.admit(visits(account, 1), 0);
    expect(budgets.tracked).toBe(3);
    // Account 999 was used last: still tracked, so still empty.
    expect(budgets.admit(visits(999, 1), 0).ok).toBe(false);
  });

  it('has no limit at 0 visits per second, and tracks nothing then', () => {
    const budgets = new AccountBudgets({ visitsPerSecond: 0, burstSeconds: 1, maxAccounts: 3 });
    expect(budgets.admit(visits(1, 100_000), 0)).toEqual({ ok: true });
    expect(budgets.tracked).toBe(0);
  });
});
