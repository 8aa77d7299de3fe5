/**
 * The dashboard page: wires the websocket's counts into the CountBook, and draws the summary
 * cards, the chart and the table from it — at most four times a second however fast counts
 * arrive, and once a second anyway, because the current window follows the wall clock.
 */
import { checkAccess, rememberToken, storedToken } from './access.js';
import { renderCards } from './cards.js';
import { VisitsChart } from './chart.js';
import { CountBook } from './count-book.js';
import { openLiveCounts } from './live-counts.js';
import { chartSeries, CHART_SPAN_SECONDS } from './series.js';
import { summarize } from './summary.js';
import { KeysTable } from './table.js';
import { windowPhase, windowStartAt } from './windows.js';

/** Windows asked for on connect: an hour of the default one-minute windows, for the chart. */
const SNAPSHOT_WINDOWS = 60;
/** The current window and the five before it. */
const TABLE_WINDOWS = 6;
const RENDER_INTERVAL_MS = 250;
const MAX_RETRY_MS = 15_000;

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {
  book: new CountBook(),
  filter: filterFrom(params.get('account'), params.get('store')),
  token: storedToken(params),
  live: null,
  retryMs: 1000,
  dirty: true,
  renderedSecond: 0,
  /** Seconds from this browser's clock to the gateway's: the current window is the gateway's. */
  clockSkew: 0,
};

const nowSeconds = () => Date.now() / 1000 + state.clockSkew;

const chart = new VisitsChart($('chart'));
const table = new KeysTable({
  table: $('keys'),
  footer: $('table-footer'),
  onAccount: (account) => applyFilter({ account }),
  onSort: () => render(),
});

function filterFrom(account, store) {
  const filter = {};
  if (account !== null && account.trim() !== '') filter.account = Number(account.trim());
  if (store !== null && store.trim() !== '') filter.store = store.trim();
  return filter;
}

function matchesFilter(message) {
  return (state.filter.account === undefined || state.filter.account === message.account_id)
    && (state.filter.store === undefined || state.filter.store === message.store_id);
}

function setStatus(name, text) {
  $('status').dataset.state = name;
  $('status').textContent = text;
}

// --- Connection: access first (its answer says why a token is refused), then the websocket. ---

async function start() {
  setStatus('connecting', 'connecting…');
  const access = await checkAccess(state.token);
  state.clockSkew = access.clockSkew;
  if (access.ok) {
    $('access-prompt').hidden = true;
    $('scope').textContent = access.scope.accounts === '*' || !access.scope.access_control ? '' : `token for account ${access.scope.accounts.join(', ')}`;
    connect();
  } else if (access.reason === 'unreachable') {
    retryLater(`${access.message}`);
  } else if (access.reason === 'throttled') {
    retryLater(access.message, access.retryAfterSeconds * 1000);
  } else {
    askForToken(access);
  }
}

function connect() {
  let opened = false;
  state.live = openLiveCounts({
    token: state.token,
    windows: SNAPSHOT_WINDOWS,
    filter: state.filter,
    onOpen: () => {
      opened = true;
      state.retryMs = 1000;
      state.book.clear(); // the snapshot that follows is the whole truth
      setStatus('live', 'live');
    },
    onCount: (message) => {
      if (!matchesFilter(message)) return; // in flight before a filter change
      state.book.apply(message);
      state.dirty = true;
    },
    onError: (error) => showNotice(`${error.error}: ${error.message}`),
    onClose: (event) => {
      state.live = null;
      retryLater(opened ? `disconnected (${event.code})` : 'could not connect');
    },
  });
}

function retryLater(why, atLeastMs = 0) {
  const delay = Math.max(state.retryMs, atLeastMs);
  state.retryMs = Math.min(state.retryMs * 2, MAX_RETRY_MS);
  setStatus('reconnecting', `${why}, retrying in ${Math.round(delay / 1000)} s`);
  // Access is checked again: a token revoked by a restart is explained, not retried forever.
  setTimeout(start, delay);
}

function askForToken(access) {
  setStatus('locked', access.reason === 'token_required' ? 'token needed' : 'token refused');
  $('access-prompt').hidden = false;
  $('access-message').textContent = access.reason === 'token_required'
    ? 'This gateway has access control on: enter an access token to see the counts.'
    : `The token was refused: ${access.message}.`;
  $('access-message').dataset.reason = access.reason;
  $('token').focus();
}

$('access-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('token').value.trim() || undefined;
  rememberToken(state.token);
  $('token').value = '';
  start();
});

// --- Filter (sent to the gateway), search and row limit (the table only). ---

function applyFilter(filter) {
  state.filter = filter;
  $('filter-account').value = filter.account ?? '';
  $('filter-store').value = filter.store ?? '';
  state.book.clear(); // the gateway answers a filter change with the counts it selects
  const url = new URL(location.href);
  url.searchParams.delete('account');
  url.searchParams.delete('store');
  if (filter.account !== undefined) url.searchParams.set('account', String(filter.account));
  if (filter.store !== undefined) url.searchParams.set('store', filter.store);
  history.replaceState(null, '', url);
  state.live?.setFilter(filter);
  render();
}

$('filter').addEventListener('submit', (event) => {
  event.preventDefault();
  const filter = filterFrom($('filter-account').value, $('filter-store').value);
  if (filter.account !== undefined && !(Number.isSafeInteger(filter.account) && filter.account >= 0)) {
    $('filter-account').setCustomValidity('an account id is a whole number');
    $('filter-account').reportValidity();
    return;
  }
  $('filter-account').setCustomValidity('');
  applyFilter(filter);
});
$('clear').addEventListener('click', () => applyFilter({}));
$('search').addEventListener('input', () => render());
$('limit').addEventListener('change', () => render());

function showNotice(text) {
  $('notice').textContent = text;
  $('notice').hidden = false;
}

// --- Drawing. ---

function render() {
  const now = nowSeconds();
  const { book } = state;
  const length = book.windowSeconds;
  book.forgetBefore(windowStartAt(now, length) - CHART_SPAN_SECONDS);
  const summary = summarize(book, now);
  renderCards(summary, state.book, now);
  chart.update(chartSeries(book, now), length);
  const current = summary.current.start;
  const columns = Array.from({ length: TABLE_WINDOWS }, (_, i) => {
    const start = current - i * length;
    const window = book.window(start);
    // A past window without any count has no state to show (the current one is always "now").
    const phase = window || i === 0 ? windowPhase(start, start + length, window?.final ?? false, now) : 'empty';
    return { start, end: start + length, phase };
  });
  table.render(book, columns, { search: $('search').value, limit: Number($('limit').value) });
  $('selection').textContent = selectionText();
  state.dirty = false;
  state.renderedSecond = Math.floor(now);
}

function selectionText() {
  const { account, store } = state.filter;
  if (account === undefined && store === undefined) return 'all accounts and stores';
  return [account !== undefined ? `account ${account}` : 'every account', store !== undefined ? `store “${store}”` : 'every store'].join(' · ');
}

setInterval(() => {
  if (state.dirty || Math.floor(nowSeconds()) !== state.renderedSecond) render();
}, RENDER_INTERVAL_MS);

$('filter-account').value = state.filter.account ?? '';
$('filter-store').value = state.filter.store ?? '';
render();
start();
