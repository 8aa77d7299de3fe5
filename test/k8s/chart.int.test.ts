/**
 * The Helm chart on a real Kubernetes API server: `helm install` with the default values and with
 * each charts/eric/ci/*-values.yaml, then `helm upgrade` (scaling the aggregator, the documented
 * operation) and `helm uninstall`. Every object must be accepted by the API server (validation,
 * defaulting, admission, RBAC escalation checks), and the real controllers must turn the
 * workloads into pods (ServiceAccounts, pod templates and volumes accepted). There is no kubelet,
 * so nothing runs: completeHookJobs() plays its part for Helm's hook Jobs only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chartDir,
  command,
  completeHookJobs,
  deleteNamespace,
  eventually,
  helm,
  kubectl,
  kubectlJson,
  objectsOf,
  root,
  uniqueNamespace,
  type ManifestObject,
} from './cluster.js';

const variants: { name: string; values: string[] }[] = [
  { name: 'default values', values: [] },
  ...readdirSync(join(chartDir, 'ci'))
    .filter((file) => file.endsWith('-values.yaml'))
    .sort()
    .map((file) => ({ name: `ci/${file}`, values: ['--values', join(chartDir, 'ci', file)] })),
];

// The monitoring variant needs the prometheus-operator CRDs (as kube-prometheus-stack installs
// them) and the namespace its dashboard ConfigMap goes to.
beforeAll(async () => {
  const operatorVersion = /^PROMETHEUS_OPERATOR_VERSION=(\S+)/m.exec(readFileSync(join(root, 'scripts/install-tools.sh'), 'utf8'))![1];
  const download = JSON.parse(
    await command('go', ['mod', 'download', '-json', `github.com/prometheus-operator/prometheus-operator@${operatorVersion}`], {
      env: { GOFLAGS: '-mod=mod' },
    }),
  ) as { Dir: string };
  for (const crd of ['servicemonitors', 'prometheusrules']) {
    await kubectl(['apply', '--server-side', '-f', join(download.Dir, `example/prometheus-operator-crd/monitoring.coreos.com_${crd}.yaml`)]);
    await eventually(`CRD ${crd} established`, async () => {
      const live = await kubectlJson<{ status?: { conditions?: { type: string; status: string }[] } }>(['get', 'crd', `${crd}.monitoring.coreos.com`]);
      return live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
  }
  await kubectl(['apply', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: monitoring\n');
});

/** The objects of the release's manifest that the API server has now (each in its own namespace). */
async function liveObjects(namespace: string, manifest: ManifestObject[]): Promise<any[]> {
  const byNamespace = new Map<string, ManifestObject[]>();
  for (const object of manifest) {
    const ns = object.metadata.namespace ?? namespace;
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), object]);
  }
  const live: any[] = [];
  for (const [ns, objects] of byNamespace) {
    const input = objects.map((object) => JSON.stringify(object)).join('\n');
    const text = (await kubectl(['get', '--namespace', ns, '--filename', '-', '--ignore-not-found', '-o', 'json'], input)).trim();
    if (text === '') continue; // none of them exists
    const parsed = JSON.parse(text) as { kind: string; items?: any[] };
    live.push(...(parsed.kind === 'List' ? parsed.items ?? [] : [parsed]));
  }
  return live;
}

/** Waits until each Deployment and StatefulSet of the release has as many pods as it asks for. */
async function expectPodsCreated(namespace: string, manifest: ManifestObject[]): Promise<void> {
  for (const workload of manifest.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')) {
    const wanted = workload.spec.replicas ?? 1;
    await eventually(`${workload.kind} ${workload.metadata.name} has ${wanted} pods`, async () => {
      const selector = Object.entries(workload.spec.selector.matchLabels as Record<string, string>)
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
      const pods = await kubectlJson<{ items: any[] }>(['get', 'pods', '--namespace', namespace, '--selector', selector]);
      const live = pods.items.filter((pod) => !pod.metadata.deletionTimestamp);
      return live.length === wanted ? true : undefined;
    });
  }
}

async function releaseManifest(release: string, namespace: string): Promise<ManifestObject[]> {
  return objectsOf(await helm(['get', 'manifest', release, '--namespace', namespace]));
}

