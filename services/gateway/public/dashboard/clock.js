/**
 * Whose wall clock decides which window is current: the gateway's. A browser whose clock is off
 * by a minute would otherwise call the wrong window current. The gateway's HTTP `Date` header
 * (whole seconds) is compared with the middle of the request; a difference within the header's
 * resolution and the round trip is noise, and is ignored.
 */
const NOISE_SECONDS = 2;

/** Seconds to add to this browser's clock to read the gateway's; 0 when they agree. */
export function clockSkewSeconds(dateHeader, sentAtMs, receivedAtMs) {
  const serverMs = Date.parse(dateHeader ?? '');
  if (Number.isNaN(serverMs)) return 0;
  // The header truncates to the second: its instant lies half a second later on average.
  const skew = (serverMs + 500 - (sentAtMs + receivedAtMs) / 2) / 1000;
  return Math.abs(skew) <= NOISE_SECONDS ? 0 : skew;
}
