import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, toPositive } from '../src/partitioner.js';

// Vectors computed by Kafka's own Java client (see the fixture's header): 12 chosen keys,
// including the empty key, non-ASCII text and every tail length, plus 200 random byte strings.
const vectors = readFileSync(new URL('./fixtures/java-partitioner-vectors.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((line) => {
    const [hex = '', hash = '', ...partitions] = line.split(' ');
    return { key: Buffer.from(hex, 'hex'), hash: Number(hash), partitions: partitions.map(Number) };
  });

describe('partitioner', () => {
  it('has the Java vectors to compare with', () => {
    expect(vectors).toHaveLength(212);
  });

  it('computes murmur2 exactly as Kafka Utils.murmur2', () => {
    for (const { key, hash } of vectors) expect(murmur2(key), key.toString('hex')).toBe(hash);
  });

  it('chooses the same partition as the Java producer for 1 to 12 partitions', () => {
    for (const { key, partitions } of vectors) {
      partitions.forEach((expected, index) => expect(partitionForKey(key, index + 1), key.toString('hex')).toBe(expected));
    }
  });

  it('encodes string keys as UTF-8', () => {
    const key = '42:Ümlaut-ストア';
    expect(partitionForKey(key, 7)).toBe(partitionForKey(Buffer.from(key, 'utf8'), 7));
  });

  it('clears the sign bit instead of taking the absolute value', () => {
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(2147483647);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => partitionForKey('a', 0)).toThrow(/positive integer/);
    expect(() => partitionForKey('a', 1.5)).toThrow(/positive integer/);
  });
});
