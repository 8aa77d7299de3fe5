/**
 * The REST snapshot in pages. A collation can hold 200 000 keys, about 18 MB of JSON: one
 * response of all of it would be built anew for every request. Instead:
 *
 * - the ordered list of every view is built once per collation version (and windows asked for)
 *   and shared by all requests until a count changes; a filtered request walks that list;
 * - a response holds at most `pageMaxKeys` views, and a `next_cursor` that resumes after the
 *   last one. The cursor names a key (window, account, store), not a position, so a page after a
 *   change neither repeats nor skips the keys that were already there.
 */
import { compareViews, type Collator } from './collator.js';
import type { WindowView } from './protocol.js';

/** Distinct `windows` values whose lists are kept at once. */
const MAX_CACHED_LISTS = 4;

export interface Page {
  results: WindowView[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

export class InvalidCursorError extends Error {}

export class SnapshotPages {
  #cache: { version: number; byWindows: Map<number, WindowView[]> } = { version: -1, byWindows: new Map() };

  constructor(
    readonly collator: Collator,
    readonly pageMaxKeys: number,
  ) {}

  /** The page of views `include` lets through, after `cursor`, at most `limit` (≤ pageMaxKeys). */
  page(include: ((view: WindowView) => boolean) | null, windows: number, limit: number, cursor: string | undefined): Page {
    const all = this.#orderedViews(windows);
    const size = Math.min(limit, this.pageMaxKeys);
    let index = cursor === undefined ? 0 : firstAfter(all, decodeCursor(cursor));
    const results: WindowView[] = [];
    for (; index < all.length && results.length < size; index += 1) {
      const view = all[index] as WindowView;
      if (include === null || include(view)) results.push(view);
    }
    // More to come only if a later view would pass the filter.
    let more = false;
    for (let rest = index; rest < all.length && !more; rest += 1) more = include === null || include(all[rest] as WindowView);
    const last = results.at(-1);
    return { results, next_cursor: more && last ? encodeCursor(last) : null };
  }

  #orderedViews(windows: number): WindowView[] {
    const version = this.collator.version;
    if (this.#cache.version !== version) this.#cache = { version, byWindows: new Map() };
    let views = this.#cache.byWindows.get(windows);
    if (!views) {
      views = this.collator.snapshot(undefined, windows).views;
      if (this.#cache.byWindows.size >= MAX_CACHED_LISTS) this.#cache.byWindows.clear();
      this.#cache.byWindows.set(windows, views);
    }
    return views;
  }
}

type CursorKey = [tsFrom: number, tsTo: number, accountId: number, storeId: string | null];

function encodeCursor(view: WindowView): string {
  const key: CursorKey = [view.ts_from, view.ts_to, view.account_id, view.store_id];
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(cursor: string): CursorKey {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('cursor is not one this gateway handed out');
  }
  const valid =
    Array.isArray(key) &&
    key.length === 4 &&
    typeof key[0] === 'number' &&
    typeof key[1] === 'number' &&
    typeof key[2] === 'number' &&
    (typeof key[3] === 'string' || key[3] === null);
  if (!valid) throw new InvalidCursorError('cursor is not one this gateway handed out');
  return key as CursorKey;
}

/** The index of the first view that sorts after the key, in the collator's snapshot order. */
function firstAfter(views: readonly WindowView[], [tsFrom, tsTo, accountId, storeId]: CursorKey): number {
  const key: WindowView = { account_id: accountId, store_id: storeId, ts_from: tsFrom, ts_to: tsTo, count: 0, final: false };
  const index = views.findIndex((view) => (view.ts_from - tsFrom || view.ts_to - tsTo || compareViews(view, key)) > 0);
  return index === -1 ? views.length : index;
}
