/**
 * Eric in pods, used the way its users use it. The images are built on this machine without
 * Docker (scripts/image.sh: Eric's from the Dockerfile with buildah, the broker's from Debian's
 * JRE and Kafka's jars), imported into the node of `scripts/k8s-local.sh up --node`, and the chart
 * is installed with them: the bundled broker, the topics Job, four aggregators, the gateway and
 * the producer, on the node's pod network with Services (kube-proxy) and cluster DNS.
 *
 * The test talks to Eric only through `kubectl port-forward`: visits go to the producer's HTTP
 * API, counts come from the gateway's websocket. It holds the pipeline to exact final counts
 * (duplicates sent, never counted twice) after an install, after `kubectl delete pod` of an
 * aggregator mid-window and then of the gateway, across a `helm upgrade` that rolls the
 * StatefulSet, and after scaling from 4 to 6 partitions with the README's one command. That every
 * window has exactly one final is read from the active-visitors topic itself (read_committed, in
 * the broker's pod). Debian's Prometheus scrapes the pods the chart's ServiceMonitor selects,
 * found through the Kubernetes API; every query of the Grafana dashboard must return data.
 *
 * The node is tainted for the other cluster tests (chart.int.test.ts must see no pods run): this
 * file lifts the taint while it runs (files run one after another) and puts it back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finalKey } from '@eric/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DashboardClient } from '../e2e/support/dashboard-client.js';
import { freePort, tools } from '../packaging/tools.js';
import { chartDir, cluster, deleteNamespace, eventually, helm, kubectl, kubectlJson, objectsOf, uniqueNamespace } from './cluster.js';
import { type Forward, images, importImage, liftNodeTaint, portForward, restoreNodeTaint, sendVisits, VisitLedger, visitsNow } from './release.js';

// Short windows keep the test short. The grace period is long enough that a visit sent now reaches
// Kafka before its window closes even on a busy machine: its final must count it.
const WINDOW_SECONDS = 10;
const GRACE_SECONDS = 15;
const release = 'eric';
const work = mkdtempSync(join(tmpdir(), 'eric-pipeline-'));
const valuesFile = join(work, 'values.yaml');
writeFileSync(valuesFile, stringify({
  image: { ...images.eric, pullPolicy: 'Never' },
  kafka: { image: { ...images.kafka, pullPolicy: 'Never' } },
  aggregator: { config: { WINDOW_SECONDS, GRACE_SECONDS } },
  // Synthetic visits on accounts of their own, so that the dashboard's panels have data; the
  // counts the test checks are on accounts 7000 and up, which only the test sends.
  producer: { config: { PRODUCER_RATE: 10, PRODUCER_ACCOUNT_IDS: '1,2', PRODUCER_DUPLICATES: 0.1, PRODUCER_LATE: 0.05, PRODUCER_LATE_BY_SECONDS: 30 } },
  // The dashboard clients that connect after the gateway's restart get every window of the test.
  gateway: { config: { GATEWAY_SNAPSHOT_WINDOWS: 200 } },
  metrics: { serviceMonitor: { interval: '2s', scrapeTimeout: '2s' } },
}));
const values = ['--values', valuesFile];
const ledger = new VisitLedger(WINDOW_SECONDS);
const accounts = [7001, 7002, 7003, 7004];
const stores = ['web', 'app', null];

let namespace = '';
let producer: Forward | undefined;
let gateway: Forward | undefined;
let dashboard: DashboardClient | undefined;
let prometheus: ChildProcess | undefined;
let prometheusUrl = '';
let discovery: NodeJS.Timeout | undefined;

async function pods(): Promise<any[]> {
  return (await kubectlJson<{ items: any[] }>(['get', 'pods', '--namespace', namespace])).items;
}

const isReady = (pod: any) => pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') && !pod.metadata.deletionTimestamp;

/** Waits until the StatefulSet and both Deployments have all their pods Ready. */
async function allReady(aggregators: number): Promise<void> {
  await kubectl(['rollout', 'status', '--namespace', namespace, 'statefulset/eric-aggregator', '--timeout', '300s']);
  await kubectl(['rollout', 'status', '--namespace', namespace, 'deployment/eric-gateway', '--timeout', '300s']);
  await kubectl(['rollout', 'status', '--namespace', namespace, 'deployment/eric-producer', '--timeout', '300s']);
  await eventually(`${aggregators} aggregators Ready`, async () => ((await pods()).filter((p) => p.metadata.name.startsWith('eric-aggregator-') && isReady(p)).length === aggregators ? true : undefined), 300_000);
}

