/**
 * Issue 16: Eric on a production-like cluster — three KRaft nodes from scripts/kafka-cluster.sh,
 * replication factor 3 with min.insync.replicas 2, TLS and SASL/SCRAM-SHA-512 on the client
 * listener, the StandardAuthorizer, and one user per service with only its own ACLs. The cluster
 * is this file's own: made from scratch in beforeAll (certificates, users, ACLs), stopped in
 * afterAll. The topics are created by the provisioning step as admin, as in production; the
 * services run with their own users and the default topic and group names the ACLs are for.
 * Also here: nodes SIGKILLed under traffic — the leader of a visits, a repartition and a changelog
 * partition, the active controller, a transaction coordinator, and a node down for longer than the
 * grace period — lose and double nothing; and settings Kafka refuses stop a service at start with
 * a message naming the setting.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kafka, rdkafkaConnectionConfig, type Visit } from '@eric/shared';
import { finalKey, finalsOf, readResults, uniqueName } from '@eric/shared/testing';
import { ServiceProcess, buildService, repositoryRoot, sleep } from '@eric/shared/testing/process';
import { DEFAULT_TOPIC_NAMES, SecuredCluster, type ClusterUser } from '@eric/shared/testing/secured-cluster';
import { DashboardClient, expectedCounts } from './support/dashboard-client.js';
import { Pipeline, Traffic } from './support/pipeline.js';

// C1 only (no C2 compiler threads): a node killed under traffic restarts sooner on two busy cores,
// and the little traffic of these tests needs no peak-optimised code.
const secured = new SecuredCluster(`${repositoryRoot}.eric/kafka-cluster-test`, 19300, '-XX:TieredStopAtLevel=1');
const BROKERS = secured.brokers;
const UNTRUSTED_CA = `${secured.directory}/tls/untrusted-ca.pem`;
const WINDOW = 4;
const GRACE = 6;
const PARTITIONS = 2;

/** The names the cluster's ACLs are for: the services' defaults. */
const DEFAULT_NAMES = DEFAULT_TOPIC_NAMES;

const cluster = (...args: string[]) => secured.run(...args);
const password = (user: ClusterUser) => secured.password(user);
/** A service's Kafka settings on this cluster, as environment variables. */
const kafkaEnv = (user: ClusterUser, changes: Record<string, string> = {}) => secured.kafkaEnv(user, changes);
const settingsOf = (user: ClusterUser) => secured.settingsOf(user);
/** The node that leads a partition now, as the admin sees it. */
const leaderOf = (topic: string, partition: number) => secured.leaderOf(topic, partition);

beforeAll(async () => {
  for (const service of ['aggregator', 'gateway', 'producer']) buildService(service);
  await cluster('reset');
  process.stdout.write(await cluster('start'));
  // The provisioning step, as the chart's topic Job runs it: the admin creates the topics.
  await secured.provision({ PARTITIONS: String(PARTITIONS), VISITS_PARTITIONS: '4', WINDOW_SECONDS: String(WINDOW), GRACE_SECONDS: String(GRACE) });
}, 300_000);

afterAll(async () => {
  process.stdout.write(await cluster('stop'));
}, 60_000);

let pipeline: Pipeline | undefined;
let client: DashboardClient | undefined;
let traffic: Traffic | undefined;
let supervisor: Supervisor | undefined;
afterEach(async () => {
  supervisor?.stop();
  supervisor = undefined;
  // A test that failed mid-way leaves its traffic running: stop it (its own error is reported already).
  await traffic?.stop().catch(() => undefined);
  traffic = undefined;
  client?.close();
  await pipeline?.stop();
  pipeline = undefined;
  client = undefined;
});

/** The whole pipeline on this cluster, each service with its own user and the names the ACLs are for. */
function securedPipeline(graceSeconds: number): Pipeline {
  return new Pipeline({
    brokers: BROKERS,
    partitions: PARTITIONS,
    windowSeconds: WINDOW,
    graceSeconds,
    env: DEFAULT_NAMES,
    serviceEnv: { producer: kafkaEnv('producer'), aggregator: kafkaEnv('aggregator'), gateway: kafkaEnv('gateway') },
  });
}

