import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../src/partitioner.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs the real Kafka Java client on the keys (see scripts/partitioner-vectors). */
function javaPartitions(keys: Buffer[]): Array<{ hash: number; partitions: number[] }> {
  const classpath = execFileSync('bash', [`${root}scripts/kafka.sh`, 'classpath'], { encoding: 'utf8' }).trim();
  const output = execFileSync('java', ['-cp', classpath, `${root}scripts/partitioner-vectors/PartitionerVectors.java`], {
    input: keys.map((key) => key.toString('hex')).join('\n') + '\n',
    encoding: 'utf8',
  });
  return output
    .trimEnd()
    .split('\n')
    .map((line) => {
      const [, hash = '', ...partitions] = line.split(' ');
      return { hash: Number(hash), partitions: partitions.map(Number) };
    });
}

describe('partitioner against the Java client, live', () => {
  it('agrees on 2 000 fresh random keys and realistic account:store keys', () => {
    const keys = [
      ...Array.from({ length: 1000 }, () => randomBytes(Math.floor(Math.random() * 64))),
      ...Array.from({ length: 1000 }, (_, i) => Buffer.from(`${Math.floor(Math.random() * 1e6)}:store-${i % 37}`)),
    ];
    const java = javaPartitions(keys);
    expect(java).toHaveLength(keys.length);
    keys.forEach((key, index) => {
      expect(murmur2(key), key.toString('hex')).toBe(java[index]!.hash);
      java[index]!.partitions.forEach((partition, n) => expect(partitionForKey(key, n + 1)).toBe(partition));
    });
  });
});
