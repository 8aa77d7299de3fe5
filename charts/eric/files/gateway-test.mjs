// `helm test` of the Eric chart: checks from inside the cluster that the gateway answers, becomes
// ready, serves the REST snapshot and the websocket. Runs in Eric's image (Node.js and the `ws`
// package of the gateway). The repository's tests run it against a real gateway too.
//
// Environment: GATEWAY_URL (http://host:port), EXPECT_AUTH ("true" when GATEWAY_AUTH_TOKENS is
// set: then /api and /ws must refuse a client without a token), WAIT_SECONDS (how long the
// gateway may take to become ready). Exit status 0 = every check passed.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.cwd(), 'package.json'));
const WebSocket = require('ws');

const base = (process.env.GATEWAY_URL ?? 'http://127.0.0.1:6066').replace(/\/$/, '');
const expectAuth = process.env.EXPECT_AUTH === 'true';
const waitMs = Number(process.env.WAIT_SECONDS ?? 120) * 1000;

const failures = [];
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

async function get(path) {
  try {
    const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    return { status: 0, text: String(error?.cause?.message ?? error) };
  }
}

async function waitReady() {
  const deadline = Date.now() + waitMs;
  let last;
  while (Date.now() < deadline) {
    last = await get('/ready');
    if (last.status === 200) return last;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  return last;
}

/** Opens /ws, says "close" and waits for the server's close frame; resolves with what happened. */
function websocket() {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/ws`, { handshakeTimeout: 5_000 });
    const timer = setTimeout(() => {
      socket.terminate();
      resolve({ opened: false, error: 'timeout' });
    }, 10_000);
    let opened = false;
    socket.on('open', () => {
      opened = true;
      socket.send('close');
    });
    socket.on('unexpected-response', (_request, response) => {
      clearTimeout(timer);
      resolve({ opened: false, status: response.statusCode });
      socket.terminate();
    });
    socket.on('close', (code) => {
      clearTimeout(timer);
      resolve({ opened, code });
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      resolve({ opened, error: error.message });
    });
  });
}

const ready = await waitReady();
check(ready?.status === 200, `GET /ready answers 200 within ${waitMs / 1000} s (last: ${ready?.status} ${ready?.text?.slice(0, 200)})`);
const healthz = await get('/healthz');
check(healthz.status === 200, `GET /healthz answers 200 (got ${healthz.status})`);
const metrics = await get('/metrics');
check(metrics.status === 200 && metrics.text.includes('eric_gateway_'), 'GET /metrics serves eric_gateway_* metrics');

const snapshot = await get('/api/active-visitors');
const ws = await websocket();
if (expectAuth) {
  check(snapshot.status === 401, `GET /api/active-visitors without a token is refused with 401 (got ${snapshot.status})`);
  check(!ws.opened && ws.status === 401, `a websocket without a token is refused with 401 (got ${JSON.stringify(ws)})`);
} else {
  let results;
  try {
    results = JSON.parse(snapshot.text).results;
  } catch {
    results = undefined;
  }
  check(snapshot.status === 200 && Array.isArray(results), `GET /api/active-visitors answers 200 with a results array (got ${snapshot.status})`);
  check(ws.opened && ws.code === 1000, `the websocket /ws opens and closes cleanly on "close" (got ${JSON.stringify(ws)})`);
}

console.log(failures.length === 0 ? 'gateway test passed' : `gateway test failed: ${failures.length} check(s)`);
process.exitCode = failures.length === 0 ? 0 : 1;
