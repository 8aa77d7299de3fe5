/**
 * Runs the real aggregator as a child process (the built `dist/main.js`), as Kubernetes would:
 * environment in, /ready and /metrics over HTTP, SIGTERM or SIGKILL to stop it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const entry = `${root}services/aggregator/dist/main.js`;
let built = false;

/** Compiles the aggregator (incremental: a no-op when dist is current). */
export function buildAggregator(): void {
  if (built) return;
  execFileSync('npx', ['tsc', '--build', 'services/aggregator'], { cwd: root, stdio: 'inherit' });
  built = true;
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

export class AggregatorProcess {
  #child: ChildProcess | undefined;
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  port = 0;

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {}

  get logFile(): string {
    return `${root}.eric/test-logs/${this.name}.log`;
  }

  /** Everything the process wrote to stdout and stderr so far. */
  output(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  async start(): Promise<this> {
    this.port = await freePort();
    mkdirSync(`${root}.eric/test-logs`, { recursive: true });
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, [entry], {
      env: { ...process.env, LOG_LEVEL: 'info', ...this.env, HTTP_PORT: String(this.port), HTTP_HOST: '127.0.0.1' },
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

  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited before it was ready (see .eric/test-logs/${this.name}.log)`);
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
