/**
 * The count state of one partition: per (account, store, window) the set of visit ids seen. The
 * count is the size of the set, so a visit delivered twice (by a producer retry, an at-least-once
 * repartition stage or a replay) is counted once.
 *
 * Pure and synchronous: the window counter (window-counter.ts) decides here what to do with each
 * visit, and turns the consequences into changelog records and results.
 *
 * Holding ids costs memory (about 175 bytes each, docs/benchmarks.md), and anyone who can send
 * visits can send new ids: so a window takes at most `maxIdsPerWindow` of them. An id over the cap
 * is `capped`, not counted (the caller dead-letters it); an id already held is still a duplicate.
 * The cap is applied to visits only, never to a restore: what was counted stays counted, also
 * after the cap was lowered.
 */
import type { Visit } from '@eric/shared';
import { closesAt, encodeWindowKey, windowStart, type WindowKey, type WindowSpec } from './windows.js';

export interface OpenWindow extends WindowKey {
  ids: Set<string>;
  /** Whether the count changed since the last provisional result. */
  changed: boolean;
  /** A changelog offset at or before this window's first changelog record (see restoreFrom). */
  since: number;
  /** New ids refused because the window held maxIdsPerWindow already. */
  capped: number;
}

export type AddOutcome = 'counted' | 'duplicate' | 'late' | 'capped';

export class WindowStore {
  readonly #windows = new Map<string, OpenWindow>();
  #idCount = 0;
  /**
   * The changelog offset that new windows are stamped with (`since`): the caller keeps it at or
   * below the offset the next changelog records will get.
   */
  changelogPosition = 0;

  constructor(
    readonly spec: WindowSpec,
    readonly maxIdsPerWindow = Number.POSITIVE_INFINITY,
  ) {}

  /** Number of open windows (one per account, store and window). */
  get windowCount(): number {
    return this.#windows.size;
  }

  /** Number of visit ids held across all open windows. */
  get idCount(): number {
    return this.#idCount;
  }

  /**
   * Counts a visit unless its window is already closed at `closeClock`, the id was seen, or the
   * window holds maxIdsPerWindow ids. Returns the window key, so the caller can log a counted id
   * to the changelog, and for a capped one how many its window has refused so far.
   */
  add(visit: Visit, closeClock: number): { outcome: AddOutcome; key: WindowKey; capped?: number } {
    const key: WindowKey = { account_id: visit.account_id, store_id: visit.store_id, start: windowStart(visit.timestamp, this.spec) };
    if (closesAt(key.start, this.spec) <= closeClock) return { outcome: 'late', key };
    const window = this.#window(key);
    if (window.ids.has(visit.id)) return { outcome: 'duplicate', key };
    if (window.ids.size >= this.maxIdsPerWindow) return { outcome: 'capped', key, capped: ++window.capped };
    this.#count(window, visit.id);
    return { outcome: 'counted', key };
  }

  /** Adds an id to a window whatever its size (a restore); false when it was there already. */
  insert(key: WindowKey, id: string): boolean {
    const window = this.#window(key);
    if (window.ids.has(id)) return false;
    this.#count(window, id);
    return true;
  }

  /** The open window of `key`, opened now if it was not. */
  #window(key: WindowKey): OpenWindow {
    const mapKey = encodeWindowKey(key);
    let window = this.#windows.get(mapKey);
    if (!window) {
      window = { ...key, ids: new Set(), changed: false, since: this.changelogPosition, capped: 0 };
      this.#windows.set(mapKey, window);
    }
    return window;
  }

  #count(window: OpenWindow, id: string): void {
    window.ids.add(id);
    window.changed = true;
    this.#idCount++;
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
