/**
 * The aggregator's Kubernetes topology check against a real API server: the chart is installed
 * (its ServiceAccount, least-privilege Role and StatefulSet), and the real aggregator process runs
 * on this machine with a kubeconfig holding that ServiceAccount's token, as it would in its pod.
 * replicas = P: topology ready; replicas != P: not ready, with the message that says how to fix
 * it, and eric_aggregator_topology_mismatch = 1.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { isolatedRunEnv } from '@eric/shared/testing';
import { chartDir, cluster, command, deleteNamespace, eventually, helm, kubectl, objectsOf, root, uniqueNamespace } from './cluster.js';

const brokers = inject('kafkaBrokers');

interface Ready {
  status: number;
  body: { ready: boolean; checks: Record<string, { ready: boolean; detail?: string }> };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The built aggregator (services/aggregator/dist/start.cjs) as a child process. */
class Aggregator {
  #child: ChildProcess | undefined;
  port = 0;

  constructor(readonly name: string) {}

  async start(env: Record<string, string>): Promise<void> {
    this.port = await freePort();
    mkdirSync(join(root, '.eric/test-logs'), { recursive: true });
    const log = createWriteStream(join(root, `.eric/test-logs/${this.name}.log`));
    this.#child = spawn(process.execPath, [join(root, 'services/aggregator/dist/start.cjs')], {
      env: { ...process.env, LOG_LEVEL: 'info', ...env, HTTP_PORT: String(this.port), HTTP_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child.stdout!.pipe(log);
    this.#child.stderr!.pipe(log);
  }

  async ready(): Promise<Ready> {
    if (this.#child?.exitCode !== null) throw new Error(`${this.name} exited (see .eric/test-logs/${this.name}.log)`);
    const response = await fetch(`http://127.0.0.1:${this.port}/ready`);
    return { status: response.status, body: (await response.json()) as Ready['body'] };
  }

  async metric(name: string): Promise<number | undefined> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    await closed;
  }
}

/** /ready once the topology check has given a verdict that `accept` accepts. */
async function topologyVerdict(aggregator: Aggregator, accept: (check: { ready: boolean; detail?: string }) => boolean): Promise<Ready> {
  return eventually(
    `${aggregator.name}: topology verdict`,
    async () => {
      const ready = await aggregator.ready();
      const check = ready.body.checks.topology;
      return check && accept(check) ? ready : undefined;
    },
    120_000, // the check repeats every 30 s
  );
}

describe('the aggregator topology check on a real API server', () => {
  const release = 'eric';
  const aggregators: Aggregator[] = [];
  let namespace = '';
  let statefulSet = '';
  let serviceAccount = '';
  let partitions = 0;
  let tokenKubeconfig = '';

  function aggregatorEnv(prefix: string, p: number): Record<string, string> {
    return {
      KAFKA_BROKERS: brokers,
      ...isolatedRunEnv(prefix),
      AGGREGATOR_ORDINAL: '0',
      PARTITIONS: String(p),
      KUBERNETES_CHECK: 'on',
      KUBECONFIG: tokenKubeconfig,
      STATEFULSET_NAME: statefulSet,
      POD_NAMESPACE: namespace,
      VISITS_PARTITIONS: '1',
    };
  }

  async function startAggregator(p: number): Promise<Aggregator> {
    const prefix = `k8s-topology-${Date.now().toString(36)}-${aggregators.length}`;
    const aggregator = new Aggregator(prefix);
    aggregators.push(aggregator);
    await aggregator.start(aggregatorEnv(prefix, p));
    return aggregator;
  }

  beforeAll(async () => {
    execFileSync('npx', ['tsc', '--build', 'services/aggregator'], { cwd: root, stdio: 'inherit' });
    namespace = await uniqueNamespace('topology');
    // No topic Job (the aggregator creates its topics itself), so no hook to wait for.
    await helm(['install', release, chartDir, '--namespace', namespace, '--set', 'topics.provisioning.enabled=false']);
    const manifest = objectsOf(await helm(['get', 'manifest', release, '--namespace', namespace]));
    const workload = manifest.find((o) => o.kind === 'StatefulSet' && o.metadata.labels?.['app.kubernetes.io/component'] === 'aggregator')!;
    statefulSet = workload.metadata.name;
    serviceAccount = workload.spec.template.spec.serviceAccountName;
    partitions = workload.spec.replicas;
    expect(manifest.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === serviceAccount)).toBe(true);

    // What the pod would mount: a token of the chart's ServiceAccount, and the cluster's CA.
    const token = (await kubectl(['create', 'token', serviceAccount, '--namespace', namespace, '--duration', '1h'])).trim();
    const admin = parse(readFileSync(cluster.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
    const { server, 'certificate-authority-data': ca } = admin.clusters[0]!.cluster;
    tokenKubeconfig = join(mkdtempSync(join(tmpdir(), 'eric-k8s-')), 'kubeconfig');
    writeFileSync(
      tokenKubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: test, cluster: {server: "' + server + '", certificate-authority-data: "' + ca + '"}}]',
        'users: [{name: aggregator, user: {token: "' + token + '"}}]',
        'contexts: [{name: test, context: {cluster: test, user: aggregator, namespace: "' + namespace + '"}}]',
        'current-context: test',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await Promise.all(aggregators.map((aggregator) => aggregator.stop()));
    if (namespace) {
      await helm(['uninstall', release, '--namespace', namespace]).catch(() => undefined);
      await deleteNamespace(namespace);
    }
  });

  it("allows the chart's ServiceAccount to get its own StatefulSet and nothing more", async () => {
    const canI = async (...args: string[]) =>
      (
        await command(cluster.kubectl, ['auth', 'can-i', ...args, '--namespace', namespace, '--kubeconfig', tokenKubeconfig]).catch((error: Error) =>
          error.message.endsWith(': no') ? 'no' : Promise.reject(error),
        )
      ).trim();
    expect(await canI('get', `statefulsets.apps/${statefulSet}`)).toBe('yes');
    expect(await canI('get', 'statefulsets.apps/another')).toBe('no');
    expect(await canI('list', 'statefulsets.apps')).toBe('no');
    expect(await canI('patch', `statefulsets.apps/${statefulSet}`)).toBe('no');
    expect(await canI('get', 'secrets')).toBe('no');
  });

  let matching: Aggregator;

  it('reports topology ready when the StatefulSet has P replicas', async () => {
    matching = await startAggregator(partitions);
    const ready = await topologyVerdict(matching, (check) => check.detail !== 'topology not checked yet');
    expect(ready.body.checks.topology).toEqual({ ready: true, detail: `P = ${partitions}; StatefulSet ${statefulSet} has ${partitions} replicas` });
    expect(await matching.metric('eric_aggregator_topology_mismatch')).toBe(0);
  });

  it('reports not ready, with the fix, once the StatefulSet is scaled away from P', async () => {
    const scaled = partitions + 1;
    await kubectl(['scale', 'statefulset', statefulSet, '--namespace', namespace, `--replicas=${scaled}`]);
    const ready = await topologyVerdict(matching, (check) => !check.ready);
    expect(ready.status).toBe(503);
    expect(ready.body.ready).toBe(false);
    expect(ready.body.checks.topology).toEqual({
      ready: false,
      detail: `StatefulSet ${statefulSet} has ${scaled} replicas but PARTITIONS is ${partitions}: scale with helm upgrade --set aggregator.replicas=N, which changes both together`,
    });
    expect(await matching.metric('eric_aggregator_topology_mismatch')).toBe(1);
  });

  it('reports not ready from its first check when started with P different from the replicas', async () => {
    const replicas = (await kubectl(['get', 'statefulset', statefulSet, '--namespace', namespace, '-o', 'jsonpath={.spec.replicas}'])).trim();
    const p = Number(replicas) + 2;
    const mismatched = await startAggregator(p);
    const ready = await topologyVerdict(mismatched, (check) => check.detail !== 'topology not checked yet');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.topology).toEqual({
      ready: false,
      detail: `StatefulSet ${statefulSet} has ${replicas} replicas but PARTITIONS is ${p}: scale with helm upgrade --set aggregator.replicas=N, which changes both together`,
    });
    expect(await mismatched.metric('eric_aggregator_topology_mismatch')).toBe(1);
  });
});
