/**
 * Tumbling event-time windows. A window is [start, start + size) in epoch seconds, aligned to the
 * epoch, so every process agrees on the boundaries without coordination. A window *closes* when
 * the event-time clock (see event-time.ts) reaches end + grace: after that its count is final and
 * visits for it are late.
 */
export interface WindowSpec {
  /** Window length, seconds. */
  sizeSeconds: number;
  /** How long after its end a window still accepts visits, seconds. */
  graceSeconds: number;
}

/** One counted unit: an (account, store) in one window. */
export interface WindowKey {
  account_id: number;
  store_id: string | null;
  /** Window start, epoch seconds. */
  start: number;
}

export function windowStart(timestampSeconds: number, spec: WindowSpec): number {
  return Math.floor(timestampSeconds / spec.sizeSeconds) * spec.sizeSeconds;
}

/** The close-clock value at which the window that starts at `start` closes. */
export function closesAt(start: number, spec: WindowSpec): number {
  return start + spec.sizeSeconds + spec.graceSeconds;
}

/**
 * A string that identifies a window key in maps (on the hot path: no JSON). The store comes last,
 * after a marker, so any store name is unambiguous and a null store stays apart from the store
 * named "null" and from the empty store.
 */
export function encodeWindowKey(key: WindowKey): string {
  return key.store_id === null ? `${key.start}|${key.account_id}|-` : `${key.start}|${key.account_id}|+${key.store_id}`;
}
