/**
 * Collation: from the stream of window results on `active-visitors` to the current count of every
 * (account, store, window). Pure logic, no Kafka: the consumer feeds results in topic order.
 *
 * Rules:
 * - per source partition, the latest result wins, except that a provisional result never
 *   replaces a final one (the final is the closing count; a provisional after it can only be a
 *   stale re-delivery);
 * - when one window was counted by several source partitions (a key moved after a rescale), the
 *   shown count is the sum of the latest count of each, and it is final once every contributing
 *   partition has sent its final;
 * - windows that ended more than `retentionSeconds` ago are evicted, and at most `maxKeys`
 *   entries are held (the oldest windows go first), so memory stays bounded.
 */
import type { WindowResult } from '@eric/shared';
import type { WindowView } from './protocol.js';

export type ApplyOutcome =
  | { changed: true; view: WindowView }
  | { changed: false; reason: 'stale_provisional' | 'unchanged' | 'expired' };

export interface CollatorOptions {
  /** Windows that ended longer ago than this are dropped. */
  retentionSeconds: number;
  /** Most entries held at once. */
  maxKeys: number;
}

/** What a snapshot holds, and whether the key cap cut it short. */
export interface Snapshot {
  views: WindowView[];
  truncated: boolean;
}

interface PartitionCount {
  count: number;
  final: boolean;
}

interface Entry {
  view: WindowView;
  /** The latest result of each source partition that counted this window. */
  byPartition: Map<number, PartitionCount>;
}

/** All entries of one window `[start, end)`: eviction drops whole windows, oldest first. */
interface WindowGroup {
  start: number;
  end: number;
  entries: Map<string, Entry>;
}

export class Collator {
  readonly #options: CollatorOptions;
  readonly #windows = new Map<string, WindowGroup>();
  #size = 0;
  #version = 0;

  constructor(options: CollatorOptions) {
    this.#options = options;
  }

  /** Changes whenever what a snapshot would contain changes: lets callers cache snapshots. */
  get version(): number {
    return this.#version;
  }

  /** Number of (account, store, window) entries held. */
  get size(): number {
    return this.#size;
  }

  /** Applies one result; says whether the shown count changed (and what it is now). */
  apply(result: WindowResult, nowSeconds: number): ApplyOutcome {
    const [start, end] = result.window;
    if (end < nowSeconds - this.#options.retentionSeconds) return { changed: false, reason: 'expired' };

    const group = this.#group(start, end);
    const key = entryKey(result.account_id, result.store_id);
    let entry = group.entries.get(key);
    const created = entry === undefined;
    if (!entry) {
      entry = {
        view: { account_id: result.account_id, store_id: result.store_id, ts_from: start, ts_to: end, count: 0, final: false },
        byPartition: new Map(),
      };
      group.entries.set(key, entry);
      this.#size += 1;
    } else if (entry.byPartition.get(result.partition)?.final && !result.final) {
      return { changed: false, reason: 'stale_provisional' };
    }

    entry.byPartition.set(result.partition, { count: result.count, final: result.final });
    let count = 0;
    let final = true;
    for (const part of entry.byPartition.values()) {
      count += part.count;
      final &&= part.final;
    }
    if (!created && count === entry.view.count && final === entry.view.final) return { changed: false, reason: 'unchanged' };
    // A fresh object per change: views already handed out (snapshots, queued frames) stay as they were.
    entry.view = { ...entry.view, count, final };
    this.#version += 1;

    if (this.#size > this.#options.maxKeys) this.#evictOldestEntries(this.#size - this.#options.maxKeys);
    return { changed: true, view: entry.view };
  }

  /** Drops windows that ended more than the retention ago; returns how many entries went. */
  evictExpired(nowSeconds: number): number {
    const cutoff = nowSeconds - this.#options.retentionSeconds;
    let evicted = 0;
    for (const [id, group] of this.#windows) {
      if (group.end < cutoff) {
        evicted += group.entries.size;
        this.#windows.delete(id);
      }
    }
    this.#size -= evicted;
    if (evicted > 0) this.#version += 1;
    return evicted;
  }

  /**
   * The current counts of the `windows` most recent windows (by start) that `include` lets
   * through, oldest window first, so that a client applying them in order ends on the newest.
   * At most `maxKeys` views: the newest windows are kept, and a window over the cap is cut at
   * `maxKeys` in key order (`truncated` says so). One crowded window can hold 200 000 keys, so
   * the views are pushed one by one: spreading them as call arguments overflows V8's stack.
   */
  snapshot(include: (view: WindowView) => boolean = () => true, windows = Infinity, maxKeys = Infinity): Snapshot {
    const groups = [...this.#windows.values()].sort((a, b) => a.start - b.start || a.end - b.end);
    const newestFirst: WindowView[][] = [];
    let taken = 0;
    let truncated = false;
    for (let i = groups.length - 1; i >= 0 && newestFirst.length < windows && !truncated; i -= 1) {
      const matching: WindowView[] = [];
      for (const entry of (groups[i] as WindowGroup).entries.values()) if (include(entry.view)) matching.push(entry.view);
      if (matching.length === 0) continue;
      if (taken + matching.length > maxKeys) {
        truncated = true;
        matching.sort(compareViews);
        matching.length = maxKeys - taken;
        if (matching.length === 0) break;
      } else {
        matching.sort(compareViews);
      }
      newestFirst.push(matching);
      taken += matching.length;
    }
    const views: WindowView[] = [];
    for (let i = newestFirst.length - 1; i >= 0; i -= 1) for (const view of newestFirst[i] as WindowView[]) views.push(view);
    return { views, truncated };
  }

  #group(start: number, end: number): WindowGroup {
    const id = `${start}/${end}`;
    let group = this.#windows.get(id);
    if (!group) {
      group = { start, end, entries: new Map() };
      this.#windows.set(id, group);
    }
    return group;
  }

  /** Over the key limit: drop entries of the oldest windows first. */
  #evictOldestEntries(excess: number): void {
    while (excess > 0) {
      let oldest: [string, WindowGroup] | undefined;
      for (const candidate of this.#windows) {
        if (!oldest || candidate[1].start < oldest[1].start) oldest = candidate;
      }
      if (!oldest) return;
      const [id, group] = oldest;
      for (const key of group.entries.keys()) {
        if (excess === 0) break;
        group.entries.delete(key);
        this.#size -= 1;
        excess -= 1;
      }
      if (group.entries.size === 0) this.#windows.delete(id);
    }
  }
}

function entryKey(accountId: number, storeId: string | null): string {
  // JSON keeps a null store apart from a store named "null".
  return JSON.stringify([accountId, storeId]);
}

/** The order of views inside a window: by account, then store (null first; code-unit order, a total one, so cursors can resume). */
export function compareViews(a: WindowView, b: WindowView): number {
  return a.account_id - b.account_id || compareStores(a.store_id, b.store_id);
}

function compareStores(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}