/** A Kafka command line tool, run with the broker's own JVM and jars inside its pod. */
function kafkaTool(mainClass: string, args: string[]): Promise<string> {
  return kubectl(['exec', '--namespace', namespace, 'eric-kafka-0', '--', 'java', '-Xmx64m', '-Dlog4j2.configurationFile=/opt/kafka/log4j2.properties',
    '-cp', '/opt/kafka/libs/*', mainClass, '--bootstrap-server', 'localhost:9092', ...args]);
}

async function partitionCount(topic: string): Promise<number> {
  const description = await kafkaTool('org.apache.kafka.tools.TopicCommand', ['--describe', '--topic', topic]);
  return Number(/PartitionCount:\s*(\d+)/.exec(description)![1]);
}

/**
 * The final results on active-visitors for the test's accounts, as committed (read_committed),
 * read in the broker's pod until every window sent to has its final: key -> the final counts.
 */
async function committedFinals(): Promise<Map<string, number[]>> {
  const expected = [...ledger.expected().keys()];
  return eventually('every final on active-visitors', async () => {
    // The topic never goes quiet (the synthetic load): read what is there for 20 s, then stop.
    const output = await kubectl(['exec', '--namespace', namespace, 'eric-kafka-0', '--', 'sh', '-c',
      `timeout 20 java -Xmx64m -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties -cp '/opt/kafka/libs/*' \
        org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server localhost:9092 --topic active-visitors \
        --from-beginning --isolation-level read_committed; true`]);
    const finals = new Map<string, number[]>();
    for (const line of output.split('\n')) {
      if (!line.startsWith('{')) continue;
      const result = JSON.parse(line);
      if (!result.final || !accounts.includes(result.account_id)) continue;
      const key = finalKey(result.account_id, result.store_id, result.window[0]);
      finals.set(key, [...(finals.get(key) ?? []), result.count]);
    }
    return expected.every((key) => finals.has(key)) ? finals : undefined;
  }, 180_000);
}

/** Waits until the dashboard shows a final for every window the test sent visits to, then checks them. */
async function expectExactFinals(client: DashboardClient): Promise<void> {
  const expected = ledger.expected();
  await client.waitFor(() => [...expected.keys()].every((key) => client.finals().has(key)), 180_000, `${expected.size} final counts`);
  const shown = new Map([...client.finals()].filter(([key]) => accounts.includes(Number(key.split('|')[0]))));
  for (const [key, count] of expected) expect(shown.get(key), key).toBe(count);
  expect([...shown.keys()].filter((key) => !expected.has(key)), 'finals of windows no visit was sent to').toEqual([]);
}

/** Sends visits of a new batch; returns once Kafka acknowledged them. */
async function send(prefix: string, perKey = 3): Promise<void> {
  await sendVisits(producer!.port, visitsNow(prefix, accounts, stores, perKey), ledger);
}

const labelName = (label: string) => label.replace(/[^a-zA-Z0-9_]/g, '_');

/**
 * Kubernetes service discovery of the endpoints role, done by the test: Debian's Prometheus is
 * built without its Kubernetes discovery, so the test reads the release's Services and
 * EndpointSlices from the API and writes them, with the `__meta_kubernetes_*` labels Prometheus
 * would give them, to a file that Prometheus's file discovery follows. The ServiceMonitor's
 * relabelling then works on them unchanged.
 */
