/**
 * The chart against a production-like Kafka, one SASL user per workload. The three-node cluster
 * of scripts/kafka-cluster.sh (TLS and SASL/SCRAM-SHA-512 on the client listener, the
 * StandardAuthorizer, replication factor 3, min.insync.replicas 2) runs on this machine, listening
 * on the test node's bridge address, which pods reach; it is this file's own, made from scratch
 * and stopped at the end. The chart is installed the way docs/operations.md ("Running against a
 * secured cluster") says: kafka.enabled=false, the cluster's CA from a Secret, and each workload's
 * user from its own Secret through externalKafka.sasl.users.<workload>.existingSecret (the values
 * are read from that page, so the docs show what this test proves): producer, aggregator and
 * gateway with only the ACLs scripts/kafka-cluster.sh gives them, the topic Job as admin.
 *
 * It proves that each pod authenticates as its own user and works with that user's ACLs alone
 * (a pod given another workload's user would be refused and crash): the Job creates the topics
 * with three replicas, every pod is Ready, and visits sent through the producer's HTTP API (each
 * one twice) give exact final counts on the gateway's websocket, both through port-forward.
 *
 * The node is tainted for the other cluster tests: this file lifts the taint while it runs (files
 * run one after another) and puts it back.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DashboardClient } from '../e2e/support/dashboard-client.js';
import { chartDir, deleteNamespace, helm, kubectl, kubectlJson, root, uniqueNamespace } from './cluster.js';
import { testClusterEnv } from './global-setup.js';
import { type Forward, images, importImage, liftNodeTaint, portForward, restoreNodeTaint, sendVisits, VisitLedger, visitsNow } from './release.js';

const execFileAsync = promisify(execFile);

// Pods reach the host at their bridge's address (x.y.z.1 of the node's pod subnet,
// scripts/k8s-local.sh NODE_GATEWAY): the Kafka nodes listen there and name it in their
// certificates. Clients on ports 26301-26303, clear of the integration tests' cluster (19301-19313).
const KAFKA_HOST = testClusterEnv.K8S_POD_SUBNET.replace(/\.0\/24$/, '.1');
const KAFKA_PORT_BASE = 26300;
const BROKERS = [1, 2, 3].map((node) => `${KAFKA_HOST}:${KAFKA_PORT_BASE + node}`).join(',');
const CLUSTER_DIR = `${root}.eric/kafka-cluster-k8s-test`;
const KAFKA_VERSION = process.env.KAFKA_VERSION ?? '4.1.1'; // scripts/kafka-cluster.sh's default
const clusterEnv = { ...process.env, KAFKA_CLUSTER_DIR: CLUSTER_DIR, KAFKA_CLUSTER_HOST: KAFKA_HOST, KAFKA_CLUSTER_PORT: String(KAFKA_PORT_BASE) };

/**
 * The chart values docs/operations.md shows in "Running against a secured cluster": the test
 * installs these, with this cluster's brokers, its images and short windows.
 */
function documentedValues(): any {
  const page = readFileSync(`${root}docs/operations.md`, 'utf8');
  const section = page.slice(page.indexOf('## Running against a secured cluster'));
  return parse(/```yaml\n([\s\S]*?)```/.exec(section)![1]!);
}
const documented = documentedValues();

/** Which cluster user each workload runs as: the cluster's ACLs are for these. */
const USERS = { producer: 'producer', aggregator: 'aggregator', gateway: 'gateway', provisioning: 'admin' } as const;
type Workload = keyof typeof USERS;
const secretOf = (workload: Workload): string => documented.externalKafka.sasl.users[workload].existingSecret;

// Short windows keep the test short; the grace period lets a visit acknowledged now reach its
// window's count on a busy machine.
const WINDOW_SECONDS = 5;
const GRACE_SECONDS = 10;
const AGGREGATORS = 2;
const release = 'eric';

const work = mkdtempSync(join(tmpdir(), 'eric-secured-'));
const documentedFile = join(work, 'secured-values.yaml');
writeFileSync(documentedFile, stringify(documented));
const testFile = join(work, 'test-values.yaml');
writeFileSync(testFile, stringify({
  image: { ...images.eric, pullPolicy: 'Never' },
  externalKafka: { bootstrapServers: BROKERS },
  aggregator: { replicas: AGGREGATORS, config: { WINDOW_SECONDS, GRACE_SECONDS } },
  producer: { config: { PRODUCER_RATE: 0 } },
}));

const ledger = new VisitLedger(WINDOW_SECONDS);
const accounts = [8001, 8002, 8003, 8004];
const stores = ['web', 'app', null];

let namespace = '';
let producer: Forward | undefined;
let gateway: Forward | undefined;
let dashboard: DashboardClient | undefined;

async function kafkaCluster(command: string): Promise<string> {
  const { stdout } = await execFileAsync('bash', [`${root}scripts/kafka-cluster.sh`, command], { env: clusterEnv });
  return stdout;
}

