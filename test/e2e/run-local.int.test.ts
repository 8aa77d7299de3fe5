/**
 * Issue 14: `make run` as a user drives it from a terminal. Ctrl-C there sends SIGINT to the
 * terminal's whole foreground process group; the script must turn that into one graceful stop of
 * every service and one summary line. A second `make run` on the same ports must say plainly
 * that one is already running, without starting anything.
 *
 * Issue 22: a service that ends on its own is started again, as the kubelet would, after a
 * back-off that doubles (1 s, 2 s, 4 s …); Ctrl-C still stops everything, and a service waiting
 * out its back-off is then not started again. RUN_RESTART=0 stops everything instead.
 *
 * The script runs in a process group of its own (`detached`), and the test sends SIGINT to that
 * whole group: exactly what a terminal does on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
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

/** The environment of one run: its own topics, free ports, one aggregator, logs in a fresh directory. */
async function runEnv(name: string, settings: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    ...isolatedRunEnv(uniqueName(name)),
    KAFKA_BROKERS: inject('kafkaBrokers'),
    AGGREGATORS: '1',
    GATEWAY_PORT: String(await freePort()),
    PRODUCER_PORT: String(await freePort()),
    AGGREGATOR_PORT: String(await freePort()),
    PRODUCER_RATE: '5',
    RUN_LOG_DIR: mkdtempSync(join(tmpdir(), 'eric-run-')),
    ...settings,
  };
}

/** `condition`, but failing at once, with the script's last line, when the script has ended. */
function whileRunning(run: Run, condition: () => boolean | Promise<boolean>): () => boolean | Promise<boolean> {
  return () => {
    if (run.child.exitCode !== null) throw new Error(`the script ended: ${run.stdout().trim().split('\n').at(-1)}`);
    return condition();
  };
}

async function startReadyRun(env: Record<string, string>): Promise<Run> {
  const run = startRun(env);
  await until('the services to be ready', whileRunning(run, async () => (await ready(Number(env.GATEWAY_PORT))) && (await ready(Number(env.AGGREGATOR_PORT)))));
  return run;
}

/** After a failed test: SIGTERM (the script stops its services, which run in sessions of their own), then SIGKILL. */
async function cleanUp(run: Run | undefined): Promise<void> {
  if (!run || run.child.exitCode !== null) return;
  process.kill(run.child.pid!, 'SIGTERM');
  const stopped = await Promise.race([run.exited.then(() => true), sleep(20_000).then(() => false)]);
  if (!stopped) process.kill(-run.child.pid!, 'SIGKILL');
}

/** The lines of the run's output after `before` (what it printed so far), blank ones left out. */
const linesSince = (run: Run, before: string) => run.stdout().slice(before.length).split('\n').filter((line) => line.trim() !== '');
const gracefulSummary = /^run: stopped 3 services gracefully in \d+\.\d s; the broker still runs \(make kafka-stop\)$/;

beforeAll(() => {
  for (const service of ['aggregator', 'gateway', 'producer']) buildService(service);
}, 180_000);

