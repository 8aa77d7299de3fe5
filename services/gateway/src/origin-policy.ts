/**
 * Which web pages may talk to the gateway. A browser sends cookies-free websocket upgrades to any
 * host a page names, and the server alone decides: without a check, any page open in a
 * developer's browser could read every count through a port-forward on 127.0.0.1. Two rules:
 *
 * - Origin: a request that carries one (browsers always do on a websocket upgrade) must come
 *   from the gateway's own host (the Origin's host is the Host header) or from an origin in
 *   `GATEWAY_ALLOWED_ORIGINS` (`*`: any). Without an Origin the client is no browser page:
 *   allowed, the token decides.
 * - Host on loopback: reached on a loopback address, the Host must be a loopback name. A page
 *   whose own name was re-pointed at 127.0.0.1 (DNS rebinding) is "same host" by the first rule.
 *
 * Pure: the caller passes the headers and the address the connection arrived on.
 */
import { isIP } from 'node:net';

export interface OriginPolicy {
  /** Any origin allowed (`*`). */
  any: boolean;
  /** Allowed origins besides the gateway's own host, as `URL.origin` spells them. */
  origins: ReadonlySet<string>;
}

/** Why a request is refused, for the 403 body; null when allowed. */
export type OriginRefusal = { reason: 'origin_not_allowed' | 'host_not_allowed'; message: string } | null;

/**
 * Parses the comma-separated list; throws on an entry that is not `*` or a bare origin
 * (`https://dash.example.com`, `http://localhost:3000`: scheme, host, port, nothing else).
 */
export function parseAllowedOrigins(text: string): OriginPolicy {
  const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  const origins = new Set<string>();
  for (const entry of entries) {
    if (entry === '*') continue;
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new Error(`"${entry}" is not an origin (scheme://host[:port], or *)`);
    }
    // URL.origin would quietly drop a path, a query or credentials: an entry with them is a mistake.
    const bare = url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
    if (!/^https?:$/.test(url.protocol) || !bare) {
      throw new Error(`"${entry}" is not an origin: give only http(s)://host[:port], e.g. https://dash.example.com`);
    }
    origins.add(url.origin);
  }
  return { any: entries.includes('*'), origins };
}

/** Host names a loopback connection may carry: a browser can only mean this machine by them. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || (isIP(v4) === 4 && v4.startsWith('127.'));
}

/** A Host header as a URL of `scheme` (so that default ports compare equal), or null when it is no host. */
function hostUrl(host: string, scheme = 'http:'): URL | null {
  try {
    return new URL(`${scheme}//${host}`);
  } catch {
    return null;
  }
}

function parseOrigin(origin: string): URL | null {
  try {
    return new URL(origin);
  } catch {
    return null; // "null" (a sandboxed page, a file) and garbage: no origin anyone listed
  }
}

/** The refusal of a request, or null: `origin` and `host` as the request carries them. */
export function checkOrigin(policy: OriginPolicy, origin: string | undefined, host: string | undefined, localAddress: string | undefined): OriginRefusal {
  if (isLoopbackAddress(localAddress) && host !== undefined && !LOOPBACK_HOSTS.has(hostUrl(host)?.hostname ?? '')) {
    return { reason: 'host_not_allowed', message: 'on a loopback address this gateway answers only to localhost, 127.0.0.1 or [::1]' };
  }
  if (origin === undefined || policy.any) return null;
  const url = parseOrigin(origin);
  if (url && host !== undefined && url.host === hostUrl(host, url.protocol)?.host) return null;
  if (url && policy.origins.has(url.origin)) return null;
  return { reason: 'origin_not_allowed', message: 'pages of this origin may not use this gateway (GATEWAY_ALLOWED_ORIGINS)' };
}
