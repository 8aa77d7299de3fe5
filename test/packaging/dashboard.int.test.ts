/**
 * The Grafana dashboard and the alert rules proved against real data: the real pipeline (two
 * aggregators, the gateway and the producer from services/*\/dist on the test broker, topics
 * provisioned as the chart's topic Job does it), a real Prometheus (Debian's) scraping them on
 * loopback with the labels the chart's ServiceMonitor gives, and every PromQL expression of every
 * dashboard panel and every alert rule run against it. Each panel query must return data; each
 * alert expression must evaluate, its metrics must exist, and on this healthy pipeline only the
 * dead-letter alert (rendered with a threshold of 0, after we send malformed visits) may match.
 *
 * The chart's helm-test script (files/gateway-test.mjs) runs here too, against the real gateway.
 * (The topic Job's command is tested on its own in services/aggregator/test/provision.int.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TopicAdmin } from '@eric/shared';
import { produceRecords, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { chartDir, find, freePort, render, root, run, tempDir, tools } from './tools.js';

const brokers = inject('kafkaBrokers');
const settings = testKafkaSettings(brokers, 'eric-packaging-test');
const id = uniqueName('pkg');
const topics = {
  visits: `${id}-visits`,
  repartition: `${id}-repartition`,
  changelog: `${id}-changelog`,
  activeVisitors: `${id}-active`,
  deadLetter: `${id}-dead`,
};
const partitions = 2;
const namespace = 'eric-test';
const release = 'eric';

const dir = tempDir('dashboard');
const children: Array<{ name: string; child: ChildProcess; log: string }> = [];
const ports: Record<string, number> = {};
let prometheusUrl = '';
let chartValues: string[] = [];

function start(name: string, command: string, args: string[], env: Record<string, string>): void {
  const log = join(dir, `${name}.log`);
  const child = spawn(command, args, { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(log);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  children.push({ name, child, log });
}

const tail = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '(no log)');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns true; on the deadline, the caller's assertions say what is missing. */
async function waitFor(check: () => Promise<boolean>, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    for (const { name, child, log } of children) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${tail(log)}`);
    }
    await sleep(1000);
  }
}

async function ready(port: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(2000) });
  return response.status === 200;
}

interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: unknown[] };
}

async function query(expr: string): Promise<QueryResult> {
  const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
  return (await (await fetch(url, { signal: AbortSignal.timeout(5000) })).json()) as QueryResult;
}

/** Grafana's variables as the dashboard would send them: all namespaces, a rate window of 10 scrapes. */
const grafana = (expr: string) => expr.replaceAll('$__rate_interval', '10s').replaceAll('$namespace', '.*');

const dashboard = JSON.parse(readFileSync(join(chartDir, 'dashboards/eric.json'), 'utf8'));
const panelQueries: Array<{ panel: string; expr: string }> = dashboard.panels
  .filter((panel: any) => panel.type !== 'row')
  .flatMap((panel: any) => panel.targets.map((target: any) => ({ panel: panel.title, expr: grafana(target.expr) })));

let rules: Array<{ alert: string; expr: string }> = [];
let ws: WebSocket | undefined;

beforeAll(async () => {
  const t = tools();
  for (const entry of ['aggregator/dist/start.cjs', 'aggregator/dist/provision.js', 'gateway/dist/main.js', 'producer/dist/main.js']) {
    if (!existsSync(join(root, 'services', entry))) {
      const build = run('npx', ['tsc', '--build']);
      if (build.status !== 0) throw new Error(`build failed:\n${build.stdout}${build.stderr}`);
      break;
    }
  }
  chartValues = [
    ...Object.entries(topics).flatMap(([key, name]) => ['--set', `topics.${key}=${name}`]),
    '--set', `aggregator.replicas=${partitions}`,
    '--set', `aggregator.applicationId=${id}`,
    '--set', 'aggregator.config.WINDOW_SECONDS=2',
    '--set', 'aggregator.config.GRACE_SECONDS=1',
    '--set', 'aggregator.config.EMIT_INTERVAL_MS=200',
    '--set', 'aggregator.config.KUBERNETES_CHECK=off',
    '--set', 'metrics.serviceMonitor.enabled=true',
    '--set', 'metrics.prometheusRule.enabled=true',
    '--set', 'metrics.prometheusRule.deadLetterRatePerSecond=0',
  ];
  const manifests = render(chartValues, release, namespace);
  // The services' environment is the chart's: its ConfigMap, with the broker of the test.
  const config: Record<string, string> = { ...find(manifests, 'ConfigMap', 'eric-config').data, KAFKA_BROKERS: brokers, KAFKA_REPLICATION_FACTOR: '-1', LOG_LEVEL: 'info' };
  const job = find(manifests, 'Job', 'eric-topics').spec.template.spec.containers[0];
  const jobEnv: Record<string, string> = { ...find(manifests, 'ConfigMap', 'eric-topics').data, KAFKA_BROKERS: brokers, KAFKA_REPLICATION_FACTOR: '-1' };
  rules = find(manifests, 'PrometheusRule', 'eric').spec.groups.flatMap((group: any) => group.rules);

  // 1. Topics, as the chart's Job makes them: its command with its settings.
  const provisioned = await runNode(job.command.slice(1), jobEnv);
  if (provisioned.status !== 0) throw new Error(`topic provisioning failed:\n${provisioned.output}`);

  // 2. The pipeline.
  for (const name of ['aggregator-0', 'aggregator-1', 'gateway', 'producer', 'prometheus']) ports[name] = await freePort();
  for (let ordinal = 0; ordinal < partitions; ordinal += 1) {
    start(`aggregator-${ordinal}`, 'node', ['services/aggregator/dist/start.cjs'], {
      ...config,
      HTTP_PORT: String(ports[`aggregator-${ordinal}`]),
      HTTP_HOST: '127.0.0.1',
      POD_NAME: `eric-aggregator-${ordinal}`,
    });
  }
  start('gateway', 'node', ['services/gateway/dist/main.js'], { ...config, HTTP_PORT: String(ports.gateway), HTTP_HOST: '127.0.0.1', GATEWAY_HISTORY_SECONDS: '600' });
  start('producer', 'node', ['services/producer/dist/main.js'], {
    ...config,
    HTTP_PORT: String(ports.producer),
    HTTP_HOST: '127.0.0.1',
    PRODUCER_RATE: '40',
    PRODUCER_ACCOUNT_IDS: '1,2,3',
    PRODUCER_STORE_IDS: 'web,app',
    PRODUCER_DUPLICATES: '0.1',
    PRODUCER_LATE: '0.05',
    PRODUCER_LATE_BY_SECONDS: '30',
  });

  // 3. Prometheus, with the labels the ServiceMonitor gives (job = component, pod, namespace,
  //    app_kubernetes_io_instance) and the chart's rules loaded.
  const target = (job: string, port: number, pod: string) => ({ targets: [`127.0.0.1:${port}`], labels: { pod, namespace, app_kubernetes_io_instance: release } });
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: find(manifests, 'PrometheusRule', 'eric').spec.groups }));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yaml')],
      scrape_configs: [
        { job_name: 'aggregator', static_configs: [0, 1].map((i) => target('aggregator', ports[`aggregator-${i}`]!, `eric-aggregator-${i}`)) },
        { job_name: 'gateway', static_configs: [target('gateway', ports.gateway!, 'eric-gateway-0')] },
        { job_name: 'producer', static_configs: [target('producer', ports.producer!, 'eric-producer-0')] },
      ],
    }),
  );
  mkdirSync(join(dir, 'tsdb'));
  start('prometheus', t.PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${ports.prometheus}`,
    '--storage.tsdb.retention.time=1h',
  ], {});
  prometheusUrl = `http://127.0.0.1:${ports.prometheus}`;

  await waitFor(async () => (await Promise.all(['aggregator-0', 'aggregator-1', 'gateway', 'producer'].map((name) => ready(ports[name]!)))).every(Boolean), 120);
  for (const name of ['aggregator-0', 'aggregator-1', 'gateway', 'producer']) {
    const child = children.find((c) => c.name === name)!;
    if (!(await ready(ports[name]!).catch(() => false))) throw new Error(`${name} did not become ready:\n${tail(child.log)}`);
  }

  // 4. Traffic beyond the producer's own: a dashboard client, ingested visits, malformed visits.
  ws = new WebSocket(`ws://127.0.0.1:${ports.gateway}/ws`);
  await new Promise((resolve, reject) => ws!.once('open', resolve).once('error', reject));
  const ingest = await fetch(`http://127.0.0.1:${ports.producer}/v1/visits`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ account_id: 9, store_id: 'web' }, { account_id: 9, store_id: null }]),
  });
  expect(ingest.status).toBe(202);
  await produceRecords(settings, topics.visits, [{ value: 'not json' }, { value: '{"id": "x", "account_id": "seven"}' }, { value: '[1, 2]' }]);
}, 300_000);

