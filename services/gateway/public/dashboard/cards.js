/**
 * The four cards at the top: the current window (the wall clock's), the window that just ended,
 * how many accounts and stores the last hour had, and visits stamped ahead of the clock.
 */
import { ago, countText, counted, windowLabel } from './format.js';

const $ = (id) => document.getElementById(id);

export function renderCards(summary, book, now) {
  const { current, last, previousFinal, future, newestWithData, quiet } = summary;
  $('current-window').textContent = windowLabel(current.start, current.end);
  $('current-count').textContent = countText(current.total);
  $('current-detail').textContent = current.keys > 0
    ? `provisional · ${counted(current.keys, 'account/store')} so far`
    : newestWithData
      ? `no visits yet in this window · last counted ${windowLabel(newestWithData.start, newestWithData.end)} (${ago(now - newestWithData.end)})`
      : 'no visits yet in this window';
  $('current-card').dataset.quiet = String(quiet);

  $('last-window').textContent = windowLabel(last.start, last.end);
  $('last-count').textContent = countText(last.total);
  $('last-card').dataset.phase = last.phase;
  $('last-detail').textContent = last.phase === 'final'
    ? `final${previousFinal ? ` · ${change(last.total, previousFinal.total)} vs ${windowLabel(previousFinal.start, previousFinal.end)}` : ''}`
    : last.keys === 0 ? 'no visits in this window' : 'closing: the final count comes after the grace period';

  $('keys-count').textContent = countText(book.keyCount);
  const accounts = new Set(book.keys.map((key) => key.account_id)).size;
  $('keys-detail').textContent = `${counted(accounts, 'account')} with visits in the last hour`;

  $('future-card').dataset.state = future.length > 0 ? 'warning' : 'ok';
  if (future.length > 0) {
    const visits = future.reduce((sum, window) => sum + window.total, 0);
    const furthest = future.at(-1);
    $('future-count').textContent = countText(visits);
    $('future-detail').textContent = `${visits === 1 ? 'visit' : 'visits'} stamped ahead of this clock, up to ${windowLabel(furthest.start, furthest.end)}: check the senders' clocks`;
  } else {
    $('future-count').textContent = '0';
    $('future-detail').textContent = 'no visit stamped ahead of this clock';
  }
}

/** The change from one final count to the next, as "+12 %". */
function change(now, before) {
  if (before === 0) return now === 0 ? '±0' : 'up from 0';
  const percent = Math.round(((now - before) / before) * 100);
  return `${percent > 0 ? '+' : percent < 0 ? '−' : '±'}${Math.abs(percent)} %`;
}
