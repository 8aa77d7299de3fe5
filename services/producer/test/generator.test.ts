import { validateVisit } from '@eric/shared';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GENERATOR_OPTIONS, VisitGenerator, type GeneratorOptions } from '../src/generator.js';
import { seededRandom } from '../src/random.js';

const NOW = 1_732_471_234.5;
const clock = () => NOW;
const options = (overrides: Partial<GeneratorOptions> = {}): GeneratorOptions => ({ ...DEFAULT_GENERATOR_OPTIONS, ...overrides });

describe('VisitGenerator', () => {
  it('makes valid visits like the original: fresh id, current time, account 352, store "default" or null', () => {
    const generator = new VisitGenerator(options(), seededRandom(1), clock);
    const visits = generator.batch(200);
    for (const visit of visits) {
      expect(validateVisit(visit, NOW).ok).toBe(true);
      expect(visit.account_id).toBe(352);
      expect(visit.timestamp).toBe(NOW);
    }
    expect(new Set(visits.map((v) => v.id)).size).toBe(200);
    expect(new Set(visits.map((v) => v.store_id))).toEqual(new Set(['default', null]));
  });

  it('picks every account and every store (and null) from the lists, roughly evenly', () => {
    const generator = new VisitGenerator(options({ accountIds: [1, 2, 3], storeIds: ['us', 'uk'] }), seededRandom(2), clock);
    const visits = generator.batch(3000);
    const accounts = new Map<number, number>();
    const stores = new Map<string | null, number>();
    for (const v of visits) {
      accounts.set(v.account_id, (accounts.get(v.account_id) ?? 0) + 1);
      stores.set(v.store_id, (stores.get(v.store_id) ?? 0) + 1);
    }
    expect([...accounts.keys()].sort()).toEqual([1, 2, 3]);
    expect(new Set(stores.keys())).toEqual(new Set(['us', 'uk', null]));
    for (const count of accounts.values()) expect(count).toBeGreaterThan(800);
    for (const count of stores.values()) expect(count).toBeGreaterThan(800);
  });

  it('with no stores listed, every store is null', () => {
    const generator = new VisitGenerator(options({ storeIds: [] }), seededRandom(3), clock);
    expect(generator.batch(50).every((v) => v.store_id === null)).toBe(true);
  });

  it('re-sends recent visits unchanged as the duplicates share', () => {
    const generator = new VisitGenerator(options({ duplicates: 0.25 }), seededRandom(4), clock);
    const seen = new Map<string, unknown>();
    let duplicates = 0;
    for (let i = 0; i < 4000; i++) {
      const { visit, kind } = generator.nextWithKind();
      if (kind === 'duplicate') {
        duplicates++;
        expect(seen.get(visit.id)).toEqual(visit);
      } else {
        expect(seen.has(visit.id)).toBe(false);
        seen.set(visit.id, { ...visit });
      }
    }
    expect(duplicates).toBe(generator.stats.duplicate);
    expect(duplicates / 4000).toBeGreaterThan(0.22);
    expect(duplicates / 4000).toBeLessThan(0.28);
    expect(seen.size).toBe(4000 - duplicates);
  });

  it('stamps the late share lateBySeconds in the past', () => {
    const generator = new VisitGenerator(options({ late: 0.1, lateBySeconds: 90 }), seededRandom(5), clock);
    const visits = generator.batch(5000);
    const late = visits.filter((v) => v.timestamp === NOW - 90);
    expect(visits.every((v) => v.timestamp === NOW || v.timestamp === NOW - 90)).toBe(true);
    expect(late.length).toBe(generator.stats.late);
    expect(late.length / 5000).toBeGreaterThan(0.08);
    expect(late.length / 5000).toBeLessThan(0.12);
  });

  it('repeats the same visits for the same seed', () => {
    const make = () => new VisitGenerator(options({ accountIds: [1, 2], storeIds: ['a'], duplicates: 0.1, late: 0.1 }), seededRandom('s'), clock).batch(500);
    expect(make()).toEqual(make());
  });

  it('refuses impossible options', () => {
    expect(() => new VisitGenerator(options({ accountIds: [] }))).toThrow(/account/);
    expect(() => new VisitGenerator(options({ duplicates: 1.5 }))).toThrow(/duplicates/);
    expect(() => new VisitGenerator(options({ duplicates: 0.6, late: 0.6 }))).toThrow(/exceed/);
  });
});
