/**
 * Eric as `make run` starts it — scripts/run-local.sh as a child process — but on ports, a broker
 * and directories of the soak's own, so that a soak never touches a user's `make run` (ports
 * 6060-6070, broker 9092) nor the test brokers:
 *
 *   broker     scripts/kafka.sh on `kafkaPort`, its data in `<directory>/kafka-<port>` (KAFKA_HOME_DIR),
 *              wiped at start so that a run judges only its own topics
 *   services   run-local's producer, gateway and aggregators on the ports given; logs in `<directory>/logs`
 *
 * run-local restarts a service that exits, as a kubelet would; its stdout says so in one line per
 * exit, which is kept here as the run's restarts. The services' process ids are not printed after
 * a restart, so they are found in /proc: the services are run-local's children, and each one's
 * HTTP_PORT (set by run-local for that service alone) says which service it is.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { repositoryRoot, sleep } from '@eric/shared/testing/process';

const execFileAsync = promisify(execFile);

export interface LocalRunOptions {
  aggregators: number;
  kafkaPort: number;
  /** HTTP ports: the producer, the gateway, and the first aggregator (the others follow). */
  producerPort: number;
  gatewayPort: number;
  aggregatorPort: number;
  /** Where the broker's data and the services' logs go, relative to the repository. */
  directory: string;
  /** Settings every service inherits (window, grace, ingest limits …). */
  serviceEnv: Record<string, string>;
}

/** One exit of a service that run-local reported (and restarted after its back-off). */
export interface ServiceRestart {
  at: number;
  service: string;
  /** How it ended, in run-local's words: "status 1", "killed by SIGKILL". */
  how: string;
}

const RESTART_LINE = /^run: (\S+) exited \((.+?)\); restarting it/;

export class LocalRun {
  readonly restarts: ServiceRestart[] = [];
  readonly services: string[];
  readonly #env: NodeJS.ProcessEnv;
  readonly #kafkaHome: string;
  #script: ChildProcess | undefined;
  #exited: Promise<void> | undefined;

  constructor(private readonly options: LocalRunOptions) {
    this.services = [...Array.from({ length: options.aggregators }, (_, i) => `aggregator-${i}`), 'gateway', 'producer'];
    this.#kafkaHome = `${repositoryRoot}${options.directory}/kafka-${options.kafkaPort}`;
    this.#env = {
      ...process.env,
      ...options.serviceEnv,
      KAFKA_PORT: String(options.kafkaPort),
      KAFKA_HOME_DIR: this.#kafkaHome,
      AGGREGATORS: String(options.aggregators),
      PRODUCER_PORT: String(options.producerPort),
      GATEWAY_PORT: String(options.gatewayPort),
      AGGREGATOR_PORT: String(options.aggregatorPort),
      RUN_LOG_DIR: this.logDirectory,
      // The soak sends every visit itself: synthetic ones would change the counts it checks.
      PRODUCER_RATE: '0',
    };
    // The soak's own broker, whatever the shell points at.
    delete this.#env.KAFKA_BROKERS;
    delete this.#env.HTTP_PORT;
  }

  get brokers(): string {
    return `127.0.0.1:${this.options.kafkaPort}`;
  }

  get logDirectory(): string {
    return `${repositoryRoot}${this.options.directory}/logs`;
  }

  /** A fresh broker, then run-local; resolves when every service is ready. */
  async start(timeoutMs: number): Promise<void> {
    await this.broker('reset');
    rmSync(this.logDirectory, { recursive: true, force: true });
    const script = spawn(`${repositoryRoot}scripts/run-local.sh`, [], { cwd: repositoryRoot, env: this.#env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#script = script;
    this.#exited = new Promise((resolve) => script.once('exit', () => resolve()));
    let pending = '';
    script.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) this.#read(line);
    });
    script.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    const deadline = Date.now() + timeoutMs;
    while (!(await this.allReady())) {
      if (script.exitCode !== null) throw new Error(`scripts/run-local.sh ended during start-up (status ${script.exitCode})`);
      if (Date.now() > deadline) throw new Error(`the services were not ready within ${timeoutMs / 1000} s (logs in ${this.logDirectory})`);
      await sleep(500);
    }
  }

  #read(line: string): void {
    const restart = RESTART_LINE.exec(line);
    if (restart) this.restarts.push({ at: Date.now(), service: restart[1]!, how: restart[2]! });
  }

  portOf(service: string): number {
    const { producerPort, gatewayPort, aggregatorPort } = this.options;
    if (service === 'producer') return producerPort;
    if (service === 'gateway') return gatewayPort;
    return aggregatorPort + Number(service.slice('aggregator-'.length));
  }

  async ready(service: string): Promise<boolean> {
    const response = await fetch(`http://127.0.0.1:${this.portOf(service)}/ready`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    return response?.status === 200;
  }

  async allReady(): Promise<boolean> {
    return (await Promise.all(this.services.map((s) => this.ready(s)))).every(Boolean);
  }

  /** The process of each service that runs now (none for one waiting out its back-off). */
  pids(): Map<string, number> {
    const byPort = new Map(this.services.map((s) => [String(this.portOf(s)), s]));
    const pids = new Map<string, number>();
    const script = this.#script?.pid;
    if (!script) return pids;
    let children: string[];
    try {
      children = readFileSync(`/proc/${script}/task/${script}/children`, 'utf8').trim().split(' ').filter(Boolean);
    } catch {
      return pids; // run-local has ended
    }
    for (const child of children) {
      try {
        const environment = readFileSync(`/proc/${child}/environ`, 'utf8').split('\0');
        const port = environment.find((entry) => entry.startsWith('HTTP_PORT='))?.slice('HTTP_PORT='.length);
        const service = port === undefined ? undefined : byPort.get(port);
        if (service) pids.set(service, Number(child));
      } catch {
        // exited meanwhile (a `sleep 1` of run-local's loop, or a service just killed)
      }
    }
    return pids;
  }

  /** The broker's JVM, from kafka.sh's pid file; undefined when it is not running. */
  brokerPid(): number | undefined {
    try {
      return Number(readFileSync(`${this.#kafkaHome}/kafka.pid`, 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  /** `scripts/kafka.sh <command>` on the soak's broker; `start` returns once it serves metadata. */
  async broker(command: 'start' | 'stop' | 'reset'): Promise<void> {
    await execFileAsync('bash', [`${repositoryRoot}scripts/kafka.sh`, command], { env: this.#env });
  }

  /** Stops run-local (it stops the services gracefully), then the broker. */
  async stop(): Promise<void> {
    if (this.#script && this.#script.exitCode === null) {
      this.#script.kill('SIGTERM');
      await this.#exited;
    }
    // A broker frozen by the nemesis would not see kafka.sh's SIGTERM until thawed.
    this.thawBroker();
    await this.broker('stop');
  }

  /** SIGCONT to the broker (a no-op unless it was stopped with SIGSTOP). */
  thawBroker(): void {
    const pid = this.brokerPid();
    if (pid) process.kill(pid, 'SIGCONT');
  }
}
