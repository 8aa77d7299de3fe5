/** How times and counts read on the page: 24-hour clock times, counts with thousands separators. */

/** "12:31", or "12:31:20" when windows are shorter than a minute. */
export function clockTime(seconds, withSeconds = false) {
  return new Date(seconds * 1000).toLocaleTimeString('en-GB', withSeconds
    ? { hour: '2-digit', minute: '2-digit', second: '2-digit' }
    : { hour: '2-digit', minute: '2-digit' });
}

/** A window as "12:31–12:32". */
export function windowLabel(start, end) {
  const withSeconds = start % 60 !== 0 || end % 60 !== 0;
  return `${clockTime(start, withSeconds)}–${clockTime(end, withSeconds)}`;
}

export function countText(count) {
  return count.toLocaleString('en-US');
}

/** "40 s ago", "4 min ago", "2 h ago". */
export function ago(seconds) {
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** "1 account", "3 accounts" (with thousands separators). */
export function counted(count, singular, plural = `${singular}s`) {
  return `${countText(count)} ${count === 1 ? singular : plural}`;
}
