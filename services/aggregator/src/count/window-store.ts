/**
 * The count state of one partition: per (account, store, window) the set of visit ids seen. The
 * count is the size of the set, so a visit delivered twice (by a producer retry, an at-least-once
 * repartition stage or a replay) is counted once.
 *
 * Pure and synchronous: the window counter (window-counter.ts) decides here what to do with each
 * visit, and turns the consequences into changelog records and results.
 */
import type { Visit } from '@eric/shared';
import { closesAt, encodeWindowKey, windowStart, type WindowKey, type WindowSpec } from './windows.js';

export interface OpenWindow extends WindowKey {
  ids: Set<string>;
  /** Whether the count changed since the last provisional result. */
  changed: boolean;
  /** A changelog offset at or before this window's first changelog record (see restoreFrom). */
  since: number;
}

export type AddOutcome = 'counted' | 'duplicate' | 'late';

export class WindowStore {
  readonly #windows = new Map<string, OpenWindow>();
  #idCount = 0;
  /**
   * The changelog offset that new windows are stamped with (`since`): the caller keeps it at or
   * below the offset the next changelog records will get.
   */
  changelogPosition = 0;

  constructor(readonly spec: WindowSpec) {}

  /** Number of open windows (one per account, store and window). */
  get windowCount(): number {
    return this.#windows.size;
  }

  /** Number of visit ids held across all open windows. */
  get idCount(): number {
    return this.#idCount;
  }

  /**
   * Counts a visit unless its window is already closed at `closeClock` or the id was seen.
   * Returns the window key when counted, so the caller can log it to the changelog.
   */
  add(visit: Visit, closeClock: number): { outcome: AddOutcome; key: WindowKey } {
    const key: WindowKey = { account_id: visit.account_id, store_id: visit.store_id, start: windowStart(visit.timestamp, this.spec) };
    if (closesAt(key.start, this.spec) <= closeClock) return { outcome: 'late', key };
    return { outcome: this.insert(key, visit.id) ? 'counted' : 'duplicate', key };
  }

  /** Adds an id to a window; false when it was there already. Used by add() and by restore. */
  insert(key: WindowKey, id: string): boolean {
    const mapKey = encodeWindowKey(key);
    let window = this.#windows.get(mapKey);
    if (!window) {
      window = { ...key, ids: new Set(), changed: false, since: this.changelogPosition };
      this.#windows.set(mapKey, window);
    }
    if (window.ids.has(id)) return false;
    window.ids.add(id);
    window.changed = true;
    this.#idCount++;
    return true;
  }

  /** Removes and returns every window that is closed at `closeClock`, oldest first. */
  closeDue(closeClock: number): OpenWindow[] {
    const closed: OpenWindow[] = [];
    for (const [mapKey, window] of this.#windows) {
      if (closesAt(window.start, this.spec) <= closeClock) {
        closed.push(window);
        this.#windows.delete(mapKey);
        this.#idCount -= window.ids.size;
      }
    }
    return closed.sort((a, b) => a.start - b.start);
  }

  /** Returns the windows whose count changed since the last call, and clears their flag. */
  takeChanged(): OpenWindow[] {
    const changed: OpenWindow[] = [];
    for (const window of this.#windows.values()) {
      if (window.changed) {
        changed.push(window);
        window.changed = false;
      }
    }
    return changed;
  }

  /**
   * Where a restore can start reading the changelog: at or before the first record of every open
   * window. Everything before it belongs to closed windows.
   */
  restoreFrom(): number {
    let from = this.changelogPosition;
    for (const window of this.#windows.values()) from = Math.min(from, window.since);
    return from;
  }

  clear(): void {
    this.#windows.clear();
    this.#idCount = 0;
  }
}
