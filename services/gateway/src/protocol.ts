/**
 * The websocket protocol, compatible with the original app's clients.
 *
 * Server → client: one JSON object per frame, `{account_id, store_id, ts_from, ts_to, count,
 * final}` (see WindowView), and `{"type": "error", "error": <code>, "message": <text>}` when a
 * client message is refused.
 *
 * Client → server: `{"type": "setFilter", "filter": {"account": 352, "store": "web"}}` (`store`
 * optional; `account: null` or `filter: {}` clears the filter), and the text `close`.
 */
import { reject, type Validation } from '@eric/shared';

/** A server → client frame: what clients see, the original app's message shape plus `final`. */
export interface WindowView {
  account_id: number;
  store_id: string | null;
  /** Window start, epoch seconds. */
  ts_from: number;
  /** Window end (exclusive), epoch seconds. */
  ts_to: number;
  count: number;
  final: boolean;
}

/** Which results a client wants; an absent field matches everything. */
export interface Filter {
  account?: number;
  store?: string;
}

export type ClientMessage = { type: 'setFilter'; filter: Filter } | { type: 'close' };

export type ClientMessageError = 'invalid_json' | 'unknown_type' | 'invalid_filter' | 'binary_not_supported' | 'forbidden';

export interface ErrorMessage {
  type: 'error';
  error: ClientMessageError;
  message: string;
}

const MAX_STORE_LENGTH = 256;

/** The keys a filter may have: anything else is a typo ("acount") that must not mean "everything". */
const FILTER_KEYS = ['account', 'store'] as const;

export function parseClientMessage(text: string): Validation<ClientMessage, ClientMessageError> {
  if (text.trim() === 'close') return { ok: true, value: { type: 'close' } };
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return reject('invalid_json', 'expected JSON such as {"type":"setFilter","filter":{"account":1}} or the text close');
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    return reject('invalid_json', 'expected a JSON object');
  }
  const { type, filter } = message as { type?: unknown; filter?: unknown };
  if (type === 'close') return { ok: true, value: { type: 'close' } };
  if (type !== 'setFilter') return reject('unknown_type', `unknown message type ${JSON.stringify(type ?? null)}; known: setFilter, close`);
  if (filter === undefined || filter === null) return { ok: true, value: { type: 'setFilter', filter: {} } };
  if (typeof filter !== 'object' || Array.isArray(filter)) return reject('invalid_filter', '"filter" must be an object');
  const unknown = Object.keys(filter).filter((key) => !(FILTER_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    const names = unknown.map((key) => JSON.stringify(key)).join(', ');
    return reject('invalid_filter', `unknown filter key ${names}; a filter has only "account" and "store"`);
  }

  const { account, store } = filter as { account?: unknown; store?: unknown };
  const parsed: Filter = {};
  if (account !== undefined && account !== null && account !== '') {
    // Dashboards often send what an input field holds: "352" counts as 352.
    const id = typeof account === 'string' && /^\d{1,15}$/.test(account) ? Number(account) : account;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      return reject('invalid_filter', '"account" must be a non-negative integer account id');
    }
    parsed.account = id;
  }
  if (store !== undefined && store !== null && store !== '') {
    if (typeof store !== 'string' || store.length > MAX_STORE_LENGTH) {
      return reject('invalid_filter', `"store" must be a string of at most ${MAX_STORE_LENGTH} characters`);
    }
    parsed.store = store;
  }
  return { ok: true, value: { type: 'setFilter', filter: parsed } };
}

export function matchesFilter(filter: Filter, view: WindowView): boolean {
  return (filter.account === undefined || filter.account === view.account_id) && (filter.store === undefined || filter.store === view.store_id);
}

export function errorMessage(error: ClientMessageError, message: string): string {
  const body: ErrorMessage = { type: 'error', error, message };
  return JSON.stringify(body);
}

/** The frame of a view: the original's field order, serialized once per change for all clients. */
export function encodeView(view: WindowView): Buffer {
  return Buffer.from(
    JSON.stringify({
      account_id: view.account_id,
      store_id: view.store_id,
      ts_from: view.ts_from,
      ts_to: view.ts_to,
      count: view.count,
      final: view.final,
    }),
  );
}