afterAll(async () => {
  ws?.close();
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.map(({ child }) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
  const admin = new TopicAdmin(settings);
  try {
    for (const topic of Object.values(topics)) await admin.deleteTopic(topic).catch(() => undefined);
  } finally {
    admin.close();
  }
}, 60_000);

const runScript = (script: string, env: Record<string, string>) => runNode([join(chartDir, 'files', script)], env);

function runNode(args: string[], env: Record<string, string>): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', args, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => resolve({ status: code ?? -1, output }));
  });
}

describe('the dashboard on a real Prometheus', () => {
  it('every query of every panel returns data', async () => {
    expect(panelQueries.length).toBeGreaterThanOrEqual(30);
    const empty = async () => {
      const missing: string[] = [];
      for (const { panel, expr } of panelQueries) {
        const result = await query(expr);
        if (result.status !== 'success' || (result.data?.result.length ?? 0) === 0) missing.push(`${panel}: ${expr} -> ${result.error ?? 'no data'}`);
      }
      return missing;
    };
    await waitFor(async () => (await empty()).length === 0, 150);
    expect(await empty()).toEqual([]);
  }, 200_000);

  it('every alert expression evaluates on the real metrics; the healthy pipeline fires none but the dead letters we caused', async () => {
    expect(rules.map((rule) => rule.alert)).toEqual(expect.arrayContaining(['EricAggregatorLagGrowing', 'EricNoFinalResults', 'EricDeadLetters', 'EricRestoreStuck']));
    // Each metric an alert reads exists, with the labels the alert selects on.
    const selectors = new Set(rules.flatMap((rule) => [...rule.expr.matchAll(/eric_[a-z_]+\{[^}]*\}/g)].map((m) => m[0])));
    expect(selectors.size).toBeGreaterThanOrEqual(8);
    const matching = async () => (await Promise.all([...selectors].map(async (selector) => ((await query(`count(${selector})`)).data?.result.length ?? 0) > 0))).every(Boolean);
    await waitFor(matching, 150);
    // Healthy means counting and closing windows: judge the alerts once Prometheus has seen a
    // final. The first window closes some seconds after the start; in a cluster the alert's
    // `for` (at least 5 min) covers that start, but this test reads the bare expressions.
    await waitFor(async () => ((await query('sum(eric_aggregator_results_emitted_total{kind="final"}) > 0')).data?.result.length ?? 0) > 0, 90);
    for (const selector of selectors) {
      const result = await query(`count(${selector})`);
      expect(result.status, selector).toBe('success');
      expect(result.data!.result.length, `${selector} matches no series`).toBeGreaterThan(0);
    }
    // A labelled counter appears with its first increment, so one burst has no rate yet: keep
    // sending malformed visits until Prometheus sees a rate (as a misbehaving client would).
    const deadLetters = rules.find((r) => r.alert === 'EricDeadLetters')!.expr;
    await waitFor(async () => {
      await produceRecords(settings, topics.visits, [{ value: '{"broken": ' }]);
      return ((await query(deadLetters)).data?.result.length ?? 0) > 0;
    }, 90);
    for (const rule of rules) {
      const result = await query(rule.expr);
      expect(result.status, `${rule.alert}: ${result.error}`).toBe('success');
      if (rule.alert === 'EricDeadLetters') {
        const raw = JSON.stringify((await query('eric_aggregator_visits_invalid_total[1m]')).data?.result);
        expect(result.data!.result.length, `the malformed visits we sent show in EricDeadLetters (series: ${raw.slice(0, 1500)})`).toBeGreaterThan(0);
      } else {
        expect(result.data!.result, `${rule.alert} matches on a healthy pipeline`).toEqual([]);
      }
    }
    // Prometheus itself loaded the rules.
    const loaded = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as any;
    const names = loaded.data.groups.flatMap((group: any) => group.rules.map((rule: any) => rule.name));
    expect(names.sort()).toEqual(rules.map((rule) => rule.alert).sort());
    expect(loaded.data.groups.flatMap((group: any) => group.rules).filter((rule: any) => rule.health !== 'ok')).toEqual([]);
  }, 300_000);
});

describe('the chart\'s scripts on the real services', () => {
  it('helm test (files/gateway-test.mjs) passes against the real gateway', async () => {
    const result = await runScript('gateway-test.mjs', { GATEWAY_URL: `http://127.0.0.1:${ports.gateway}`, EXPECT_AUTH: 'false', WAIT_SECONDS: '30' });
    expect(result.output).toContain('gateway test passed');
    expect(result.status).toBe(0);
    const wrong = await runScript('gateway-test.mjs', { GATEWAY_URL: `http://127.0.0.1:${ports.gateway}`, EXPECT_AUTH: 'true', WAIT_SECONDS: '5' });
    expect(wrong.status, 'it fails when the gateway does not behave as expected').toBe(1);
  }, 60_000);
});
