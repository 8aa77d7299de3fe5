/**
 * Kafka's default partitioner for keyed records, so that Eric and any Java client agree on where
 * a key lives: partition = toPositive(murmur2(keyBytes)) % numPartitions, as in
 * `org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey`.
 */

/** Murmur2, 32-bit, with Kafka's seed; returns a signed 32-bit integer like Java's `int`. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const seed = 0x9747b28c;
  // 'm' and 'r' are mixing constants generated offline; they are not magic, they just work well.
  const m = 0x5bd1e995;
  const r = 24;

  let h = seed ^ length;
  const blocks = length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const at = i * 4;
    let k = (data[at]! & 0xff) | ((data[at + 1]! & 0xff) << 8) | ((data[at + 2]! & 0xff) << 16) | ((data[at + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }

  // The last 1 to 3 bytes, highest first, falling through like Java's switch.
  const tail = blocks * 4;
  const remaining = length & 3;
  if (remaining === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (remaining >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (remaining >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, m);
  }

  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which fails for MIN_VALUE). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

const utf8 = new TextEncoder();

/** The partition of a key among `numPartitions`, as Kafka's Java producer computes it. */
export function partitionForKey(key: string | Uint8Array, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1) {
    throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
  }
  const bytes = typeof key === 'string' ? utf8.encode(key) : key;
  return toPositive(murmur2(bytes)) % numPartitions;
}
