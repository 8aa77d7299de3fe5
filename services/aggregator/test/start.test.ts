/**
 * Issue 22: the aggregator sizes libuv's thread pool itself (start.cts, thread-pool.ts), so that
 * `node services/aggregator/dist/start.cjs` works with nothing in the environment.
 *
 * What counts is the pool libuv really runs, not what process.env says: libuv reads the variable
 * once, when the pool is first used, and setting it any later changes nothing. So the proof runs
 * the built start.cjs, unchanged, in a directory where its main.js is a probe. The probe occupies
 * 8 pool threads with opens of FIFOs for reading (each blocks its thread until a writer comes,
 * and none comes), then asks for a 9th file system call: it completes only if the pool has more
 * than 8 threads. With Node's default 4 it would wait forever, behind the blocked opens.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, EXIT_BAD_CONFIG } from '@eric/shared';
import { buildService, repositoryRoot, serviceEntry } from '@eric/shared/testing/process';
import { requireEnoughThreads } from '../src/thread-pool.js';

const BLOCKED_OPENS = 8;

/** Stands in for main.js: blocks BLOCKED_OPENS pool threads, then reports whether one more call gets a thread. */
const probe = `
import { openSync, closeSync, constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';

const fifos = process.argv.slice(2);
let opened = 0;
const opens = fifos.map((fifo) => open(fifo, 'r').then((handle) => { opened += 1; return handle; }));
await stat(fifos[0]);
console.log(JSON.stringify({ UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE, stillBlocked: fifos.length - opened }));
// Release the blocked threads: a writer that opens a FIFO lets its reader's open return.
for (const fifo of fifos) closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
for (const handle of await Promise.all(opens)) await handle.close();
`;

/** This process's environment without UV_THREADPOOL_SIZE (vitest.config.ts sets it for the test workers). */
function environmentWithoutPoolSize(): NodeJS.ProcessEnv {
  const { UV_THREADPOOL_SIZE: _set, ...rest } = process.env;
  return rest;
}

interface ProbeReport {
  UV_THREADPOOL_SIZE: string | undefined;
  stillBlocked: number;
}

/** Runs the built start.cjs with the probe as its main.js, in an environment without UV_THREADPOOL_SIZE plus `env`. */
async function probeThreadPool(env: Record<string, string> = {}): Promise<ProbeReport> {
  buildService('aggregator');
  const dir = mkdtempSync(join(tmpdir(), 'eric-thread-pool-'));
  copyFileSync(serviceEntry('aggregator'), join(dir, 'start.cjs'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' })); // main.js is an ES module, as the real one
  writeFileSync(join(dir, 'main.js'), probe);
  const fifos = Array.from({ length: BLOCKED_OPENS }, (_, i) => join(dir, `fifo-${i}`));
  execFileSync('mkfifo', fifos);

  const child = spawn(process.execPath, [join(dir, 'start.cjs'), ...fifos], { env: { ...environmentWithoutPoolSize(), ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // A generous bound, not a measurement: with too few threads the call never completes at all.
  const boundMs = 30_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  const code = await exited;
  clearTimeout(timer);
  if (code === null) {
    throw new Error(
      `after ${BLOCKED_OPENS} blocked opens, one more file system call waited ${boundMs / 1000} s for a thread: ` +
        `libuv's pool has ${BLOCKED_OPENS} threads or fewer`,
    );
  }
  if (code !== 0) throw new Error(`the probe failed with status ${code} (its stderr is above); output: ${output || '(none)'}`);
  return JSON.parse(output) as ProbeReport;
}

describe('the aggregator entry point start.cjs sizes the thread pool', () => {
  it(`runs main.js with more than ${BLOCKED_OPENS} libuv threads when UV_THREADPOOL_SIZE is not set`, async () => {
    expect(await probeThreadPool()).toEqual({ UV_THREADPOOL_SIZE: '16', stillBlocked: BLOCKED_OPENS });
  }, 60_000);

  it('leaves a UV_THREADPOOL_SIZE set by the user as it is', async () => {
    expect(await probeThreadPool({ UV_THREADPOOL_SIZE: '12' })).toEqual({ UV_THREADPOOL_SIZE: '12', stillBlocked: BLOCKED_OPENS });
  }, 60_000);
});

describe('the aggregator refuses too small a pool as a bad setting', () => {
  const run = promisify(execFile);
  async function failure(entry: string, env: Record<string, string>): Promise<{ code: number | undefined; stderr: string }> {
    buildService('aggregator');
    // Brokers nobody listens on: a process that got past its checks would hang or retry.
    const options = { cwd: repositoryRoot, env: { ...environmentWithoutPoolSize(), KAFKA_BROKERS: '127.0.0.1:1', AGGREGATOR_ORDINAL: '0', ...env }, timeout: 20_000 };
    return run(process.execPath, [entry], options).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code?: number; stderr?: string }) => ({ code: error.code, stderr: error.stderr ?? '' }),
    );
  }

  it('start.cjs with UV_THREADPOOL_SIZE set below 8: exit 78, naming the variable and its value', async () => {
    const { code, stderr } = await failure(serviceEntry('aggregator'), { UV_THREADPOOL_SIZE: '4' });
    expect(code, stderr).toBe(EXIT_BAD_CONFIG);
    expect(stderr).toContain('UV_THREADPOOL_SIZE is "4"');
  }, 60_000);

  it('main.js started directly, without start.cjs and UV_THREADPOOL_SIZE: exit 78, naming the entry point to use', async () => {
    const { code, stderr } = await failure(`${repositoryRoot}services/aggregator/dist/main.js`, {});
    expect(code, stderr).toBe(EXIT_BAD_CONFIG);
    expect(stderr).toContain('UV_THREADPOOL_SIZE is not set');
    expect(stderr).toContain('services/aggregator/dist/start.cjs');
  }, 60_000);

  it('takes 8 or more, and refuses fewer, an empty value or text (libuv would run 1 thread)', () => {
    for (const enough of ['8', '16', '128']) expect(() => requireEnoughThreads({ UV_THREADPOOL_SIZE: enough })).not.toThrow();
    for (const tooFew of ['7', '4', '0', '', 'sixteen']) {
      expect(() => requireEnoughThreads({ UV_THREADPOOL_SIZE: tooFew })).toThrow(ConfigError);
    }
    expect(() => requireEnoughThreads({})).toThrow(/start\.cjs/);
  });
});
