/**
 * "A process that says it exits, exits": a service whose Kafka calls hang must still end when it
 * is told to stop (runServiceProcess, exitNow). The process runs the fixture stuck-service.mjs,
 * which holds one of libuv's threads the way a hanging librdkafka call does, so that a
 * process.exit() anywhere on the way out would hang the process for good.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildService, sleep } from '@eric/shared/testing/process';

const fixture = fileURLToPath(new URL('./fixtures/stuck-service.mjs', import.meta.url));
const SHUTDOWN_TIMEOUT_MS = 1_000;
/** Time for the process to start and to die, on a busy machine: well short of "hangs for good". */
const SLACK_MS = 5_000;

let directory: string;
let fifo: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  buildService('shared');
  directory = mkdtempSync(`${tmpdir()}/eric-lifecycle-`);
  fifo = `${directory}/never-written`;
  execFileSync('mkfifo', [fifo]);
}, 120_000);
afterEach(() => {
  // A process that did not end (the failure under test) is killed from outside, where SIGKILL works.
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface StuckService {
  pid: number;
  /** How the process we started ended: an exit code or a signal. */
  ended: Promise<number | string>;
}

/** Starts the fixture; resolves once it runs its service. */
async function startStuckService(stop: 'hangs' | 'fails', shutdownTimeoutMs: number): Promise<StuckService> {
  const options = { stdio: ['ignore', 'pipe', 'pipe'] as const, env: { ...process.env, SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) } };
  const child = spawn(process.execPath, [fixture, fifo, stop], options);
  children.push(child);
  const ended = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"started"')) resolve();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void ended.then(() => reject(new Error(`the fixture ended before it started: ${output}`)));
  });
  return { pid: child.pid!, ended };
}

/** How the process ended, or 'still running' if it had not within `ms`. */
function endWithin(ended: Promise<number | string>, ms: number): Promise<number | string> {
  return Promise.race([ended, sleep(ms).then(() => 'still running')]);
}

describe('a service whose Kafka calls hang', () => {
  it('ends within its shutdown timeout when its stop never finishes', async () => {
    const { pid, ended } = await startStuckService('hangs', SHUTDOWN_TIMEOUT_MS);
    process.kill(pid, 'SIGTERM');
    expect(await endWithin(ended, SHUTDOWN_TIMEOUT_MS + SLACK_MS)).toBe('SIGKILL');
  }, 30_000);

  it('ends at once on a second SIGTERM', async () => {
    const longTimeoutMs = 60_000;
    const { pid, ended } = await startStuckService('hangs', longTimeoutMs);
    process.kill(pid, 'SIGTERM');
    await sleep(200);
    process.kill(pid, 'SIGTERM');
    // Long before its shutdown timeout: the second signal ended it.
    expect(await endWithin(ended, SLACK_MS)).toBe('SIGKILL');
  }, 30_000);

  it('ends within its shutdown timeout when its stop fails', async () => {
    const { pid, ended } = await startStuckService('fails', SHUTDOWN_TIMEOUT_MS);
    process.kill(pid, 'SIGTERM');
    expect(await endWithin(ended, SHUTDOWN_TIMEOUT_MS + SLACK_MS)).toBe('SIGKILL');
  }, 30_000);
});
