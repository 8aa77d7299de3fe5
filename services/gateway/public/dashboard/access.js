/**
 * Access control as the page meets it. Browsers cannot read why a websocket upgrade was refused
 * (a 401 looks like any failed connection), so before connecting the page asks `api/access`,
 * which answers 401 with the reason (`token_required`, `token_rejected`) or the token's scope.
 * The token comes from `?token=` or from the prompt, and is kept for this tab only; a token read
 * from the address bar is taken out of it at once, so it is neither bookmarked, shared nor sent.
 */
import { clockSkewSeconds } from './clock.js';

const STORAGE_KEY = 'eric-gateway-token';

export function storedToken(params) {
  const fromUrl = params.get('token');
  if (fromUrl === null) return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  rememberToken(fromUrl);
  const url = new URL(location.href);
  url.searchParams.delete('token');
  history.replaceState(null, '', url);
  return fromUrl;
}

export function rememberToken(token) {
  if (token) sessionStorage.setItem(STORAGE_KEY, token);
  else sessionStorage.removeItem(STORAGE_KEY);
}

/**
 * `{ok: true, scope, clockSkew}` or `{ok: false, reason, message, clockSkew}`; `reason` is
 * `unreachable` when the gateway did not answer. `clockSkew`: seconds from this browser's clock
 * to the gateway's (see clock.js).
 */
export async function checkAccess(token) {
  let response;
  const sentAt = Date.now();
  try {
    response = await fetch('api/access', { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
  } catch {
    return { ok: false, reason: 'unreachable', message: 'the gateway does not answer', clockSkew: 0 };
  }
  const clockSkew = clockSkewSeconds(response.headers.get('date'), sentAt, Date.now());
  const body = await response.json().catch(() => ({}));
  if (response.ok) return { ok: true, scope: body, clockSkew };
  if (response.status === 401) return { ok: false, reason: body.reason ?? 'token_rejected', message: body.message ?? 'the token was refused', clockSkew };
  // Too many refused tokens from this address: wait as long as the gateway says, not less.
  if (response.status === 429) return { ok: false, reason: 'throttled', message: body.message ?? 'too many refused tokens', retryAfterSeconds: Number(response.headers.get('retry-after')) || 60, clockSkew };
  return { ok: false, reason: 'unreachable', message: `the gateway answered ${response.status}`, clockSkew };
}