describe('on a three-node cluster with TLS, SCRAM and ACLs', { timeout: 150_000 }, () => {
  it('each service works with its own user over TLS: exact final counts reach the dashboard', async () => {
    pipeline = securedPipeline(GRACE);
    await pipeline.start();
    client = await DashboardClient.connect(pipeline.gateway.port);
    const w0 = Math.ceil((Date.now() / 1000 + 1) / WINDOW) * WINDOW;
    const visits: Visit[] = [];
    for (const account_id of [1, 2]) {
      for (const store_id of ['web', null]) {
        for (let i = 0; i < 20; i++) visits.push({ id: `${account_id}-${store_id}-${i % 15}`, account_id, store_id, timestamp: w0 + (i % WINDOW) + 0.5 });
      }
    }
    await pipeline.postUntilAcknowledged(visits);
    const expected = expectedCounts(visits, WINDOW);
    await client.waitFor(() => [...expected.keys()].every((key) => client!.finals().has(key)), 60_000, `${expected.size} final counts`);
    for (const [key, count] of expected) expect(client.finals().get(key), key).toBe(count);
    const onTopic = finalsOf(await readResults(settingsOf('admin'), DEFAULT_NAMES.TOPIC_ACTIVE_VISITORS, 1000));
    for (const [key, count] of expected) expect(onTopic.get(key), key).toBe(count);
  });

  it('refuses a user what its ACLs do not allow: the gateway\'s user cannot write visits', async () => {
    expect(await produceAs('gateway', DEFAULT_NAMES.TOPIC_VISITS)).toBe(kafka.ErrorCode.ERR_TOPIC_AUTHORIZATION_FAILED);
    expect(await produceAs('producer', DEFAULT_NAMES.TOPIC_VISITS)).toBe(0);
    // A service started with another's user stops at once and says which setting to check.
    const output = await startFails('producer', kafkaEnv('gateway'));
    expect(output).toMatch(/KAFKA_SASL_USERNAME/);
    expect(output).toMatch(/authorization/i);
  });
});

/** A fault injected while traffic flows: it finds its victim when it runs, then breaks and mends it. */
interface Fault {
  /** What is killed, e.g. "the leader of visits[0]". */
  name: string;
  /** The node to kill, found at the moment of the fault (leaders move as nodes die). */
  node: () => Promise<number>;
  /** How long the node stays down before it is restarted. */
  downMs: number;
}

const FAULT_GRACE = 20;

/**
 * Runs the whole pipeline, each service with its own user, under steady traffic through the
 * producer's HTTP API, injects `faults` one after another (SIGKILL the node, wait, restart it and
 * wait until it serves), and holds every visit that got a 202 to be counted exactly once: every
 * window's final at the dashboard and on the topic exact, and no window with two finals.
 * The grace period outlasts a failover: while a dead node still leads its partitions (until the
 * controller fences it) the visits sent to them wait, and are retried with their original timestamps.
 */
async function countsExactlyThrough(faults: Fault[]): Promise<void> {
  pipeline = securedPipeline(FAULT_GRACE);
  await pipeline.start();
  supervisor = new Supervisor(pipeline.aggregators);
  client = await DashboardClient.connect(pipeline.gateway.port);
  traffic = new Traffic(pipeline);
  traffic.start();
  await sleep(2500);
  for (const fault of faults) {
    const node = await fault.node();
    process.stdout.write(`fault: SIGKILL node ${node}, ${fault.name}, for ${fault.downMs} ms\n`);
    await cluster('kill', String(node));
    await sleep(fault.downMs);
    process.stdout.write(await cluster('restart', String(node)));
    // Traffic acknowledged after the restart: the pipeline is seen to take visits again.
    const acknowledgedBefore = traffic.acknowledged.length;
    while (traffic.acknowledged.length < acknowledgedBefore + 100) await sleep(100);
  }
  await traffic.stop();
  const expected = expectedCounts(traffic.acknowledged, WINDOW);
  await client.waitFor(() => [...expected.keys()].every((key) => client!.finals().has(key)), 120_000, `${expected.size} final counts`);
  const finals = client.finals();
  expect(new Map([...expected.keys()].map((key) => [key, finals.get(key)]))).toEqual(expected);
  // The windows of this test only (the topic also holds the other tests'); throws on a second final.
  const results = await readResults(settingsOf('admin'), DEFAULT_NAMES.TOPIC_ACTIVE_VISITORS, 1000);
  const onTopic = finalsOf(results.filter((r) => expected.has(finalKey(r.account_id, r.store_id, r.window[0]))));
  expect(new Map([...expected.keys()].map((key) => [key, onTopic.get(key)]))).toEqual(expected);
  // The producer and the gateway wait a broker's death out; an aggregator may have been restarted.
  for (const service of [pipeline.gateway, pipeline.producer]) expect(service.running, service.name).toBe(true);
  if (supervisor!.restarts.length > 0) process.stdout.write(`restarted after a fatal producer error: ${supervisor!.restarts.join(', ')}\n`);
}

/**
 * Restarts an aggregator that exits by itself, as Kubernetes restarts its pod. librdkafka may
 * declare a transactional producer fatally broken after a partition leader's death (e.g. "sequence
 * desynchronization"); the aggregator then ends (services/shared/src/kafka/transactions.ts) and
 * its restart restores the exact state from the changelog. The counts must be exact all the same.
 */
class Supervisor {
  readonly restarts: string[] = [];
  #active = true;

  constructor(services: ServiceProcess[]) {
    for (const service of services) this.#watch(service);
  }

  stop(): void {
    this.#active = false;
  }

  #watch(service: ServiceProcess): void {
    void service.exited().then(async () => {
      if (!this.#active) return;
      this.restarts.push(service.name);
      await service.start();
      this.#watch(service);
    });
  }
}

