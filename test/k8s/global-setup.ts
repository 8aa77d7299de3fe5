/**
 * Global setup of the cluster tests: a real Kubernetes control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler) started by scripts/k8s-local.sh on loopback, with its
 * state in .eric/k8s-test and its own ports, apart from the `scripts/k8s-local.sh up` cluster.
 * The first run builds the binaries (see the README for how long); later runs start in seconds.
 * The cluster is stopped and deleted afterwards unless it was already running, or
 * ERIC_KEEP_TEST_K8S=1 keeps it up between runs while you iterate.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

export interface TestCluster {
  kubeconfig: string;
  kubectl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    k8s: TestCluster;
  }
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = `${root}scripts/k8s-local.sh`;
const port = Number(process.env.ERIC_TEST_K8S_API_PORT ?? '26443');
export const testClusterEnv = {
  ...process.env,
  K8S_HOME_DIR: `${root}.eric/k8s-test`,
  K8S_API_PORT: String(port),
  K8S_ETCD_PORT: String(port - 64),
  K8S_CM_PORT: String(port - 186),
  K8S_SCHEDULER_PORT: String(port - 184),
};

function k8s(command: string): string {
  return execFileSync('bash', [script, command], { env: testClusterEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

export default function setup(project: TestProject) {
  let alreadyRunning = true;
  try {
    k8s('status');
  } catch {
    alreadyRunning = false;
  }
  // Inherit the output: a cold build prints its progress for minutes.
  execFileSync('bash', [script, 'up'], { env: testClusterEnv, stdio: ['ignore', 'inherit', 'inherit'] });
  project.provide('k8s', { kubeconfig: k8s('kubeconfig').trim(), kubectl: `${k8s('bin').trim()}/kubectl` });
  return () => {
    if (!alreadyRunning && process.env.ERIC_KEEP_TEST_K8S !== '1') process.stdout.write(k8s('reset'));
  };
}
