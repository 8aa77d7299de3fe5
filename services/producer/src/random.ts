/**
 * Randomness for the generator. Without a seed it is the platform's (Math.random and
 * crypto.randomUUID); with a seed it is a small deterministic PRNG, so that `--seed 42` produces
 * the same ids, accounts and stores on every run (timestamps still follow the clock).
 */
import { randomUUID } from 'node:crypto';

export interface RandomSource {
  /** A float in [0, 1). */
  next(): number;
  /** A version-4 UUID. */
  uuid(): string;
}

export const systemRandom: RandomSource = {
  next: Math.random,
  uuid: randomUUID,
};

/**
 * sfc32 ("small fast counter"): 128 bits of state, passes PractRand, four additions and shifts per
 * number. Not for secrets; good enough for synthetic load.
 */
export function seededRandom(seed: string | number): RandomSource {
  let [a, b, c, d] = hashSeed(String(seed));
  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // The state starts close to the seed's hash; a few rounds spread it before the first draw.
  for (let i = 0; i < 12; i++) nextUint32();

  return {
    next: () => nextUint32() / 2 ** 32,
    uuid: () => {
      const bytes = Buffer.alloc(16);
      for (let i = 0; i < 16; i += 4) bytes.writeUInt32BE(nextUint32(), i);
      // RFC 9562 version 4 layout: version nibble 4, variant bits 10.
      bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
      bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
      const hex = bytes.toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  };
}

/** cyrb128: turns any string into four 32-bit words of initial state. */
function hashSeed(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