// Three faults per test: each test starts the pipeline and waits out its last windows once.
describe('nodes crash under traffic: every acknowledged visit is counted exactly once', { timeout: 420_000 }, () => {
  it('when the leader of a visits, then of a repartition, then of a changelog partition is SIGKILLed and restarted', async () => {
    await countsExactlyThrough([
      { name: 'the leader of visits[0]', node: () => leaderOf(DEFAULT_NAMES.TOPIC_VISITS, 0), downMs: 5000 },
      { name: 'the leader of visits-repartition[1]', node: () => leaderOf(DEFAULT_NAMES.TOPIC_REPARTITION, 1), downMs: 5000 },
      { name: 'the leader of visit-counts-changelog[0]', node: () => leaderOf(DEFAULT_NAMES.TOPIC_CHANGELOG, 0), downMs: 5000 },
    ]);
  });

  it('when the active controller, then the transaction coordinator of an aggregator mid-transaction, is SIGKILLed and restarted, then a node stays down for longer than the grace period', async () => {
    await countsExactlyThrough([
      { name: 'the active KRaft controller', node: async () => Number(await cluster('controller')), downMs: 5000 },
      // Aggregator 0 commits a transaction every few milliseconds under this traffic: the kill
      // lands mid-transaction, and the coordinator's partition moves to another node.
      { name: 'the transaction coordinator of aggregator 0', node: async () => Number(await cluster('coordinator', `${DEFAULT_NAMES.APPLICATION_ID}-count-0`)), downMs: 5000 },
      { name: 'the leader of visits-repartition[0]', node: () => leaderOf(DEFAULT_NAMES.TOPIC_REPARTITION, 0), downMs: (FAULT_GRACE + 5) * 1000 },
    ]);
  });
});

describe('settings Kafka refuses are clear errors at start, not endless retries', { concurrent: true, timeout: 90_000 }, () => {
  it('a wrong password', async () => {
    const wrong = randomBytes(16).toString('hex');
    const output = await startFails('producer', kafkaEnv('producer', { KAFKA_SASL_PASSWORD: wrong }));
    expect(output).toMatch(/KAFKA_SASL_PASSWORD/);
    expect(output).not.toContain(wrong);
    expect(output).not.toContain(password('producer'));
  });

  it('a CA that did not sign the brokers\' certificates', async () => {
    const output = await startFails('producer', kafkaEnv('producer', { KAFKA_SSL_CA_LOCATION: UNTRUSTED_CA }));
    expect(output).toMatch(/KAFKA_SSL_CA_LOCATION/);
    expect(output).not.toContain(password('producer'));
  });

  it('plaintext to the TLS listener', async () => {
    const output = await startFails('producer', kafkaEnv('producer', { KAFKA_SECURITY_PROTOCOL: 'plaintext' }));
    expect(output).toMatch(/KAFKA_SECURITY_PROTOCOL/);
    expect(output).not.toContain(password('producer'));
  });

  it('the aggregator and the gateway too', async () => {
    const wrong = randomBytes(16).toString('hex');
    const [aggregator, gateway] = await Promise.all([
      startFails('aggregator', kafkaEnv('aggregator', { KAFKA_SASL_PASSWORD: wrong })),
      startFails('gateway', kafkaEnv('gateway', { KAFKA_SSL_CA_LOCATION: UNTRUSTED_CA })),
    ]);
    expect(aggregator).toMatch(/KAFKA_SASL_PASSWORD/);
    expect(aggregator).not.toContain(wrong);
    expect(gateway).toMatch(/KAFKA_SSL_CA_LOCATION/);
  });
});

/** Produces one record as `user` and resolves to its delivery's error code (0 = delivered). */
async function produceAs(user: ClusterUser, topic: string): Promise<number> {
  // Not idempotent: that would need a write permission before the first record.
  const producer = new kafka.Producer({ ...rdkafkaConnectionConfig(settingsOf(user)), dr_cb: true, 'enable.idempotence': false, 'message.timeout.ms': 15_000 });
  const delivered = new Promise<number>((resolve) => producer.once('delivery-report', (error) => resolve(error?.code ?? 0)));
  producer.setPollInterval(10);
  await kafka.connect(producer);
  try {
    producer.produce(topic, null, Buffer.from('{}'));
    return await delivered;
  } finally {
    await kafka.disconnect(producer, 0);
  }
}

/** Starts a service that must stop by itself with status 1; resolves to its output. */
async function startFails(service: 'producer' | 'aggregator' | 'gateway', env: Record<string, string>, timeoutMs = 60_000): Promise<string> {
  const child = new ServiceProcess(uniqueName(`secured-${service}`), {
    service,
    env: { ...DEFAULT_NAMES, ...env, PARTITIONS: String(PARTITIONS), AGGREGATOR_ORDINAL: '0', PRODUCER_RATE: '0' },
  });
  await child.start();
  const exit = await Promise.race([child.exited(), sleep(timeoutMs).then(() => undefined)]);
  if (!exit) {
    child.kill('SIGKILL');
    throw new Error(`${child.name} still runs ${timeoutMs} ms after its start; its log ends with:\n${child.output().slice(-3000)}`);
  }
  expect(exit.code, child.output().slice(-3000)).toBe(1);
  return child.output();
}
