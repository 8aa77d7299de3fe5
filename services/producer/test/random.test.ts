import { describe, expect, it } from 'vitest';
import { seededRandom, systemRandom } from '../src/random.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('seededRandom', () => {
  it('repeats the same numbers and UUIDs for the same seed', () => {
    const a = seededRandom('abc');
    const b = seededRandom('abc');
    const drawsA = [a.next(), a.uuid(), a.next(), a.uuid()];
    const drawsB = [b.next(), b.uuid(), b.next(), b.uuid()];
    expect(drawsA).toEqual(drawsB);
  });

  it('differs between seeds, and a number seed equals its string', () => {
    expect(seededRandom('abc').uuid()).not.toBe(seededRandom('abd').uuid());
    expect(seededRandom(42).uuid()).toBe(seededRandom('42').uuid());
  });

  it('makes version-4 UUIDs without repeats and floats in [0, 1) spread over the range', () => {
    const random = seededRandom(1);
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = random.uuid();
      expect(id).toMatch(UUID_V4);
      ids.add(id);
    }
    expect(ids.size).toBe(10_000);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = random.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      buckets[Math.floor(x * 10)]! += 1;
    }
    for (const count of buckets) expect(count).toBeGreaterThan(9_000);
  });

  it('the system source makes version-4 UUIDs too', () => {
    expect(systemRandom.uuid()).toMatch(UUID_V4);
  });
});
