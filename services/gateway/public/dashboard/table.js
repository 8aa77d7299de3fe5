/**
 * The accounts-and-stores table: one row per (account, store) with its count in the current
 * window and the windows before it; click a column to sort, click an account to filter on it.
 * Only the top rows are drawn (the rest are a search away), so thousands of keys stay usable.
 */
import { clockTime, countText } from './format.js';
import { tableRows } from './rows.js';

const PHASE_LABEL = { current: 'now', closing: 'closing', final: 'final' };

export class KeysTable {
  #table;
  #footer;
  #onAccount;
  #onSort;
  /** By default the keys with the most visits in the last closed window come first. */
  sort = { by: 1, descending: true };

  constructor({ table, footer, onAccount, onSort }) {
    this.#table = table;
    this.#footer = footer;
    this.#onAccount = onAccount;
    this.#onSort = onSort;
  }

  /** `columns`: `{start, end, phase}` of each shown window, newest first. */
  render(book, columns, { search, limit }) {
    const { rows, matched, total } = tableRows(book, columns.map((column) => column.start), { search, sort: this.sort, limit });
    this.#table.tHead.replaceChildren(this.#header(columns));
    this.#table.tBodies[0].replaceChildren(...rows.map((row) => this.#row(row)));
    const shown = rows.length;
    this.#footer.textContent = total === 0
      ? 'No counts in the last hour for this selection.'
      : `${countText(shown)} of ${countText(matched)} ${search.trim() ? 'matching ' : ''}accounts/stores shown` +
        (matched > shown ? ' (search to find the others)' : '') + (matched !== total ? ` · ${countText(total)} in all` : '');
  }

  #header(columns) {
    const tr = document.createElement('tr');
    // Windows shorter than a minute need seconds to tell their columns apart.
    const withSeconds = columns.some((column) => column.start % 60 !== 0);
    const cell = (label, by, className = '') => {
      const th = document.createElement('th');
      th.className = className;
      const sorted = this.sort.by === by;
      th.setAttribute('aria-sort', sorted ? (this.sort.descending ? 'descending' : 'ascending') : 'none');
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.sort = String(by);
      button.textContent = label + (sorted ? (this.sort.descending ? ' ▾' : ' ▴') : '');
      button.addEventListener('click', () => {
        // Counts sort biggest first on the first click; names alphabetically.
        this.sort = sorted ? { by, descending: !this.sort.descending } : { by, descending: typeof by === 'number' };
        this.#onSort();
      });
      th.append(button);
      return th;
    };
    tr.append(cell('account', 'account'), cell('store', 'store'));
    columns.forEach((column, index) => {
      const th = cell(clockTime(column.start, withSeconds), index, `count col-${index}`);
      const phase = document.createElement('small');
      phase.textContent = PHASE_LABEL[column.phase] ?? '';
      th.querySelector('button').append(phase);
      tr.append(th);
    });
    return tr;
  }

  #row(row) {
    const tr = document.createElement('tr');
    tr.dataset.account = String(row.account_id);
    tr.dataset.store = row.store_id ?? '';
    const account = document.createElement('td');
    const filterButton = document.createElement('button');
    filterButton.type = 'button';
    filterButton.className = 'link';
    filterButton.title = `show only account ${row.account_id}`;
    filterButton.textContent = String(row.account_id);
    filterButton.addEventListener('click', () => this.#onAccount(row.account_id));
    account.append(filterButton);
    const store = document.createElement('td');
    store.textContent = row.store_id ?? '(no store)';
    if (row.store_id === null) store.className = 'muted';
    tr.append(account, store);
    row.cells.forEach((cell, index) => {
      const td = document.createElement('td');
      td.className = `count col-${index} ${cell === null ? 'none' : cell.final ? 'final' : 'provisional'}`;
      td.textContent = cell === null ? '–' : countText(cell.count);
      if (cell !== null) td.title = cell.final ? 'final count' : 'provisional count';
      tr.append(td);
    });
    return tr;
  }
}
