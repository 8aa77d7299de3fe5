/**
 * The count of one partition, as pure logic: a batch of records from the repartition topic goes
 * in, and out comes everything the batch's transaction must write — changelog records, window
 * results — with the figures the metrics need. No Kafka here: the count stage (count-stage.ts)
 * reads the batch, hands it over, and writes the answer in one transaction.
 *
 * For each batch, in order:
 *   1. every watermark moves the event-time clock (event-time.ts), every visit is counted in its
 *      window unless its id was seen (a duplicate), the window is already closed (late — unless
 *      its source offset says it was here before: then it is a replay of the repartition stage,
 *      a duplicate, source-offsets.ts), or the window holds the most ids allowed (capped: the
 *      visit is packed with the other refused visits of its window into a few dead-letter
 *      records, capped-visits.ts, written in the same transaction, so it is dead-lettered
 *      exactly once);
 *   2. the windows whose end + grace the clock has reached close: their final counts are
 *      emitted, and the clock goes to the changelog so that a restore knows they are closed;
 *   3. every emit interval, the open windows whose count changed get a provisional result.
 *
 * The caller passes the time, so tests need no timers; restore (restore.ts) feeds the changelog
 * back in through restoreRecord() and finishRestore().
 */
import type { WindowResult } from '@eric/shared';
import { decodeRepartitionRecord, decodeSource, sourceHeader } from '../repartition-records.js';
import type { Checkpoint } from './checkpoint.js';
import { CappedVisits, type CappedRecord } from './capped-visits.js';
import { closeClockRecord, decodeChangelogRecord, idRecords, type ChangelogRecord, type CountedId } from './changelog.js';
import { EventTimeClock } from './event-time.js';
import { SourceOffsets } from './source-offsets.js';
import { windowResult } from './results.js';
import { WindowStore, type OpenWindow } from './window-store.js';
import { closesAt, type WindowKey, type WindowSpec } from './windows.js';

/** A record of the repartition topic (a Kafka message has this shape). */
export interface InputRecord {
  value: Buffer | null | undefined;
  offset: number;
  /** Kafka headers; visits carry their source partition and offsets in `eric.source`. */
  headers?: ReadonlyArray<Readonly<Record<string, Buffer | string>>> | undefined;
}

/** What one batch changed, and what its transaction must write. */
export interface CountedBatch {
  /** For the changelog, in order: the newly counted ids (a record per window), then the close clock if windows closed. */
  changelog: ChangelogRecord[];
  /** For active-visitors, in order: provisional counts of changed open windows, then the finals, oldest first. */
  results: WindowResult[];
  /** Visits whose id was new in its window. */
  counted: number;
  /** Visits whose id was already counted in its window, or that were here before (`replayed`). */
  duplicates: number;
  /** Of the duplicates: visits for a closed window that came again from a source offset already seen here. */
  replayed: number;
  /** For each late visit (its window had closed), how long after the close it came, seconds. */
  lateness: number[];
  /** Offsets of records that could not be read. */
  unreadable: number[];
  /** Visits with a new id whose window held maxIdsPerWindow ids: not counted, dead-lettered. */
  capped: number;
  /** Those visits packed for the dead-letter topic: a few records per window, each under 256 KiB. */
  cappedRecords: CappedRecord[];
  /** Windows that refused their first id in this batch. */
  windowsCapped: WindowKey[];
  /** Provisional results among `results`. */
  provisional: number;
  /** For each window closed by this batch, the clock value at which it closed (end + grace). */
  closedAt: number[];
  /** What moved the clock last: visits' event time, or an idle partition's wall-clock advance. */
  trigger: 'stream-time' | 'wall-clock';
  /** The newest timestamp of a visit counted in this batch, or 0. */
  newestVisit: number;
}

export interface WindowCounterOptions {
  window: WindowSpec;
  /** The repartition partition counted here (it is in every result). */
  partition: number;
  /** How often changed open windows get a provisional result, ms; 0 = never. */
  emitIntervalMs: number;
  /** The most distinct ids a window counts (AGGREGATOR_MAX_IDS_PER_WINDOW); default no cap. */
  maxIdsPerWindow?: number;
}