async function releaseStatus(release: string, namespace: string): Promise<{ status: string; revision: number }> {
  const status = JSON.parse(await helm(['status', release, '--namespace', namespace, '-o', 'json'])) as { info: { status: string }; version: number };
  return { status: status.info.status, revision: status.version };
}

function hookJobsOf(rendered: ManifestObject[]): string[] {
  return rendered.filter((o) => o.kind === 'Job' && o.metadata.annotations?.['helm.sh/hook']).map((o) => o.metadata.name).sort();
}

describe.each(variants)('the chart with $name', ({ values }) => {
  const release = 'eric';
  let namespace = '';
  let manifest: ManifestObject[] = [];
  let replicas = 0;

  beforeAll(async () => {
    namespace = await uniqueNamespace('chart');
  });

  afterAll(async () => {
    if (namespace) await deleteNamespace(namespace);
  });

  it('installs: every object accepted, the topic hook Job completed, every workload gets its pods', async () => {
    const rendered = objectsOf(await helm(['template', release, chartDir, '--namespace', namespace, ...values]));
    const expectedHooks = hookJobsOf(rendered);
    const stopHooks = completeHookJobs(namespace);
    try {
      await helm(['install', release, chartDir, '--namespace', namespace, ...values, '--timeout', '5m']);
    } finally {
      expect(await stopHooks()).toEqual(expectedHooks);
    }
    expect(await releaseStatus(release, namespace)).toEqual({ status: 'deployed', revision: 1 });

    manifest = await releaseManifest(release, namespace);
    expect(manifest.length).toBeGreaterThan(5);
    const live = await liveObjects(namespace, manifest);
    expect(live.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(manifest.map((o) => `${o.kind}/${o.metadata.name}`).sort());
    // The hooks ran and were deleted after success, as their delete policy says.
    for (const job of expectedHooks) {
      await eventually(`hook Job ${job} deleted after success`, async () =>
        (await kubectl(['get', 'job', job, '--namespace', namespace, '--ignore-not-found', '-o', 'name'])).trim() === '' ? true : undefined,
      );
    }
    await expectPodsCreated(namespace, manifest);
    replicas = manifest.find((o) => o.kind === 'StatefulSet' && o.metadata.labels?.['app.kubernetes.io/component'] === 'aggregator')!.spec.replicas;
    expect(replicas).toBeGreaterThan(0);
  });

  it('upgrades: scaling the aggregator with --set aggregator.replicas changes the StatefulSet and P together', async () => {
    const scaled = replicas + 1;
    const stopHooks = completeHookJobs(namespace);
    try {
      await helm(['upgrade', release, chartDir, '--namespace', namespace, ...values, '--set', `aggregator.replicas=${scaled}`, '--timeout', '5m']);
    } finally {
      await stopHooks();
    }
    expect(await releaseStatus(release, namespace)).toEqual({ status: 'deployed', revision: 2 });
    manifest = await releaseManifest(release, namespace);
    const aggregator = manifest.find((o) => o.kind === 'StatefulSet' && o.metadata.labels?.['app.kubernetes.io/component'] === 'aggregator')!;
    const live = await kubectlJson(['get', 'statefulset', aggregator.metadata.name, '--namespace', namespace]);
    expect(live.spec.replicas).toBe(scaled);
    // P reaches the pods through the release's ConfigMap: the new value is stored there.
    const config = await kubectlJson<{ items: any[] }>(['get', 'configmaps', '--namespace', namespace, '--selector', `app.kubernetes.io/instance=${release}`]);
    const partitions = config.items.map((item) => item.data?.PARTITIONS).filter((value) => value !== undefined);
    expect(partitions).toEqual([String(scaled)]);
    await expectPodsCreated(namespace, manifest);
  });

  it('uninstalls: the release and all of its objects are gone', async () => {
    await helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '2m']);
    expect((await helm(['list', '--namespace', namespace, '--all', '-q'])).trim()).toBe('');
    await eventually('every object of the release deleted', async () => ((await liveObjects(namespace, manifest)).length === 0 ? true : undefined));
  });
});
