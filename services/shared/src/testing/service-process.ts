/**
 * Runs a built Eric service (its entry point, see serviceEntry) as a child process, the way
 * `make run` and Kubernetes do: environment in, /ready and /metrics over HTTP, SIGTERM or SIGKILL
 * to stop it. Output goes to `.eric/test-logs/<name>.log` (or the `logDirectory` given).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const builtProjects = new Set<string>();

/** Compiles a service (incremental: a no-op when its dist is current). */
export function buildService(service: string): void {
  if (builtProjects.has(service)) return;
  execFileSync('npx', ['tsc', '--build', `services/${service}`], { cwd: repositoryRoot, stdio: 'inherit' });
  builtProjects.add(service);
}

/**
 * The file that starts a built service, as the image and `make run` start it: main.js, except for
 * the aggregator, whose start.cjs sizes libuv's thread pool before main.js loads
 * (services/aggregator/src/start.cts).
 */
export function serviceEntry(service: string): string {
  return `${repositoryRoot}services/${service}/dist/${service === 'aggregator' ? 'start.cjs' : 'main.js'}`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface ServiceProcessOptions {
  /** The service package: aggregator, gateway or producer. */
  service: string;
  env: Record<string, string>;
  /** Node.js flags, e.g. ['--max-semi-space-size=64']. */
  nodeFlags?: string[];
  /** Keep the same HTTP port across restarts (clients reconnect to it). Default: a free port per start. */
  port?: number;
  /** Where the log goes, relative to the repository: default .eric/test-logs (a benchmark's: .eric/bench-logs). */
  logDirectory?: string;
}

export class ServiceProcess {
  #child: ChildProcess | undefined;
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  port = 0;

  constructor(
    readonly name: string,
    private readonly options: ServiceProcessOptions,
  ) {}

  /** Changes environment variables for the next start, as a rolled-out config change does. */
  setEnv(changes: Record<string, string>): void {
    Object.assign(this.options.env, changes);
  }

  get #logDirectory(): string {
    return `${repositoryRoot}${this.options.logDirectory ?? '.eric/test-logs'}`;
  }

  get logFile(): string {
    return `${this.#logDirectory}/${this.name}.log`;
  }

  /** Everything the process wrote to stdout and stderr so far. */
  output(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  async start(): Promise<this> {
    this.port = this.options.port ?? (this.port || (await freePort()));
    mkdirSync(this.#logDirectory, { recursive: true });
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, [...(this.options.nodeFlags ?? []), serviceEntry(this.options.service)], {
      env: { ...process.env, LOG_LEVEL: process.env.ERIC_TEST_LOG_LEVEL ?? 'info', ...this.options.env, HTTP_PORT: String(this.port), HTTP_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.#child = child;
    // 'close' (not 'exit'): the output has been flushed to the log by then.
    this.#exit = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    return this;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited before it was ready (see ${this.logFile})`);
      try {
        const response = await fetch(`http://127.0.0.1:${this.port}/ready`);
        last = await response.text();
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms: ${last}`);
  }

  /** The value of one sample of /metrics, e.g. metric('x_total', 'reason="late"'); 0 when absent. */
  async metric(name: string, labels = ''): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  kill(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  async exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.#exit!;
  }

  async stop(): Promise<void> {
    if (this.running) {
      this.kill('SIGTERM');
      await this.exited();
    }
  }
}

/**
 * A broker of its own for a test that stops, pauses or restarts it (the shared test broker must
 * stay up for the other test files), started by scripts/kafka.sh. Its port is the test broker's
 * plus `portOffset`, so that two checkouts testing at once do not collide. The commands run
 * asynchronously: the test's own clients (websockets, traffic) keep running meanwhile.
 */
export class PrivateBroker {
  readonly port: number;
  readonly #env: NodeJS.ProcessEnv;

  constructor(name: string, portOffset: number) {
    this.port = Number(process.env.ERIC_TEST_KAFKA_PORT ?? 19092) + portOffset;
    this.#env = { ...process.env, KAFKA_PORT: String(this.port), KAFKA_HOME_DIR: `${repositoryRoot}.eric/kafka-${name}` };
    delete this.#env.KAFKA_BROKERS;
  }

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Runs `scripts/kafka.sh <command>`; `start` returns once the broker serves metadata. */
  async run(command: 'start' | 'stop' | 'reset'): Promise<void> {
    await execFileAsync('bash', [`${repositoryRoot}scripts/kafka.sh`, command], { env: this.#env });
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) the broker: connections hang instead of being refused. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = Number(readFileSync(`${this.#env.KAFKA_HOME_DIR}/kafka.pid`, 'utf8').trim());
    process.kill(pid, signal);
  }
}
