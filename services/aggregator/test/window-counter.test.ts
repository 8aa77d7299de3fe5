/**
 * The count of one partition without Kafka: records of the repartition topic in, changelog
 * records and window results out (WindowCounter), and a restore from those changelog records.
 */
import { describe, expect, it } from 'vitest';
import type { WindowResult } from '@eric/shared';
import { decodeChangelogRecord, type ChangelogRecord } from '../src/count/changelog.js';
import { encodeCheckpoint, parseCheckpoint } from '../src/count/checkpoint.js';
import { WindowCounter, type CountedBatch, type InputRecord } from '../src/count/window-counter.js';
import { encodeSourcedVisitBatches, encodeVisit, encodeVisitBatches, encodeWatermark, SOURCE_HEADER, type Watermark } from '../src/repartition-records.js';

// Window [60, 120) closes when the clock reaches 130; [120, 180) at 190.
const window = { sizeSeconds: 60, graceSeconds: 10 };

type Input = { visit: [id: string, timestamp: number, store?: string | null] } | { watermark: Watermark } | { garbage: string };

/** A repartition partition: records get consecutive offsets, as in Kafka. */
class Partition {
  #offset = 0;

  records(...inputs: Input[]): InputRecord[] {
    return inputs.map((input) => ({ offset: this.#offset++, value: encode(input) }));
  }
}

function encode(input: Input): Buffer {
  if ('garbage' in input) return Buffer.from(input.garbage);
  if ('watermark' in input) return encodeWatermark(input.watermark);
  const [id, timestamp, store = 'web'] = input.visit;
  return encodeVisit({ id, account_id: 7, store_id: store, timestamp });
}

const visit = (id: string, timestamp: number, store?: string | null): Input => ({ visit: [id, timestamp, store] });
const mark = (source: number, time: number | null, idle = false): Input => ({ watermark: { source, time, idle } });

/** A counter that emits only finals (no provisional results). */
const finalsOnly = () => new WindowCounter({ window, partition: 3, emitIntervalMs: 0 });

const finals = (batch: CountedBatch) => batch.results.filter((result) => result.final).map(summary);
const summary = (result: WindowResult) => ({ store: result.store_id, start: result.window[0], count: result.count, final: result.final });

/** The changelog partition: what the transactions wrote, with offsets. */
class Changelog {
  readonly records: Array<ChangelogRecord & { offset: number }> = [];

  /** Appends a committed batch, then tells the counter where the changelog ends, as the count stage does. */
  commit(counter: WindowCounter, batch: CountedBatch): void {
    for (const record of batch.changelog) this.records.push({ ...record, offset: this.records.length });
    if (batch.changelog.length > 0) counter.changelogReached(this.records.length);
  }

  /** A new counter restored from `from` on, as after a crash. */
  restore(from = 0, checkpoint?: string): WindowCounter {
    const counter = finalsOnly();
    counter.beginRestore(parseCheckpoint(checkpoint));
    for (const record of this.records.slice(from)) expect(counter.restoreRecord(record.offset, record.key, record.value)).toBe(true);
    counter.finishRestore(this.records.length);
    return counter;
  }
}

describe('WindowCounter', () => {
  it('counts distinct visit ids: a duplicate is reported, not counted, and not written to the changelog', () => {
    const counter = finalsOnly();
    const input = new Partition();
    const batch = counter.apply(input.records(visit('a', 61), visit('b', 70), visit('a', 119), visit('a', 65, 'app')), 1000);
    expect(batch.counted).toBe(3);
    expect(batch.duplicates).toBe(1);
    // One changelog record for the window's new ids.
    expect(batch.changelog.map((record) => decodeChangelogRecord(record.key, record.value))).toEqual([
      {
        kind: 'ids',
        ids: [
          { window: { start: 60, account_id: 7, store_id: 'web' }, id: 'a' },
          { window: { start: 60, account_id: 7, store_id: 'web' }, id: 'b' },
          { window: { start: 60, account_id: 7, store_id: 'app' }, id: 'a' },
        ],
      },
    ]);
    expect(batch.results).toEqual([]);
    expect(batch.newestVisit).toBe(70);

    const again = counter.apply(input.records(visit('b', 100), mark(0, 130)), 1001);
    expect(again.duplicates).toBe(1);
    expect(finals(again)).toEqual([
      { store: 'web', start: 60, count: 2, final: true },
      { store: 'app', start: 60, count: 1, final: true },
    ]);
  });

  it('closes a window only when every input partition that is not idle has passed end + grace', () => {
    const counter = finalsOnly();
    const input = new Partition();
    expect(counter.followInputPartitions(3)).toBe(true);
    counter.apply(input.records(visit('a', 61)), 1000);

    // Partition 2 has not reported: it may still hold visits of any age.
    expect(finals(counter.apply(input.records(mark(0, 500), mark(1, 200)), 1001))).toEqual([]);
    expect(counter.eventTime).toBe(Number.NEGATIVE_INFINITY);
    // The minimum is partition 2's 129.9: one tenth of a second before the close.
    expect(finals(counter.apply(input.records(mark(2, 129.9)), 1002))).toEqual([]);
    expect(counter.openWindows).toBe(1);
    // A visit for the window still counts.
    expect(counter.apply(input.records(visit('b', 110)), 1003).counted).toBe(1);
    // Partition 2 is idle with nothing pending: it is left out, and the minimum is 200.
    const closing = counter.apply(input.records(mark(2, null, true)), 1004);
    expect(counter.eventTime).toBe(200);
    expect(finals(closing)).toEqual([{ store: 'web', start: 60, count: 2, final: true }]);
    expect(closing.closedAt).toEqual([130]);
    expect(closing.trigger).toBe('stream-time');
    expect(counter.openWindows).toBe(0);
  });

  it('says when an idle partition\'s wall-clock advance closed the window', () => {
    const counter = finalsOnly();
    const input = new Partition();
    counter.apply(input.records(visit('a', 61), mark(0, 125)), 1000);
    const closing = counter.apply(input.records(mark(0, 130, true)), 1001);
    expect(finals(closing)).toEqual([{ store: 'web', start: 60, count: 1, final: true }]);
    expect(closing.trigger).toBe('wall-clock');
  });

  it('drops a visit for a closed window as late, and says how late it came', () => {
    const counter = finalsOnly();
    const input = new Partition();
    counter.apply(input.records(visit('a', 61), mark(0, 135)), 1000);
    const batch = counter.apply(input.records(visit('late', 90), visit('on-time', 130)), 1001);
    expect(batch.lateness).toEqual([5]); // the clock is at 135, the window closed at 130
    expect(batch.counted).toBe(1);
    expect(batch.changelog.map((record) => decodeChangelogRecord(record.key, record.value))).toEqual([
      { kind: 'ids', ids: [{ window: { start: 120, account_id: 7, store_id: 'web' }, id: 'on-time' }] },
    ]);
    expect(batch.results).toEqual([]);
  });

  it('emits one final and one close-clock record per closed window, never again', () => {
    const counter = finalsOnly();
    const input = new Partition();
    counter.apply(input.records(visit('a', 61), visit('b', 125)), 1000);
    const closing = counter.apply(input.records(mark(0, 140)), 1001);
    expect(finals(closing)).toEqual([{ store: 'web', start: 60, count: 1, final: true }]);
    expect(closing.changelog.map((record) => decodeChangelogRecord(record.key, record.value))).toEqual([{ kind: 'close-clock', closeClock: 140, finalUntil: 130 }]);

    // The clock moves on, a late copy of the visit comes: nothing more for the closed window.
    const after = counter.apply(input.records(mark(0, 150), visit('a', 61), mark(0, 189)), 1002);
    expect(after.results).toEqual([]);
    expect(after.changelog).toEqual([]);
    expect(after.lateness).toHaveLength(1);
    // The next window closes in its turn, with its own final, oldest first when several close.
    counter.apply(input.records(visit('c', 200), visit('d', 250)), 1003);
    expect(finals(counter.apply(input.records(mark(0, 400)), 1004)).map((final) => final.start)).toEqual([120, 180, 240]);
  });

  it('emits provisional counts of changed open windows once per emit interval', () => {
    const counter = new WindowCounter({ window, partition: 3, emitIntervalMs: 1000 });
    const input = new Partition();
    const first = counter.apply(input.records(visit('a', 61), visit('b', 62)), 1000);
    expect(first.results.map(summary)).toEqual([{ store: 'web', start: 60, count: 2, final: false }]);
    expect(first.provisional).toBe(1);
    expect(first.results[0]).toMatchObject({ account_id: 7, window: [60, 120], partition: 3, emitted_at: 1000 });
    // Within the interval: nothing, even though the count changed.
    expect(counter.apply(input.records(visit('c', 63)), 1000.5).results).toEqual([]);
    // After it: the changed window, with its count now.
    expect(counter.apply(input.records(), 1001).results.map(summary)).toEqual([{ store: 'web', start: 60, count: 3, final: false }]);
    // Unchanged since: nothing.
    expect(counter.apply(input.records(visit('a', 70)), 1002).results).toEqual([]);
  });

  it('counts the visits of a batch record as it counts single ones', () => {
    const counter = finalsOnly();
    const visits = [
      { id: 'a', account_id: 7, store_id: 'web', timestamp: 61 },
      { id: 'b', account_id: 7, store_id: null, timestamp: 62 },
      { id: 'a', account_id: 7, store_id: 'web', timestamp: 63 },
    ];
    const batch = counter.apply([{ offset: 0, value: encodeVisitBatches(visits)[0] }, { offset: 1, value: encodeVisit(visits[1]!) }], 1000);
    expect(batch.counted).toBe(2);
    expect(batch.duplicates).toBe(2);
    expect(finals(counter.apply(new Partition().records(mark(0, 130)), 1001))).toEqual([
      { store: 'web', start: 60, count: 1, final: true },
      { store: null, start: 60, count: 1, final: true },
    ]);
  });

  it('reports unreadable records by offset and goes on', () => {
    const counter = finalsOnly();
    const input = new Partition();
    const batch = counter.apply(input.records(visit('a', 61), { garbage: '{not json' }, { garbage: '{"id": 1}' }, visit('b', 62)), 1000);
    expect(batch.unreadable).toEqual([1, 2]);
    expect(batch.counted).toBe(2);
  });
});

describe('WindowCounter: a visit forwarded again is a duplicate, not a late visit', () => {
  /** Visits read from partition `source` of `visits` at these offsets, as the repartition stage writes them. */
  const fromSource = (offset: number, source: number, visits: Array<[id: string, timestamp: number, sourceOffset: number]>): InputRecord[] =>
    encodeSourcedVisitBatches({
      source,
      visits: visits.map(([id, timestamp]) => ({ id, account_id: 7, store_id: 'web', timestamp })),
      offsets: visits.map(([, , sourceOffset]) => sourceOffset),
    }).map((record, i) => ({ offset: offset + i, value: record.value, headers: [{ [SOURCE_HEADER]: record.source }] }));
  const watermark = (offset: number, source: number, time: number): InputRecord => ({ offset, value: encodeWatermark({ source, time, idle: false }) });

  it('calls a visit of a closed window read again from a source offset already seen a replay; a new one from that source is late', () => {
    const counter = finalsOnly();
    counter.followInputPartitions(2);
    // Source 0 forwards offsets 10-12; both sources pass the window's close (130).
    counter.apply([...fromSource(0, 0, [['a', 61, 10], ['b', 62, 11], ['c', 125, 12]]), watermark(1, 0, 140), watermark(2, 1, 140)], 1000);
    expect(counter.openWindows).toBe(1); // [120, 180) is still open

    // A rebalance: the next reader of source 0 starts at the committed offset 10 and forwards it all again.
    const replay = counter.apply(fromSource(3, 0, [['a', 61, 10], ['b', 62, 11], ['c', 125, 12], ['d', 100, 13]]), 1001);
    expect(replay.replayed).toBe(2); // a and b: their window closed since their first copy
    expect(replay.duplicates).toBe(3); // and c, a duplicate of its open window as always
    // d was never here (offset 13 is new): it is truly late within its source, and reported late.
    expect(replay.lateness).toEqual([10]);
    expect(replay.counted).toBe(0);
    expect(replay.results).toEqual([]);

    // An offset seen on another source says nothing about this one: source 1's offset 5 is late.
    const otherSource = counter.apply(fromSource(4, 1, [['e', 70, 5]]), 1002);
    expect(otherSource.replayed).toBe(0);
    expect(otherSource.lateness).toHaveLength(1);
  });

  it('does not use source offsets in an open window: an unseen id counts there, whatever its offset', () => {
    const counter = finalsOnly();
    counter.apply(fromSource(0, 0, [['a', 61, 50]]), 1000);
    const batch = counter.apply(fromSource(1, 0, [['b', 62, 7], ['a', 63, 50]]), 1001);
    expect(batch.counted).toBe(1);
    expect(batch.duplicates).toBe(1);
    expect(batch.replayed).toBe(0);
  });

  it('reads records without the source header (older repartition stages) as before: a closed window makes them late', () => {
    const counter = finalsOnly();
    counter.apply([...fromSource(0, 0, [['a', 61, 10]]), watermark(1, 0, 140)], 1000);
    const [record] = fromSource(2, 0, [['a', 61, 10]]);
    const batch = counter.apply([{ offset: 2, value: record!.value }], 1001);
    expect(batch.replayed).toBe(0);
    expect(batch.lateness).toHaveLength(1);
  });

  it('keeps the source offsets in its checkpoint: a restarted counter knows a replay, a rewound one does not call its own batch one', () => {
    const counter = finalsOnly();
    const changelog = new Changelog();
    changelog.commit(counter, counter.apply([...fromSource(0, 0, [['a', 61, 10]]), watermark(1, 0, 140)], 1000));
    const checkpoint = encodeCheckpoint(counter.checkpoint());
    expect(parseCheckpoint(checkpoint)?.sources).toEqual({ 0: 10 });

    // Restarted from the checkpoint: offset 10 of source 0 was here before, 11 was not.
    const restarted = changelog.restore(0, checkpoint);
    const batch = restarted.apply(fromSource(2, 0, [['a', 61, 10], ['z', 62, 11]]), 1001);
    expect(batch.replayed).toBe(1);
    expect(batch.lateness).toHaveLength(1);

    // That batch is aborted: rewound to the checkpoint, the same records read again give the same answer.
    restarted.beginRestore(parseCheckpoint(checkpoint));
    for (const record of changelog.records) restarted.restoreRecord(record.offset, record.key, record.value);
    restarted.finishRestore(changelog.records.length);
    const again = restarted.apply(fromSource(2, 0, [['a', 61, 10], ['z', 62, 11]]), 1002);
    expect(again.replayed).toBe(1);
    expect(again.lateness).toHaveLength(1);
  });
  it('leaves the source offsets out of a checkpoint that would not fit in offset metadata', () => {
    expect(parseCheckpoint(encodeCheckpoint({ restoreFrom: 3, closeClock: 130, sources: { 0: 5, 2: 9 } }))?.sources).toEqual({ 0: 5, 2: 9 });
    const sources = Object.fromEntries(Array.from({ length: 400 }, (_, partition) => [partition, 2 ** 40 + partition]));
    const encoded = encodeCheckpoint({ restoreFrom: 3, closeClock: 130, finalUntil: 120, sources });
    expect(encoded.length).toBeLessThanOrEqual(4000);
    expect(parseCheckpoint(encoded)).toEqual({ restoreFrom: 3, closeClock: 130, finalUntil: 120 });
  });
});

describe('WindowCounter restored from its changelog', () => {
  /** Runs the same input through a counter that never stops and through one restored at `restartAt`. */
  function compare(batches: Input[][], restartAt: number, fromCheckpoint: boolean) {
    const live = finalsOnly();
    const liveInput = new Partition();
    const liveFinals = batches.flatMap((inputs, i) => finals(live.apply(liveInput.records(...inputs), 1000 + i)));

    const changelog = new Changelog();
    let counter = finalsOnly();
    const input = new Partition();
    let checkpoint = '';
    const restartedFinals: ReturnType<typeof finals> = [];
    batches.forEach((inputs, i) => {
      if (i === restartAt) {
        counter = changelog.restore(fromCheckpoint ? parseCheckpoint(checkpoint)!.restoreFrom : 0, fromCheckpoint ? checkpoint : undefined);
      }
      const batch = counter.apply(input.records(...inputs), 1000 + i);
      changelog.commit(counter, batch);
      checkpoint = encodeCheckpoint(counter.checkpoint());
      restartedFinals.push(...finals(batch));
    });
    return { liveFinals, restartedFinals, counter };
  }

  const batches: Input[][] = [
    [visit('a', 61), visit('b', 62), visit('x', 125)],
    [mark(0, 131)], // closes [60, 120)
    [visit('c', 130), visit('x', 126), visit('a', 90)], // a duplicate in [120, 180), a late visit
    [visit('d', 140, null), visit('e', 185)],
    [visit('b', 65), visit('c', 131), mark(0, 200)], // late, duplicate; closes [120, 180)
    [visit('f', 186), mark(0, 260)], // closes [180, 240)
  ];

  it('gives the finals of a run without restart, whatever batch it restarts at', () => {
    for (const fromCheckpoint of [false, true]) {
      for (let restartAt = 1; restartAt < batches.length; restartAt++) {
        const { liveFinals, restartedFinals } = compare(batches, restartAt, fromCheckpoint);
        expect(restartedFinals, `restart at batch ${restartAt}${fromCheckpoint ? ' from the checkpoint' : ''}`).toEqual(liveFinals);
      }
    }
    expect(compare(batches, 1, false).liveFinals).toEqual([
      { store: 'web', start: 60, count: 2, final: true },
      { store: 'web', start: 120, count: 2, final: true },
      { store: null, start: 120, count: 1, final: true },
      { store: 'web', start: 180, count: 2, final: true },
    ]);
  });

  it('emits again, after an aborted transaction, the finals of the windows the aborted batch closed', () => {
    const changelog = new Changelog();
    const counter = finalsOnly();
    const input = new Partition();
    changelog.commit(counter, counter.apply(input.records(visit('a', 61), visit('b', 62), visit('c', 125)), 1000));
    const checkpoint = encodeCheckpoint(counter.checkpoint());
    const closing = input.records(mark(0, 131));
    // Counted in memory, then the transaction aborts: nothing of it reaches the changelog.
    expect(finals(counter.apply(closing, 1001))).toEqual([{ store: 'web', start: 60, count: 2, final: true }]);

    // The rewind, as the count stage does it: the same counter, restored from the last commit.
    counter.beginRestore(parseCheckpoint(checkpoint));
    for (const record of changelog.records.slice(parseCheckpoint(checkpoint)!.restoreFrom)) counter.restoreRecord(record.offset, record.key, record.value);
    expect(counter.finishRestore(changelog.records.length).skippedClosedWindows).toBe(0);
    expect(counter.openWindows).toBe(2);
    // The input is read again from the committed offset: the window closes again, with its final.
    expect(finals(counter.apply(closing, 1002))).toEqual([{ store: 'web', start: 60, count: 2, final: true }]);
  });

  it('does not bring back a window that was closed, and keeps counting the open ones', () => {
    const changelog = new Changelog();
    const before = finalsOnly();
    const input = new Partition();
    changelog.commit(before, before.apply(input.records(visit('a', 61), visit('b', 125)), 1000));
    changelog.commit(before, before.apply(input.records(mark(0, 131)), 1001));

    // Read from the very beginning: the ids of [60, 120) are there, and the clock record too.
    const after = changelog.restore(0);
    expect(after.eventTime).toBe(131);
    expect(after.openWindows).toBe(1);
    expect(after.ids).toBe(1);
    const batch = after.apply(new Partition().records(visit('a', 62), visit('b', 130), visit('c', 130), mark(0, 190)), 1002);
    expect(batch.lateness).toHaveLength(1);
    expect(batch.duplicates).toBe(1);
    expect(finals(batch)).toEqual([{ store: 'web', start: 120, count: 2, final: true }]);
  });

  it('starts the restore at the first record of the windows open at the last commit', () => {
    const changelog = new Changelog();
    const counter = finalsOnly();
    const input = new Partition();
    changelog.commit(counter, counter.apply(input.records(visit('a', 61), visit('b', 62)), 1000));
    changelog.commit(counter, counter.apply(input.records(visit('c', 125)), 1001));
    expect(counter.checkpoint().restoreFrom).toBe(0);
    changelog.commit(counter, counter.apply(input.records(mark(0, 131)), 1002));
    // [60, 120) is closed: its id record (offset 0) is not needed any more.
    expect(counter.checkpoint()).toEqual({ restoreFrom: 1, closeClock: 131, finalUntil: 121, sources: {} });
  });

  it('keeps windows final after a restart with a longer grace: no second final', () => {
    const changelog = new Changelog();
    const before = finalsOnly(); // grace 10 s
    const input = new Partition();
    changelog.commit(before, before.apply(input.records(visit('a', 61), visit('b', 125)), 1000));
    const closing = before.apply(input.records(mark(0, 131)), 1001);
    expect(finals(closing)).toEqual([{ store: 'web', start: 60, count: 1, final: true }]);
    changelog.commit(before, closing);

    for (const checkpoint of [undefined, encodeCheckpoint(before.checkpoint())]) {
      // GRACE_SECONDS raised to 60: by the new grace alone, [60, 120) would be open until 180.
      const after = new WindowCounter({ window: { sizeSeconds: 60, graceSeconds: 60 }, partition: 3, emitIntervalMs: 0 });
      after.beginRestore(parseCheckpoint(checkpoint));
      for (const record of changelog.records) after.restoreRecord(record.offset, record.key, record.value);
      expect(after.finishRestore(changelog.records.length).skippedClosedWindows).toBe(1);
      const batch = after.apply(new Partition().records(visit('late', 100), mark(0, 185)), 1002);
      expect(batch.lateness).toHaveLength(1);
      expect(finals(batch)).toEqual([]); // [120, 180) closes at 240 now; [60, 120) stays closed
      expect(finals(after.apply(new Partition().records(mark(0, 240)), 1003))).toEqual([{ store: 'web', start: 120, count: 1, final: true }]);
    }
  });
});

describe('WindowCounter with a cap on distinct ids per window', () => {
  const capped = (cap: number) => new WindowCounter({ window, partition: 3, emitIntervalMs: 0, maxIdsPerWindow: cap });

  it('counts up to the cap; the ids over it are packed for the dead-letter topic, not logged to the changelog', () => {
    const counter = capped(2);
    const input = new Partition();
    const batch = counter.apply(input.records(visit('a', 61), visit('b', 62), visit('c', 63), visit('a', 64), visit('d', 65), visit('e', 125)), 1000);
    expect(batch.counted).toBe(3); // a, b in [60, 120); e in [120, 180)
    expect(batch.duplicates).toBe(1);
    expect(batch.capped).toBe(2);
    // One record for the window: both visits as they were, and the offsets that carried them.
    expect(batch.cappedRecords.map(({ value, ...record }) => ({ ...record, ids: (JSON.parse(value.toString()) as Array<{ id: string }>).map(({ id }) => id) }))).toEqual([
      { window: { account_id: 7, store_id: 'web', start: 60 }, visits: 2, firstOffset: 2, lastOffset: 4, ids: ['c', 'd'] },
    ]);
    expect(batch.windowsCapped).toEqual([{ account_id: 7, store_id: 'web', start: 60 }]); // once per window
    const logged = batch.changelog.flatMap((record) => {
      const entry = decodeChangelogRecord(record.key, record.value);
      return entry.kind === 'ids' ? entry.ids.map(({ id }) => id) : [];
    });
    expect(logged.sort()).toEqual(['a', 'b', 'e']);
    const more = counter.apply(input.records(visit('f', 66), mark(0, 131)), 1001);
    expect(more.windowsCapped).toEqual([]); // [60, 120) had refused an id already
    expect(more.capped).toBe(1);
    expect(more.cappedRecords).toHaveLength(1); // a new transaction, a new record
    expect(finals(more)).toEqual([{ store: 'web', start: 60, count: 2, final: true }]);
  });

  it('restores every id of a changelog written under a higher cap, and refuses new ones', () => {
    const changelog = new Changelog();
    const before = capped(5);
    changelog.commit(before, before.apply(new Partition().records(visit('a', 61), visit('b', 62), visit('c', 63)), 1000));

    const after = capped(2); // the cap lowered across a restart
    after.beginRestore(undefined);
    for (const record of changelog.records) after.restoreRecord(record.offset, record.key, record.value);
    after.finishRestore(changelog.records.length);
    expect(after.ids).toBe(3);
    const batch = after.apply(new Partition().records(visit('a', 64), visit('d', 65), mark(0, 131)), 1001);
    expect(batch.duplicates).toBe(1);
    expect(batch.cappedRecords.map(({ value }) => JSON.parse(value.toString()) as unknown)).toEqual([[{ id: 'd', account_id: 7, store_id: 'web', timestamp: 65 }]]);
    expect(finals(batch)).toEqual([{ store: 'web', start: 60, count: 3, final: true }]);
  });
});

describe('restore checkpoint', () => {
  it('round-trips, and is absent when the metadata is not one', () => {
    expect(parseCheckpoint(encodeCheckpoint({ restoreFrom: 42, closeClock: 130.5 }))).toEqual({ restoreFrom: 42, closeClock: 130.5 });
    expect(parseCheckpoint(encodeCheckpoint({ restoreFrom: 42, closeClock: 130.5, finalUntil: 120.5 }))).toEqual({ restoreFrom: 42, closeClock: 130.5, finalUntil: 120.5 });
    // A clock that has not started yet: JSON has no -Infinity.
    expect(parseCheckpoint(encodeCheckpoint({ restoreFrom: 0, closeClock: Number.NEGATIVE_INFINITY }))).toEqual({ restoreFrom: 0, closeClock: Number.NEGATIVE_INFINITY });
    for (const metadata of [null, undefined, '', 'not json', '{"restore_from": -1}', '{"close_clock": 5}']) expect(parseCheckpoint(metadata)).toBeUndefined();
  });
});
