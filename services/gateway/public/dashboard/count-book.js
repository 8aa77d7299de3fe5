/**
 * What the page knows: the latest count of every (account, store) in every window it holds, as
 * the gateway sent them. Each window's total and number of final counts are kept up to date on
 * every change, so a page that follows thousands of keys never adds them all up again.
 * Pure (no DOM): unit-tested without a browser.
 */
import { DEFAULT_WINDOW_SECONDS } from './windows.js';

/** One map key per (account, store); JSON keeps a null store apart from a store named "null". */
export function keyId(accountId, storeId) {
  return JSON.stringify([accountId, storeId]);
}

export class CountBook {
  /** window start → { start, end, total, finals, counts: Map<keyId, message> } */
  #windows = new Map();
  /** keyId → { id, account_id, store_id }: every key seen in a held window. */
  #keys = new Map();
  #windowSeconds = undefined;

  /** Applies one count message (`{account_id, store_id, ts_from, ts_to, count, final}`). */
  apply(message) {
    let window = this.#windows.get(message.ts_from);
    if (!window) {
      window = { start: message.ts_from, end: message.ts_to, total: 0, finals: 0, counts: new Map() };
      this.#windows.set(message.ts_from, window);
    }
    const id = keyId(message.account_id, message.store_id);
    const previous = window.counts.get(id);
    window.total += message.count - (previous?.count ?? 0);
    window.finals += (message.final ? 1 : 0) - (previous?.final ? 1 : 0);
    window.counts.set(id, message);
    if (!this.#keys.has(id)) this.#keys.set(id, { id, account_id: message.account_id, store_id: message.store_id });
    this.#windowSeconds ??= message.ts_to - message.ts_from;
  }

  /** Forgets everything, e.g. before the snapshot of a new filter arrives. */
  clear() {
    this.#windows.clear();
    this.#keys.clear();
  }

  /** Forgets the windows that start before `start`: a page left open for days stays small. */
  forgetBefore(start) {
    let forgot = false;
    for (const windowStart of this.#windows.keys()) {
      if (windowStart < start) {
        this.#windows.delete(windowStart);
        forgot = true;
      }
    }
    if (!forgot) return;
    this.#keys.clear();
    for (const window of this.#windows.values()) {
      for (const [id, message] of window.counts) {
        if (!this.#keys.has(id)) this.#keys.set(id, { id, account_id: message.account_id, store_id: message.store_id });
      }
    }
  }

  /** The window length the gateway uses (from the first count; the default before any). */
  get windowSeconds() {
    return this.#windowSeconds ?? DEFAULT_WINDOW_SECONDS;
  }

  /** Every key seen in a held window. */
  get keys() {
    return [...this.#keys.values()];
  }

  get keyCount() {
    return this.#keys.size;
  }

  /**
   * A window's totals: `total` is the sum of its keys' counts (each a count of distinct visit
   * ids), `final` whether every one of them is final. Undefined when the window has no count.
   */
  window(start) {
    const window = this.#windows.get(start);
    if (!window) return undefined;
    return { start: window.start, end: window.end, total: window.total, keys: window.counts.size, final: window.finals === window.counts.size };
  }

  /** The summaries of every held window, oldest first. */
  windows() {
    return [...this.#windows.keys()].sort((a, b) => a - b).map((start) => this.window(start));
  }

  /** The latest message of one key in one window, if any. */
  count(start, id) {
    return this.#windows.get(start)?.counts.get(id);
  }
}