describe('make run (scripts/run-local.sh)', () => {
  let env: Record<string, string>;
  let run: Run;

  beforeAll(async () => {
    env = await runEnv('run-local');
    run = await startReadyRun(env);
    expect(run.stdout()).toContain('Press Ctrl-C to stop.');
  }, 180_000);

  afterAll(() => cleanUp(run), 30_000);

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

    expect(linesSince(run, before)).toEqual([expect.stringMatching(gracefulSummary)]);
    expect(run.stderr()).toBe('');

    const logDir = env.RUN_LOG_DIR!;
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

describe('make run restarts a service that ends on its own, as a kubelet does', () => {
  let run: Run | undefined;
  afterEach(() => cleanUp(run), 30_000);

  it('starts an aggregator killed with SIGKILL again, ready on its port; a later Ctrl-C still stops everything gracefully', async () => {
    const env = await runEnv('run-restart');
    run = await startReadyRun(env);
    const pid = Number(/run: started aggregator-0 \(pid (\d+)\)/.exec(run.stdout())?.[1]);
    process.kill(pid, 'SIGKILL');

    const restartLine = /^run: aggregator-0 exited \(killed by SIGKILL\); restarting it in 1 s \(restart 1\), log in .*aggregator-0\.log$/m;
    await until('the line that says aggregator-0 is restarted', whileRunning(run, () => restartLine.test(run!.stdout())));
    // The killed process no longer answers: a ready /ready on its port is the new one, with the same settings.
    await until('aggregator-0 to be ready again', () => ready(Number(env.AGGREGATOR_PORT)));
    const log = readFileSync(join(env.RUN_LOG_DIR!, 'aggregator-0.log'), 'utf8');
    expect(log.split('\n').filter((line) => line.includes('"msg":"running"')), 'both runs in the same log file').toHaveLength(2);

    const before = run.stdout();
    process.kill(-run.child.pid!, 'SIGINT');
    expect(await run.exited).toBe(0);
    expect(linesSince(run, before)).toEqual([expect.stringMatching(gracefulSummary)]);
    expect(run.stderr()).toBe('');
  }, 180_000);

  it('starts a service that keeps failing again after 1, 2, 4 s; Ctrl-C during its back-off stops it for good', async () => {
    // A bad setting of the producer alone (the script passes PRODUCER_RATE to it only): it exits with 78 at start.
    const env = await runEnv('run-crash-loop', { PRODUCER_RATE: 'fast' });
    const restarts: Array<{ line: string; seenAt: number }> = [];
    run = startRun(env);
    run.child.stdout!.on('data', () => {
      const lines = run!.stdout().split('\n').filter((line) => line.startsWith('run: producer exited'));
      for (const line of lines.slice(restarts.length)) restarts.push({ line, seenAt: Date.now() });
    });
    await until('three restarts of the producer', whileRunning(run, () => restarts.length >= 3));

    const expected = [1, 2, 4].map((delay, i) => `run: producer exited (status 78); restarting it in ${delay} s (restart ${i + 1}), log in `);
    expect(restarts.slice(0, 3).map(({ line }) => line.slice(0, expected[0]!.length))).toEqual(expected);
    // A lower bound, which a busy machine can only make longer: each restart waited out its
    // back-off (less a little for when this process happened to read the lines).
    expect(restarts[1]!.seenAt - restarts[0]!.seenAt).toBeGreaterThan(1_000 - 300);
    expect(restarts[2]!.seenAt - restarts[1]!.seenAt).toBeGreaterThan(2_000 - 300);

    const before = run.stdout();
    process.kill(-run.child.pid!, 'SIGINT');
    expect(await run.exited).toBe(1);
    expect(linesSince(run, before)).toEqual([
      expect.stringMatching(/^run: stopped in \d+\.\d s; not cleanly: producer \(status 78, waiting to restart\) \(see .*\); the broker still runs \(make kafka-stop\)$/),
    ]);
    // Past the 4 s back-off it was waiting out, the producer has still not been started again.
    const producerLog = join(env.RUN_LOG_DIR!, 'producer.log');
    const starts = () => readFileSync(producerLog, 'utf8').split('\n').filter((line) => line.startsWith('Invalid configuration')).length;
    expect(starts()).toBe(3);
    await sleep(5_000);
    expect(starts()).toBe(3);
    expect(run.stderr()).toBe('');
  }, 180_000);

  it('with RUN_RESTART=0, stops everything when a service ends, as a CI run wants', async () => {
    const env = await runEnv('run-no-restart', { PRODUCER_RATE: 'fast', RUN_RESTART: '0' });
    run = startRun(env);
    expect(await run.exited).toBe(1);
    expect(run.stdout()).not.toContain('restarting');
    expect(run.stdout().trim().split('\n').at(-1)).toMatch(
      /^run: stopped in \d+\.\d s; not cleanly: (.* )?producer \(status 78\) \(see .*\) \(producer exited on its own: see .*producer\.log\); the broker still runs \(make kafka-stop\)$/,
    );
  }, 180_000);
});
