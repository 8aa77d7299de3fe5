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
 */
export function tableRows(book, columns, { search = '', sort = { by: 1, descending: true }, limit = 50 } = {}) {
  const matched = book.keys.filter((key) => matchesSearch(key, search));
  const rows = matched.map((key) => ({
    ...key,
    cells: columns.map((start) => {
      const message = book.count(start, key.id);
      return message ? { count: message.count, final: message.final } : null;
    }),
  }));
  rows.sort(compareRows(sort));
  return { rows: rows.slice(0, limit), matched: matched.length, total: book.keyCount };
}

function compareRows({ by, descending }) {
  const direction = descending ? -1 : 1;
  const byKey = (a, b) => a.account_id - b.account_id || (a.store_id ?? '').localeCompare(b.store_id ?? '');
  if (by === 'account') return (a, b) => direction * byKey(a, b);
  if (by === 'store') return (a, b) => direction * ((a.store_id ?? '').localeCompare(b.store_id ?? '') || a.account_id - b.account_id);
  // A key without a count in the column sorts as the smallest: 0 visits. Ties keep a stable order.
  return (a, b) => direction * ((a.cells[by]?.count ?? 0) - (b.cells[by]?.count ?? 0)) || byKey(a, b);
}
