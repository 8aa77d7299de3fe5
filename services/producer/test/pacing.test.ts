import { describe, expect, it } from 'vitest';
import { Pacer } from '../src/pacing.js';

describe('Pacer', () => {
  it('lets the first visit go at once, then one every 1/rate seconds', () => {
    const pacer = new Pacer(4, 0);
    expect(pacer.due(0)).toBe(1);
    pacer.take(1);
    expect(pacer.due(0)).toBe(0);
    expect(pacer.msUntilNext()).toBeCloseTo(250);
    expect(pacer.due(249)).toBe(0);
    expect(pacer.due(250)).toBe(1);
    pacer.take(1);
    expect(pacer.due(1250)).toBe(4);
  });

  it('sends rate × time visits over a long run, whatever the tick length', () => {
    const pacer = new Pacer(1000, 0);
    let sent = 0;
    for (let t = 0; t <= 10_000; t += 8) {
      const due = pacer.due(t);
      pacer.take(due);
      sent += due;
    }
    expect(sent).toBeGreaterThanOrEqual(10_000);
    expect(sent).toBeLessThanOrEqual(10_001);
  });

  it('catches up at most burstSeconds worth after a stall', () => {
    const pacer = new Pacer(100, 0, 1);
    pacer.take(pacer.due(0));
    expect(pacer.due(60_000)).toBe(100);
  });

  it('has no limit at an infinite rate, and refuses a rate of 0', () => {
    const pacer = new Pacer(Infinity, 0);
    expect(pacer.due(0)).toBe(Number.MAX_SAFE_INTEGER);
    expect(pacer.msUntilNext()).toBe(0);
    expect(() => new Pacer(0, 0)).toThrow(RangeError);
  });
});

describe('Pacer as an admission budget', () => {
  it('starts full when asked, and says how long until a given number of visits is due', () => {
    const budget = new Pacer(10, 0, 2, Infinity);
    expect(budget.capacity).toBe(20);
    expect(budget.due(0)).toBe(20);
    budget.take(20);
    expect(budget.msUntil(5)).toBeCloseTo(500);
    expect(budget.due(500)).toBe(5);
    expect(budget.msUntil(5)).toBe(0);
  });
});
