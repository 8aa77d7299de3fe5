/**
 * Helpers of the tests that run Eric in pods: the images built by scripts/image.sh imported into
 * the test node, `kubectl port-forward` as a user runs it, visits sent to the producer's HTTP API,
 * and the expected final counts of the visits sent.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { finalKey } from '@eric/shared/testing';
import { testClusterEnv } from './global-setup.js';
import { cluster, eventually, kubectl, root } from './cluster.js';

/** The images `make test-k8s` builds first (scripts/image.sh eric / kafka). */
export const images = {
  eric: { repository: 'localhost/eric', tag: process.env.ERIC_TEST_IMAGE_TAG ?? 'dev' },
  kafka: { repository: 'localhost/eric-kafka', tag: '4.1.1' },
};

/** Copies an image from buildah's storage into the test node's containerd, as `kind load` would. */
export function importImage(image: { repository: string; tag: string }): void {
  const name = `${image.repository}:${image.tag}`;
  try {
    execFileSync('buildah', ['inspect', '--type', 'image', name], { stdio: 'ignore' });
  } catch {
    throw new Error(`image ${name} is missing: build it with make image image-kafka (make test-k8s does)`);
  }
  execFileSync('bash', [`${root}scripts/image.sh`, 'import', name], { env: testClusterEnv, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * The test node is tainted so that the chart tests' pods stay unscheduled (global-setup.ts); the
 * tests that run Eric lift the taint while they run (test files run one after another).
 */
export async function liftNodeTaint(): Promise<void> {
  await kubectl(['taint', 'nodes', 'localhost', `${cluster.nodeTaint.key}-`]);
}

export async function restoreNodeTaint(): Promise<void> {
  const { key, value, effect } = cluster.nodeTaint;
  await kubectl(['taint', 'nodes', 'localhost', `${key}=${value}:${effect}`, '--overwrite']);
}

export interface Forward {
  port: number;
  close(): void;
}

/** `kubectl port-forward` to a Service (a local port chosen by kubectl), as a user runs it. */
export async function portForward(namespace: string, target: string, remotePort: number): Promise<Forward> {
  const child: ChildProcess = spawn(cluster.kubectl, ['port-forward', '--namespace', namespace, target, `:${remotePort}`], {
    env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await eventually(`kubectl port-forward ${target}`, async () => {
    if (child.exitCode !== null) throw new Error(`kubectl port-forward exited: ${output}`);
    const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output);
    return match ? Number(match[1]) : undefined;
  });
  return { port, close: () => child.kill('SIGTERM') };
}

export interface Visit {
  id: string;
  account_id: number;
  store_id: string | null;
  timestamp: number;
}

/**
 * The visits a test sends and the final counts they must give: per (account, store, window),
 * the number of distinct ids.
 */
export class VisitLedger {
  readonly #ids = new Map<string, Set<string>>();

  constructor(readonly windowSeconds: number) {}

  record(visit: Visit): void {
    const start = Math.floor(visit.timestamp / this.windowSeconds) * this.windowSeconds;
    const key = finalKey(visit.account_id, visit.store_id, start);
    if (!this.#ids.has(key)) this.#ids.set(key, new Set());
    this.#ids.get(key)!.add(visit.id);
  }

  expected(): Map<string, number> {
    return new Map([...this.#ids].map(([key, ids]) => [key, ids.size]));
  }
}

/** POSTs visits to the producer's /v1/visits; a 202 means Kafka acknowledged every one of them. */
export async function sendVisits(producerPort: number, visits: Visit[], ledger: VisitLedger): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${producerPort}/v1/visits`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(visits),
    signal: AbortSignal.timeout(30_000),
  });
  if (response.status !== 202) throw new Error(`POST /v1/visits answered ${response.status}: ${await response.text()}`);
  for (const visit of visits) ledger.record(visit);
}

let sequence = 0;

/**
 * Visits now for each of `accounts` × `stores`, `perKey` distinct ids each, every one of them sent
 * twice (the second copy must not count).
 */
export function visitsNow(prefix: string, accounts: number[], stores: Array<string | null>, perKey: number): Visit[] {
  const timestamp = Date.now() / 1000;
  const visits: Visit[] = [];
  for (const account_id of accounts) {
    for (const store_id of stores) {
      for (let i = 0; i < perKey; i += 1) {
        sequence += 1;
        const visit = { id: `${prefix}-${sequence}`, account_id, store_id, timestamp };
        visits.push(visit, { ...visit });
      }
    }
  }
  return visits;
}