/** What a restore rebuilt, for its log line. */
export interface RestoredState {
  openWindows: number;
  ids: number;
  /** Windows found in the changelog that the restored clock says are closed, left out. */
  skippedClosedWindows: number;
  closeClock: number;
}

export class WindowCounter {
  readonly #store: WindowStore;
  #clock = new EventTimeClock();
  /** How far each partition of `visits` has reached this partition: tells a replay from a late visit. */
  readonly #sources = new SourceOffsets();
  /**
   * Windows that end at or before this are final, whatever the grace is now: a restart with a
   * longer grace must not reopen what a shorter one closed (changelog.ts, `final_until`).
   */
  #finalUntil = Number.NEGATIVE_INFINITY;
  #lastProvisionalAt = 0;

  constructor(private readonly options: WindowCounterOptions) {
    this.#store = new WindowStore(options.window, options.maxIdsPerWindow);
  }

  /** Counts a batch read at `now` (epoch seconds). */
  apply(records: readonly InputRecord[], now: number): CountedBatch {
    const { window, partition } = this.options;
    const store = this.#store;
    const clock = this.#clock;
    const countedIds = new Map<number, CountedId[]>();
    const lateness: number[] = [];
    const unreadable: number[] = [];
    const capped = new CappedVisits();
    const windowsCapped: WindowKey[] = [];
    let counted = 0;
    let duplicates = 0;
    let replayed = 0;
    let newestVisit = 0;

    for (const record of records) {
      const decoded = decodeRepartitionRecord(record.value);
      if (decoded.kind === 'watermark') {
        clock.observe(decoded.watermark);
      } else if (decoded.kind === 'unreadable') {
        unreadable.push(record.offset);
      } else {
        const source = decodeSource(sourceHeader(record.headers), decoded.visits.length);
        decoded.visits.forEach((visit, i) => {
          const { outcome, key, capped: refused } = store.add(visit, this.#closeClock());
          const sourceOffset = source?.offsets[i];
          const seenBefore = sourceOffset !== undefined && this.#sources.seen(source!.partition, sourceOffset);
          if (sourceOffset !== undefined) this.#sources.observe(source!.partition, sourceOffset);
          if (outcome === 'counted') {
            const ofWindow = countedIds.get(key.start);
            if (ofWindow) ofWindow.push({ window: key, id: visit.id });
            else countedIds.set(key.start, [{ window: key, id: visit.id }]);
            counted++;
            newestVisit = Math.max(newestVisit, visit.timestamp);
          } else if (outcome === 'duplicate') {
            duplicates++;
          } else if (outcome === 'capped') {
            capped.add(key, visit, record.offset);
            if (refused === 1) windowsCapped.push(key);
          } else if (seenBefore) {
            // Its window closed since the first copy came: a replay, not a late visit.
            duplicates++;
            replayed++;
          } else {
            lateness.push(Math.max(0, this.#closeClock() - closesAt(key.start, window)));
          }
        });
      }
    }
    const changelog: ChangelogRecord[] = [];
    for (const [start, ids] of countedIds) changelog.push(...idRecords(start, records[0]!.offset, ids));

    const closed = store.closeDue(this.#closeClock());
    // A restore replays the changelog: the clock record tells it these windows are closed.
    if (closed.length > 0) {
      this.#finalUntil = Math.max(this.#finalUntil, this.#closeClock() - window.graceSeconds);
      changelog.push(closeClockRecord(clock.value, this.#finalUntil));
    }

    const provisionalDue = this.options.emitIntervalMs > 0 && (now - this.#lastProvisionalAt) * 1000 >= this.options.emitIntervalMs;
    const provisional = provisionalDue ? store.takeChanged() : [];
    if (provisionalDue) this.#lastProvisionalAt = now;

    const result = (openWindow: OpenWindow, final: boolean) => windowResult(openWindow, window, final, partition, now);
    return {
      changelog,
      results: [...provisional.map((openWindow) => result(openWindow, false)), ...closed.map((closedWindow) => result(closedWindow, true))],
      counted,
      duplicates,
      replayed,
      lateness,
      unreadable,
      capped: capped.visits,
      cappedRecords: capped.records(),
      windowsCapped,
      provisional: provisional.length,
      closedAt: closed.map((closedWindow) => closesAt(closedWindow.start, window)),
      trigger: clock.lastMove,
      newestVisit,
    };
  }

  /** What to commit with the input offset, so that a restore starts where it must. */
  checkpoint(): Checkpoint {
    return { restoreFrom: this.#store.restoreFrom(), closeClock: this.#clock.value, finalUntil: this.#finalUntil, sources: this.#sources.snapshot() };
  }

  /** After a commit: changelog records written from now on get offsets at or above `offset`. */
  changelogReached(offset: number): void {
    this.#store.changelogPosition = Math.max(this.#store.changelogPosition, offset);
  }

  /** The partitions of `visits` now: every one takes part in the clock. True when there are more than before. */
  followInputPartitions(count: number): boolean {
    const grew = count > this.#clock.sourceCount;
    this.#clock.setSourceCount(count);
    return grew;
  }

  /**
   * Forgets everything not committed, before a restore: the open windows, and also the clock and
   * what is final. After an aborted transaction the same counter is restored again (a rewind), and
   * the clock had moved in the aborted batch: kept, it would call the windows that batch closed
   * closed already, and their finals — never committed — would be lost. The clock starts again at
   * the checkpoint's, as after a restart, and the input read again moves it on. So do the source
   * offsets: kept, they would call every visit read again a replay of itself.
   */
  beginRestore(checkpoint: Checkpoint | undefined): void {
    this.#store.clear();
    this.#sources.restore(checkpoint?.sources);
    const sourceCount = this.#clock.sourceCount;
    this.#clock = new EventTimeClock();
    this.#clock.setSourceCount(sourceCount);
    this.#finalUntil = Number.NEGATIVE_INFINITY;
    if (checkpoint) this.#restoreClosed(checkpoint.closeClock, checkpoint.finalUntil);
  }

  /** One changelog record, in offset order; false when it cannot be read. */
  restoreRecord(offset: number, key: Buffer | string | null | undefined, value: Buffer | null | undefined): boolean {
    this.#store.changelogPosition = offset;
    const entry = decodeChangelogRecord(key, value);
    if (entry.kind === 'ids') for (const { window, id } of entry.ids) this.#store.insert(window, id);
    else if (entry.kind === 'close-clock') this.#restoreClosed(entry.closeClock, entry.finalUntil);
    return entry.kind !== 'unreadable';
  }

  /** The restore has read the changelog up to `end` (its high watermark). */
  finishRestore(end: number): RestoredState {
    this.#store.changelogPosition = end;
    // Windows the restored clock says are closed had their final emitted before the crash: their
    // ids may still be in the changelog (until retention removes them) but must not come back.
    const skippedClosedWindows = this.#store.closeDue(this.#closeClock()).length;
    return { openWindows: this.#store.windowCount, ids: this.#store.idCount, skippedClosedWindows, closeClock: this.#clock.value };
  }

  /** The clock windows close by: the event time, or later where windows are already final. */
  #closeClock(): number {
    return Math.max(this.#clock.value, this.#finalUntil + this.options.window.graceSeconds);
  }

  /** A close clock read back; without final_until (older records) today's grace is assumed. */
  #restoreClosed(closeClock: number, finalUntil = closeClock - this.options.window.graceSeconds): void {
    this.#clock.restore(closeClock);
    this.#finalUntil = Math.max(this.#finalUntil, finalUntil);
  }

  /** Open windows (one per account, store and window). */
  get openWindows(): number {
    return this.#store.windowCount;
  }

  /** Visit ids held across the open windows. */
  get ids(): number {
    return this.#store.idCount;
  }

  /** The event-time clock: windows whose end + grace is at or before it are closed. */
  get eventTime(): number {
    return this.#clock.value;
  }

  /** How far each partition of `visits` has come, for /ready. */
  inputEventTimes(): ReturnType<EventTimeClock['sources']> {
    return this.#clock.sources();
  }
}
