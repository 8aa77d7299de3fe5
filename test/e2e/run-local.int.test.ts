/**
 * Issue 14: `make run` as a user drives it from a terminal. Ctrl-C there sends SIGINT to the
 * terminal's whole foreground process group; the script must turn that into one graceful stop of
 * every service and one summary line. A second `make run` on the same ports must say plainly
 * that one is already running, without starting anything.
 *
 * The script runs in a process group of its own (`detached`), and the test sends SIGINT to that
 * whole group: exactly what a terminal does on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isolatedRunEnv, uniqueName } from '@eric/shared/testing';
import { buildService, freePort, repositoryRoot, sleep } from '@eric/shared/testing/process';

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function startRun(env: Record<string, string>): Run {
  const child = spawn('scripts/run-local.sh', [], { cwd: repositoryRoot, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const ready = async (port: number) => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.status === 200;

describe('make run (scripts/run-local.sh)', () => {
  const logDir = mkdtempSync(join(tmpdir(), 'eric-run-'));
  let env: Record<string, string>;
  let run: Run;

  beforeAll(async () => {
    for (const service of ['aggregator', 'gateway', 'producer']) buildService(service);
    env = {
      ...isolatedRunEnv(uniqueName('run-local')),
      KAFKA_BROKERS: inject('kafkaBrokers'),
      AGGREGATORS: '1',
      GATEWAY_PORT: String(await freePort()),
      PRODUCER_PORT: String(await freePort()),
      AGGREGATOR_PORT: String(await freePort()),
      PRODUCER_RATE: '5',
      RUN_LOG_DIR: logDir,
    };
    run = startRun(env);
    await until('the services to be ready', async () => (await ready(Number(env.GATEWAY_PORT))) && (await ready(Number(env.AGGREGATOR_PORT))));
    expect(run.stdout()).toContain('Press Ctrl-C to stop.');
  }, 180_000);

  afterAll(() => {
    if (run?.child.exitCode === null) process.kill(-run.child.pid!, 'SIGKILL');
  });

  it('refuses a second run on the same ports plainly, starting nothing', async () => {
    const second = startRun(env);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`run: Eric is already running (pid ${run.child.pid})`);
    expect(second.stdout()).not.toContain('Eric is running');
    expect(second.stdout()).not.toContain('started');
  });

  it('stops every service gracefully on Ctrl-C and says so in one line', async () => {
    const before = run.stdout();
    process.kill(-run.child.pid!, 'SIGINT');
    expect(await run.exited).toBe(0);

    const after = run.stdout().slice(before.length).split('\n').filter((line) => line.trim() !== '');
    expect(after).toEqual([expect.stringMatching(/^run: stopped 3 services gracefully in \d+\.\d s; the broker still runs \(make kafka-stop\)$/)]);
    expect(run.stderr()).toBe('');

    const logs = readdirSync(logDir);
    expect(logs.sort()).toEqual(['aggregator-0.log', 'gateway.log', 'producer.log']);
    // A local run is open to anyone on this machine, and says so once at start: those two warnings are expected.
    const openByDesign = /^(access control OFF|PRODUCER_INGEST_KEYS is empty)/;
    for (const file of logs) {
      const lines = readFileSync(join(logDir, file), 'utf8').split('\n').filter((line) => line.startsWith('{'));
      const entries = lines.map((line) => JSON.parse(line) as { level: number; msg: string });
      const levels = entries.filter((entry) => !(entry.level === 40 && openByDesign.test(entry.msg))).map((entry) => entry.level);
      expect({ file, worst: Math.max(...levels) }).toEqual({ file, worst: 30 }); // info: no other warning, no error
      expect(lines.some((line) => line.includes('"msg":"stopped"')), `${file} logs its graceful stop`).toBe(true);
    }
  }, 60_000);
});
