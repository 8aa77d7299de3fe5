import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_MAX_BYTES, deadLetter, packedDeadLetter, withoutPayload } from '../src/dead-letter.js';

const source = { topic: 'visits', partition: 2, offset: 41 };
const rejection = { reason: 'too_large', detail: 'message is 20000 bytes' };
const header = (headers: ReturnType<typeof deadLetter>['headers'], name: string) => headers.find((h) => name in h)?.[name]?.toString();

describe('dead letters', () => {
  it('copies a message up to 16 KiB whole, without size headers', () => {
    const value = Buffer.alloc(DEAD_LETTER_MAX_BYTES, 'x');
    const letter = deadLetter(source, rejection, { key: 'k', value, timestamp: 5 });
    expect(letter.value).toEqual(value);
    expect(letter.key).toEqual(Buffer.from('k'));
    expect(letter.timestamp).toBe(5);
    expect(header(letter.headers, 'eric.original.size')).toBeUndefined();
    expect(header(letter.headers, 'eric.reason')).toBe('too_large');
    expect(header(letter.headers, 'eric.source.offset')).toBe('41');
  });

  it('cuts a larger value and key to their first 16 KiB and keeps their sizes', () => {
    const value = Buffer.alloc(1_010_000, 'v');
    const key = Buffer.alloc(20_000, 'k');
    const letter = deadLetter(source, rejection, { key, value });
    expect(letter.value).toEqual(value.subarray(0, DEAD_LETTER_MAX_BYTES));
    expect(letter.key).toEqual(key.subarray(0, DEAD_LETTER_MAX_BYTES));
    expect(header(letter.headers, 'eric.original.size')).toBe('1010000');
    expect(header(letter.headers, 'eric.original.key.size')).toBe('20000');
  });

  it('keeps the headers small whatever the detail', () => {
    const letter = deadLetter(source, { reason: 'invalid_json', detail: 'x'.repeat(100_000) }, { value: Buffer.from('{') });
    expect(header(letter.headers, 'eric.detail')).toHaveLength(1024);
  });

  it('packs many messages in one uncut value, with the offset range, their number and the caller\'s headers', () => {
    const value = Buffer.alloc(200_000, ' ');
    const letter = packedDeadLetter(
      { topic: 'visits-repartition', partition: 1, offset: 10, lastOffset: 12 },
      { reason: 'window_id_cap', detail: 'full' },
      { key: '3:shop', value, visits: 2_500, headers: [{ 'eric.window.start': '60' }] },
    );
    expect(letter.value).toBe(value);
    expect(letter.key).toEqual(Buffer.from('3:shop'));
    expect(letter.source).toEqual({ topic: 'visits-repartition', partition: 1, offset: 10 });
    expect(letter.headers.map((h) => Object.keys(h)[0])).toEqual([
      'eric.reason', 'eric.detail', 'eric.source.topic', 'eric.source.partition', 'eric.source.offset', 'eric.rejected.at',
      'eric.source.offset.last', 'eric.visits', 'eric.window.start',
    ]);
    expect(header(letter.headers, 'eric.source.offset.last')).toBe('12');
    expect(header(letter.headers, 'eric.visits')).toBe('2500');
    expect(header(letter.headers, 'eric.original.size')).toBeUndefined();
  });

  it('as a last copy, keeps origin, reason and sizes and says why the payload is gone', () => {
    const letter = deadLetter(source, rejection, { key: 'key', value: Buffer.alloc(20_000) });
    const last = withoutPayload(letter, 'Broker: Message size too large');
    expect(last.value).toBeNull();
    expect(last.key).toBeNull();
    expect(header(last.headers, 'eric.original.size')).toBe('20000');
    expect(header(last.headers, 'eric.original.key.size')).toBe('3');
    expect(header(last.headers, 'eric.payload.dropped')).toBe('Broker: Message size too large');
    expect(header(last.headers, 'eric.source.partition')).toBe('2');
    expect(last.headers.filter((h) => 'eric.original.size' in h)).toHaveLength(1);
  });
});