async function discoverEndpoints(file: string): Promise<void> {
  const services = (await kubectlJson<{ items: any[] }>(['get', 'services', '--namespace', namespace])).items;
  const slices = (await kubectlJson<{ items: any[] }>(['get', 'endpointslices', '--namespace', namespace])).items;
  const groups = [];
  for (const slice of slices) {
    const service = services.find((s) => s.metadata.name === slice.metadata.labels?.['kubernetes.io/service-name']);
    if (!service) continue;
    const serviceLabels = Object.fromEntries(Object.entries(service.metadata.labels ?? {}).map(([key, value]) => [`__meta_kubernetes_service_label_${labelName(key)}`, value]));
    for (const endpoint of slice.endpoints ?? []) {
      for (const port of slice.ports ?? []) {
        groups.push({
          targets: [`${endpoint.addresses[0]}:${port.port}`],
          labels: {
            ...serviceLabels,
            __meta_kubernetes_namespace: namespace,
            __meta_kubernetes_service_name: service.metadata.name,
            __meta_kubernetes_endpoint_port_name: port.name ?? '',
            __meta_kubernetes_endpoint_ready: String(endpoint.conditions?.ready ?? false),
            __meta_kubernetes_pod_name: endpoint.targetRef?.name ?? '',
          },
        });
      }
    }
  }
  writeFileSync(`${file}.part`, JSON.stringify(groups));
  renameSync(`${file}.part`, file);
}

/**
 * Debian's Prometheus with the chart's ServiceMonitor turned into what the prometheus-operator
 * would generate: the endpoints of the Services it selects (by labels, in the release's
 * namespace, the named port), job = the component label (jobLabel), the release label kept
 * (targetLabels), pod and namespace labels.
 */
async function startPrometheus(): Promise<void> {
  const rendered = objectsOf(await helm(['template', release, chartDir, '--namespace', namespace, ...values, '--set', 'metrics.serviceMonitor.enabled=true']));
  const monitor = rendered.find((o) => o.kind === 'ServiceMonitor')!;
  const spec = monitor.spec;
  expect(spec.namespaceSelector.matchNames).toEqual([namespace]);
  const selectorRelabels = [
    ...Object.entries(spec.selector.matchLabels as Record<string, string>).map(([label, value]) => ({
      source_labels: [`__meta_kubernetes_service_label_${labelName(label)}`], regex: value, action: 'keep',
    })),
    ...(spec.selector.matchExpressions as Array<{ key: string; operator: string; values: string[] }>).map((expression) => {
      expect(expression.operator).toBe('In');
      return { source_labels: [`__meta_kubernetes_service_label_${labelName(expression.key)}`], regex: expression.values.join('|'), action: 'keep' };
    }),
  ];
  const targetsFile = join(work, 'endpoints.json');
  await discoverEndpoints(targetsFile);
  discovery = setInterval(() => void discoverEndpoints(targetsFile).catch(() => undefined), 2000);
  const scrapeConfigs = (spec.endpoints as any[]).map((endpoint, index) => ({
    job_name: `serviceMonitor/${namespace}/${monitor.metadata.name}/${index}`,
    metrics_path: endpoint.path,
    scrape_interval: endpoint.interval,
    scrape_timeout: endpoint.scrapeTimeout,
    file_sd_configs: [{ files: [targetsFile], refresh_interval: '2s' }],
    relabel_configs: [
      ...selectorRelabels,
      { source_labels: ['__meta_kubernetes_endpoint_port_name'], regex: endpoint.port, action: 'keep' },
      { source_labels: [`__meta_kubernetes_service_label_${labelName(spec.jobLabel)}`], target_label: 'job' },
      ...(spec.targetLabels as string[]).map((label) => ({ source_labels: [`__meta_kubernetes_service_label_${labelName(label)}`], target_label: labelName(label) })),
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
    ],
  }));
  writeFileSync(join(work, 'prometheus.yml'), stringify({ global: { evaluation_interval: '2s' }, scrape_configs: scrapeConfigs }));
  mkdirSync(join(work, 'tsdb'));
  const port = await freePort();
  prometheus = spawn(tools().PROMETHEUS, [
    `--config.file=${join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${join(work, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=1h',
  ], { stdio: ['ignore', 'ignore', openSync(join(work, 'prometheus.log'), 'a')] });
  prometheusUrl = `http://127.0.0.1:${port}`;
}

async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
  return (await (await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) })).json()) as any;
}

