/**
 * Helpers of the cluster tests: kubectl and helm against the test cluster of global-setup.ts, a
 * polling wait, and a stand-in for the kubelet that this control plane has not got, limited to
 * Helm's hook Jobs.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { tools } from '../packaging/tools.js';

export { chartDir, root } from '../packaging/tools.js';

export const cluster = inject('k8s');

/** Runs a command with KUBECONFIG set to the test cluster's; resolves with stdout, rejects with stderr. */
export function command(file: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(file, args, { env: { ...process.env, KUBECONFIG: cluster.kubeconfig, ...options.env }, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${basename(file)} ${args.join(' ')} exited with ${code}: ${stderr.trim() || stdout.trim()}`)),
    );
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a command that exits without reading: its exit code tells
      child.stdin.end(options.input);
    }
  });
}

export const kubectl = (args: string[], input?: string) => command(cluster.kubectl, args, { input });
export const helm = (args: string[]) => command(tools().HELM, args);

export async function kubectlJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Thrown by a probe of `eventually` when waiting longer cannot help (the process it watches exited). */
export class GaveUp extends Error {}

/**
 * Polls `probe` until it returns a value other than undefined, and returns that value. Past the
 * deadline it fails with `what` and the last thing the probe said (a generous bound, so that a
 * busy machine only makes the test slower, never red). A probe that throws `GaveUp` ends the wait
 * at once with that error.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GaveUp) throw new Error(`${what}: ${error.message}`);
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: still not so after ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ''}`);
    await sleep(250);
  }
}

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
}

/** The objects of a multi-document YAML text (such as `helm get manifest`). */
export function objectsOf(manifest: string): ManifestObject[] {
  return parseAllDocuments(manifest)
    .map((document) => document.toJS() as ManifestObject | null)
    .filter((object): object is ManifestObject => object !== null && typeof object === 'object');
}

export async function uniqueNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  await kubectl(['create', 'namespace', name]);
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  // --wait: the namespace controller deletes everything in it and finalizes it.
  await kubectl(['delete', 'namespace', name, '--ignore-not-found', '--wait=true', '--timeout=120s']);
}

/**
 * The kubelet's part for Helm hook Jobs, which `helm install` and `helm upgrade` wait for: this
 * control plane runs no containers, so their pods would stay Pending and Helm would time out. For
 * each pod of a Job annotated `helm.sh/hook` in `namespace`, it reports what a kubelet reports for
 * a container that exited 0: phase Succeeded. The real Job controller then completes the Job and
 * Helm carries on (and deletes it, as its hook-delete-policy says). Returns a stop function that
 * resolves with the names of the Jobs whose pods it completed.
 */
export function completeHookJobs(namespace: string): () => Promise<string[]> {
  const completed = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const jobs = await kubectlJson<{ items: any[] }>(['get', 'jobs', '--namespace', namespace]);
        const hooks = new Set(jobs.items.filter((job) => job.metadata.annotations?.['helm.sh/hook']).map((job) => job.metadata.name as string));
        if (hooks.size > 0) {
          const pods = await kubectlJson<{ items: any[] }>(['get', 'pods', '--namespace', namespace, '--selector', 'batch.kubernetes.io/job-name']);
          for (const pod of pods.items) {
            const job = pod.metadata.labels['batch.kubernetes.io/job-name'] as string;
            if (!hooks.has(job) || pod.status?.phase !== 'Pending' || pod.metadata.deletionTimestamp) continue;
            const now = new Date().toISOString();
            const status = {
              phase: 'Succeeded',
              conditions: [{ type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: now }],
              containerStatuses: pod.spec.containers.map((container: { name: string; image: string }) => ({
                name: container.name,
                image: container.image,
                imageID: '',
                ready: false,
                restartCount: 0,
                state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
              })),
            };
            await kubectl(['patch', 'pod', pod.metadata.name, '--namespace', namespace, '--subresource', 'status', '--type', 'merge', '--patch', JSON.stringify({ status })]);
            completed.add(job);
          }
        }
      } catch {
        // The namespace may not exist yet (helm --create-namespace), or a pod went away: try again.
      }
      await sleep(250);
    }
  })();
  return async () => {
    running = false;
    await loop;
    return [...completed].sort();
  };
}