const password = (user: string) => readFileSync(`${CLUSTER_DIR}/users/${user}.password`, 'utf8').trim();

/** A topic as the cluster's admin sees it, through Kafka's own tool. */
async function describeTopic(topic: string): Promise<{ partitions: number; replicationFactor: number }> {
  const { stdout } = await execFileAsync('java', [
    '-Xmx128m', '-XX:TieredStopAtLevel=1', '-cp', `${root}.cache/kafka/${KAFKA_VERSION}/libs/*`,
    `-Dlog4j2.configurationFile=${root}scripts/kafka-cluster/tools-log4j2.properties`,
    'org.apache.kafka.tools.TopicCommand', '--bootstrap-server', BROKERS, '--command-config', `${CLUSTER_DIR}/admin.properties`, '--describe', '--topic', topic,
  ]);
  return { partitions: Number(/PartitionCount:\s*(\d+)/.exec(stdout)![1]), replicationFactor: Number(/ReplicationFactor:\s*(\d+)/.exec(stdout)![1]) };
}

beforeAll(async () => {
  // global-setup.ts has brought the node up, so its bridge (and KAFKA_HOST) exists.
  await kafkaCluster('reset');
  process.stdout.write(await kafkaCluster('start'));
  importImage(images.eric);
  await liftNodeTaint();
  namespace = await uniqueNamespace('secured');
  const { tls } = documented.externalKafka;
  await kubectl(['create', 'secret', 'generic', tls.caSecret, '--namespace', namespace, `--from-file=${tls.caKey}=${CLUSTER_DIR}/tls/ca.pem`]);
  for (const [workload, user] of Object.entries(USERS)) {
    await kubectl(['create', 'secret', 'generic', secretOf(workload as Workload), '--namespace', namespace,
      `--from-literal=username=${user}`, `--from-literal=password=${password(user)}`]);
  }
  await helm(['install', release, chartDir, '--namespace', namespace, '--values', documentedFile, '--values', testFile, '--wait', '--timeout', '10m']);
  producer = await portForward(namespace, 'service/eric-producer', 6060);
  gateway = await portForward(namespace, 'service/eric-gateway', 6066);
  dashboard = await DashboardClient.connect(gateway.port);
}, 600_000);

afterAll(async () => {
  dashboard?.close();
  producer?.close();
  gateway?.close();
  rmSync(work, { recursive: true, force: true });
  if (namespace) {
    await helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '3m']).catch(() => undefined);
    await deleteNamespace(namespace);
  }
  await restoreNodeTaint();
  process.stdout.write(await kafkaCluster('stop'));
}, 300_000);

describe('the chart on a cluster with TLS, SCRAM and ACLs, one user per workload', () => {
  it('runs each workload as its own user: the Job made the topics as admin, every pod Ready', async () => {
    const env = (pod: any) => pod.spec.containers[0].env ?? [];
    const secretOfUser = (pod: any) => env(pod).find((e: any) => e.name === 'KAFKA_SASL_USERNAME')?.valueFrom?.secretKeyRef?.name;
    const pods = (await kubectlJson<{ items: any[] }>(['get', 'pods', '--namespace', namespace])).items;
    const byComponent = (component: string) => pods.filter((pod) => pod.metadata.labels['app.kubernetes.io/component'] === component);
    expect(byComponent('aggregator')).toHaveLength(AGGREGATORS);
    for (const workload of ['producer', 'aggregator', 'gateway'] as const) {
      expect(byComponent(workload).length, workload).toBeGreaterThan(0);
      for (const pod of byComponent(workload)) {
        expect(secretOfUser(pod), pod.metadata.name).toBe(secretOf(workload));
        expect(pod.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True'), `${pod.metadata.name} Ready`).toBe(true);
        expect(pod.status.containerStatuses[0].restartCount, `${pod.metadata.name} restarts`).toBe(0);
      }
    }
    // No service may create topics: these are the Job's, with the chart's partition counts and
    // the replication factor the values ask for.
    expect(await describeTopic('visits-repartition')).toEqual({ partitions: AGGREGATORS, replicationFactor: 3 });
    expect(await describeTopic('active-visitors')).toEqual({ partitions: 1, replicationFactor: 3 });
  });

  it('visits sent to the producer give exact final counts on the websocket', async () => {
    await sendVisits(producer!.port, visitsNow('secured', accounts, stores, 10), ledger);
    await sendVisits(producer!.port, visitsNow('secured-more', accounts, stores, 5), ledger);
    const expected = ledger.expected();
    await dashboard!.waitFor(() => [...expected.keys()].every((key) => dashboard!.finals().has(key)), 120_000, `${expected.size} final counts`);
    const shown = new Map([...dashboard!.finals()].filter(([key]) => accounts.includes(Number(key.split('|')[0]))));
    for (const [key, count] of expected) expect(shown.get(key), key).toBe(count);
    expect([...shown.keys()].filter((key) => !expected.has(key)), 'finals of windows no visit was sent to').toEqual([]);
  });
});