beforeAll(async () => {
  importImage(images.eric);
  importImage(images.kafka);
  await liftNodeTaint();
  namespace = await uniqueNamespace('pipeline');
  await helm(['install', release, chartDir, '--namespace', namespace, ...values, '--wait', '--timeout', '10m']);
  producer = await portForward(namespace, 'service/eric-producer', 6060);
  gateway = await portForward(namespace, 'service/eric-gateway', 6066);
  dashboard = await DashboardClient.connect(gateway.port);
  await startPrometheus();
}, 900_000);

afterAll(async () => {
  dashboard?.close();
  producer?.close();
  gateway?.close();
  clearInterval(discovery);
  prometheus?.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
  if (namespace) {
    await helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '3m']).catch(() => undefined);
    await deleteNamespace(namespace);
  }
  await restoreNodeTaint();
}, 300_000);

describe('Eric installed by the chart on the node', () => {
  it('runs every pod Ready, the topics Job done, and helm test passes', async () => {
    const running = await pods();
    const names = running.map((pod) => pod.metadata.name as string).sort();
    expect(names.filter((name) => /^eric-(aggregator-\d|kafka-0)$/.test(name))).toEqual(['eric-aggregator-0', 'eric-aggregator-1', 'eric-aggregator-2', 'eric-aggregator-3', 'eric-kafka-0']);
    expect(names.filter((name) => /^eric-(gateway|producer)-/.test(name))).toHaveLength(2);
    for (const pod of running) expect(isReady(pod), `${pod.metadata.name} Ready`).toBe(true);
    // The topics Job ran after install and was deleted on success (its hook-delete-policy); the
    // topics it made have the chart's partition counts.
    expect((await kubectlJson<{ items: unknown[] }>(['get', 'jobs', '--namespace', namespace])).items).toEqual([]);
    expect(await partitionCount('visits-repartition')).toBe(4);
    expect(await partitionCount('visit-counts-changelog')).toBe(4);
    expect(await partitionCount('active-visitors')).toBe(1);

    const test = await helm(['test', release, '--namespace', namespace, '--timeout', '5m']);
    expect(test).toMatch(/Phase:\s+Succeeded/);
    expect(test).not.toMatch(/Phase:\s+Failed/);
  });

  it('visits sent to the producer give exact final counts on the websocket', async () => {
    await send('install');
    await send('install-later', 2);
    await expectExactFinals(dashboard!);
  });

  it('an aggregator deleted mid-window, then the gateway: counts exact, one final per window', async () => {
    await send('agg-before');
    await kubectl(['delete', 'pod', '--namespace', namespace, 'eric-aggregator-1', '--wait=false']);
    await send('agg-during');
    await allReady(4);
    await send('agg-after');
    await expectExactFinals(dashboard!);

    dashboard!.close();
    gateway!.close();
    await kubectl(['delete', 'pod', '--namespace', namespace, '--selector', 'app.kubernetes.io/component=gateway', '--wait=true']);
    await send('gateway-down');
    await allReady(4);
    gateway = await portForward(namespace, 'service/eric-gateway', 6066);
    // The new gateway rebuilds its view from active-visitors: a new client gets every final again.
    dashboard = await DashboardClient.connect(gateway.port);
    await expectExactFinals(dashboard);

    const finals = await committedFinals();
    for (const [key, count] of ledger.expected()) expect(finals.get(key), key).toEqual([count]);
  });

  it('helm upgrade of a setting rolls the StatefulSet with nothing lost or doubled', async () => {
    const before = (await pods()).filter((p) => p.metadata.name.startsWith('eric-aggregator-')).map((p) => p.metadata.uid as string);
    let sending = true;
    const traffic = (async () => {
      for (let batch = 0; sending; batch += 1) {
        await send(`upgrade-${batch}`, 1);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    try {
      await helm(['upgrade', release, chartDir, '--namespace', namespace, '--reuse-values', '--set', 'aggregator.config.EMIT_INTERVAL_MS=500', '--wait', '--timeout', '10m']);
      await allReady(4);
    } finally {
      sending = false;
      await traffic;
    }
    const after = (await pods()).filter((p) => p.metadata.name.startsWith('eric-aggregator-'));
    expect(after.filter((p) => before.includes(p.metadata.uid)), 'every aggregator pod was replaced').toEqual([]);
    await expectExactFinals(dashboard!);
    const finals = await committedFinals();
    for (const [key, count] of ledger.expected()) expect(finals.get(key), key).toEqual([count]);
  });

  it('scales from 4 to 6 partitions with the README\'s one command', async () => {
    await helm(['upgrade', release, chartDir, '--namespace', namespace, '--reuse-values', '--set', 'aggregator.replicas=6', '--wait', '--timeout', '10m']);
    await allReady(6);
    expect(await partitionCount('visits-repartition')).toBe(6);
    expect(await partitionCount('visit-counts-changelog')).toBe(6);
    const statefulSet = await kubectlJson(['get', 'statefulset', 'eric-aggregator', '--namespace', namespace]);
    expect(statefulSet.status.readyReplicas).toBe(6);
    await send('scaled', 4);
    await expectExactFinals(dashboard!);
    const finals = await committedFinals();
    for (const [key, count] of ledger.expected()) expect(finals.get(key), key).toEqual([count]);
  });

  it('Prometheus finds the pods through the ServiceMonitor and every dashboard query returns data', async () => {
    const dashboardJson = JSON.parse(readFileSync(join(chartDir, 'dashboards/eric.json'), 'utf8'));
    const grafana = (expr: string) => expr.replaceAll('$__rate_interval', '10s').replaceAll('$namespace', namespace);
    const panelQueries: Array<{ panel: string; expr: string }> = dashboardJson.panels
      .filter((panel: any) => panel.type !== 'row')
      .flatMap((panel: any) => panel.targets.map((target: any) => ({ panel: panel.title, expr: grafana(target.expr) })));
    expect(panelQueries.length).toBeGreaterThanOrEqual(30);
    const targets = await eventually('the six aggregators, the gateway and the producer scraped', async () => {
      const result = await query('up == 1');
      const jobs = (result.data?.result ?? []).map((series: any) => `${series.metric.job}/${series.metric.pod}`);
      return jobs.length === 8 ? jobs.sort() : undefined;
    }, 120_000);
    expect(targets.filter((t) => t.startsWith('aggregator/'))).toHaveLength(6);
    // A malformed visit reaches the dead-letter panels only through Kafka (the producer's API
    // refuses it): write some with the broker's console producer.
    await kubectl(['exec', '-i', '--namespace', namespace, 'eric-kafka-0', '--', 'java', '-Xmx64m', '-Dlog4j2.configurationFile=/opt/kafka/log4j2.properties',
      '-cp', '/opt/kafka/libs/*', 'org.apache.kafka.tools.ConsoleProducer', '--bootstrap-server', 'localhost:9092', '--topic', 'visits'], 'not json\n{"id": "x", "account_id": "seven"}\n');
    const missing = async () => {
      const empty: string[] = [];
      for (const { panel, expr } of panelQueries) {
        const result = await query(expr);
        if (result.status !== 'success' || (result.data?.result.length ?? 0) === 0) empty.push(`${panel}: ${expr} -> ${result.error ?? 'no data'}`);
      }
      return empty.length === 0 ? [] : empty;
    };
    await eventually('every dashboard query has data', async () => ((await missing()).length === 0 ? true : undefined), 180_000).catch(() => undefined);
    expect(await missing()).toEqual([]);
  });
});
