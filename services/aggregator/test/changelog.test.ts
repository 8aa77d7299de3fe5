import { describe, expect, it } from 'vitest';
import { closeClockRecord, decodeChangelogRecord, idRecord } from '../src/count/changelog.js';

describe('changelog records', () => {
  it('round-trips a counted id, keeping a null store null', () => {
    for (const store_id of ['default', null, '', 'with "quotes" and :colons:']) {
      const window = { start: 1_750_000_020, account_id: 352, store_id };
      const record = idRecord(window, 'visit-1');
      expect(decodeChangelogRecord(Buffer.from(record.key), record.value)).toEqual({ kind: 'id', window, id: 'visit-1' });
    }
  });

  it('gives the same key to the same id in the same window, so compaction keeps one', () => {
    const window = { start: 60, account_id: 1, store_id: 's' };
    expect(idRecord(window, 'x').key).toBe(idRecord({ ...window }, 'x').key);
    expect(idRecord(window, 'x').key).not.toBe(idRecord({ ...window, start: 120 }, 'x').key);
  });

  it('round-trips the close clock and the end up to which windows are final', () => {
    const record = closeClockRecord(1_750_000_090.25, 1_750_000_080.25);
    expect(decodeChangelogRecord(record.key, record.value)).toEqual({ kind: 'close-clock', closeClock: 1_750_000_090.25, finalUntil: 1_750_000_080.25 });
    // A record written before final_until existed still reads.
    expect(decodeChangelogRecord('"close-clock"', Buffer.from('{"close_clock":5}'))).toEqual({ kind: 'close-clock', closeClock: 5 });
  });

  it('reports records it cannot read instead of throwing', () => {
    expect(decodeChangelogRecord(null, null).kind).toBe('unreadable');
    expect(decodeChangelogRecord('not json', null).kind).toBe('unreadable');
    expect(decodeChangelogRecord('[1,2]', null).kind).toBe('unreadable');
    expect(decodeChangelogRecord('"close-clock"', Buffer.from('{}')).kind).toBe('unreadable');
  });
});
