/**
 * The rows of the accounts-and-stores table: one per (account, store), with its count in each
 * shown window. Searched, sorted and cut to the top N, so that thousands of keys stay usable: by
 * default the keys with the most visits in the last closed window come first.
 * Pure (no DOM).
 */

/** `search` matches an account id from its start ("35" finds 352) or any part of a store name. */
export function matchesSearch(key, search) {
  const text = search.trim().toLowerCase();
  if (text === '') return true;
  return String(key.account_id).startsWith(text) || (key.store_id ?? '').toLowerCase().includes(text);
}

/**
 * `columns`: window starts, newest first. `sort`: `{by: 'account' | 'store' | <column index>,
 * descending}`. Returns the top `limit` rows and how many keys matched the search.
 *
 * Only the sort column is read for every key; the other cells only for the rows shown, so a
 * redraw with thousands of keys costs a sort of numbers, not a table of them.
 */
export function tableRows(book, columns, { search = '', sort = { by: 1, descending: true }, limit = 50 } = {}) {
  const matched = book.keys.filter((key) => matchesSearch(key, search));
  const sorted = typeof sort.by === 'number' ? byCount(book, matched, columns[sort.by], sort.descending) : byName(matched, sort);
  const rows = sorted.slice(0, limit).map((key) => ({
    ...key,
    cells: columns.map((start) => {
      const message = book.count(start, key.id);
      return message ? { count: message.count, final: message.final } : null;
    }),
  }));
  return { rows, matched: matched.length, total: book.keyCount };
}

const byKey = (a, b) => a.account_id - b.account_id || (a.store_id ?? '').localeCompare(b.store_id ?? '');

function byName(keys, { by, descending }) {
  const direction = descending ? -1 : 1;
  const compare = by === 'store' ? (a, b) => (a.store_id ?? '').localeCompare(b.store_id ?? '') || a.account_id - b.account_id : byKey;
  return keys.sort((a, b) => direction * compare(a, b));
}

/** A key without a count in the column sorts as 0 visits; ties keep account order. */
function byCount(book, keys, start, descending) {
  const direction = descending ? -1 : 1;
  const counted = keys.map((key) => ({ key, count: book.count(start, key.id)?.count ?? 0 }));
  counted.sort((a, b) => direction * (a.count - b.count) || byKey(a.key, b.key));
  return counted.map((entry) => entry.key);
}
