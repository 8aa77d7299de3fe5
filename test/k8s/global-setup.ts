/**
 * Global setup of the cluster tests: a real Kubernetes control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler) and a node (kubelet, containerd, runc, CNI) started by
 * `scripts/k8s-local.sh up --node` on loopback (root only), with its state in .eric/k8s-test, its
 * own ports and its own pod bridge, apart from the `scripts/k8s-local.sh up` cluster. The node is
 * tainted: only pods that tolerate NODE_TAINT run there, so the chart's pods stay unscheduled and
 * the chart tests see the API server and controllers alone.
 * The first run builds the binaries (see docs/kubernetes.md for how long); later runs start in seconds.
 * The cluster is stopped and deleted afterwards unless it was already running, or
 * ERIC_KEEP_TEST_K8S=1 keeps it up between runs while you iterate.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

export interface TestCluster {
  kubeconfig: string;
  kubectl: string;
  /** The node's taint, as key, value and effect: pods meant to run must tolerate it. */
  nodeTaint: { key: string; value: string; effect: string };
}

const NODE_TAINT = { key: 'eric.dev/test-node', value: 'true', effect: 'NoSchedule' };

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
  K8S_KUBELET_PORT: String(port - 193),
  K8S_NODE_BRIDGE: 'eric-test0',
  K8S_POD_SUBNET: '10.244.250.0/24',
  K8S_NODE_TAINT: `${NODE_TAINT.key}=${NODE_TAINT.value}:${NODE_TAINT.effect}`,
};

function k8s(command: string): string {
  return execFileSync('bash', [script, command], { env: testClusterEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Runs scripts/k8s-local.sh against the test cluster (for the node tests' `ctr`). */
export function k8sLocal(args: string[]): string {
  return execFileSync('bash', [script, ...args], { env: testClusterEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export default function setup(project: TestProject) {
  let alreadyRunning = true;
  try {
    k8s('status');
  } catch {
    alreadyRunning = false;
  }
  // Inherit the output: a cold build prints its progress for minutes.
  execFileSync('bash', [script, 'up', '--node'], { env: testClusterEnv, stdio: ['ignore', 'inherit', 'inherit'] });
  project.provide('k8s', { kubeconfig: k8s('kubeconfig').trim(), kubectl: `${k8s('bin').trim()}/kubectl`, nodeTaint: NODE_TAINT });
  return () => {
    if (!alreadyRunning && process.env.ERIC_KEEP_TEST_K8S !== '1') process.stdout.write(k8s('reset'));
  };
}
