/**
 * The production-like three-node cluster of scripts/kafka-cluster.sh (TLS, SASL/SCRAM, ACLs), as
 * the secured-cluster tests and `make bench-faults` drive it: its commands, each user's settings,
 * the provisioning of Eric's topics as admin, and which node plays which part right now (the
 * leader of a partition, the active KRaft controller, a transaction coordinator) — so that a test
 * or benchmark can kill exactly the node it means to.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { AdminClient, call, type TopicDescription } from '../kafka/rdkafka.js';
import { rdkafkaConnectionConfig, type KafkaSettings } from '../kafka/settings.js';
import { repositoryRoot } from './service-process.js';

const execFileAsync = promisify(execFile);

export type ClusterUser = 'admin' | 'producer' | 'aggregator' | 'gateway';

/** The names the cluster's ACLs are for: the services' defaults. */
export const DEFAULT_TOPIC_NAMES = {
  APPLICATION_ID: 'eric-aggregator',
  TOPIC_VISITS: 'visits',
  TOPIC_REPARTITION: 'visits-repartition',
  TOPIC_CHANGELOG: 'visit-counts-changelog',
  TOPIC_ACTIVE_VISITORS: 'active-visitors',
  TOPIC_DEAD_LETTER: 'visits-dead-letter',
} as const;

export class SecuredCluster {
  readonly brokers: string;
  readonly caFile: string;

  constructor(
    /** The script's KAFKA_CLUSTER_DIR. */
    readonly directory: string,
    /** The script's KAFKA_CLUSTER_PORT: clients at base+1..3, controllers at base+11..13. */
    readonly portBase = 19300,
    /** JVM options added to the nodes' defaults (the script's KAFKA_EXTRA_JVM_OPTS). */
    readonly extraJvmOptions = '',
  ) {
    this.brokers = [1, 2, 3].map((n) => `127.0.0.1:${portBase + n}`).join(',');
    this.caFile = `${directory}/tls/ca.pem`;
  }

  /** Runs `scripts/kafka-cluster.sh <args>`; resolves to its output. */
  async run(...args: string[]): Promise<string> {
    const { stdout } = await execFileAsync('bash', [`${repositoryRoot}scripts/kafka-cluster.sh`, ...args], {
      env: {
        ...process.env,
        KAFKA_CLUSTER_DIR: this.directory,
        KAFKA_CLUSTER_PORT: String(this.portBase),
        KAFKA_EXTRA_JVM_OPTS: this.extraJvmOptions,
      },
    });
    return stdout;
  }

  /**
   * Stops one node cleanly (SIGTERM, as an orderly shutdown or a rolling restart does; SIGKILL
   * after 60 s); `run('restart', n)` starts it again.
   */
  async stopNode(node: number): Promise<void> {
    const pid = Number(readFileSync(`${this.directory}/node-${node}/kafka.pid`, 'utf8').trim());
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 60_000;
    while (alive()) {
      if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  password(user: ClusterUser): string {
    return readFileSync(`${this.directory}/users/${user}.password`, 'utf8').trim();
  }

  /** A service's Kafka settings on this cluster, as environment variables. */
  kafkaEnv(user: ClusterUser, changes: Record<string, string> = {}): Record<string, string> {
    return {
      KAFKA_BROKERS: this.brokers,
      KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: user,
      KAFKA_SASL_PASSWORD: this.password(user),
      KAFKA_SSL_CA_LOCATION: this.caFile,
      ...changes,
    };
  }

  /** The same settings for a client made here (readResults, GroupLag, an admin client). */
  settingsOf(user: ClusterUser): KafkaSettings {
    return {
      brokers: this.brokers,
      clientId: `eric-test-${user}`,
      securityProtocol: 'sasl_ssl',
      saslMechanism: 'SCRAM-SHA-512',
      saslUsername: user,
      saslPassword: this.password(user),
      sslCaLocation: this.caFile,
      replicationFactor: -1,
    };
  }

  /** The provisioning step as the chart's topic Job runs it: the admin creates Eric's topics. */
  async provision(env: Record<string, string>): Promise<void> {
    await execFileAsync(process.execPath, [`${repositoryRoot}services/aggregator/dist/provision.js`], {
      env: { ...process.env, ...DEFAULT_TOPIC_NAMES, ...this.kafkaEnv('admin'), PROVISION_TIMEOUT_SECONDS: '60', LOG_LEVEL: 'warn', ...env },
    });
  }

  /** A topic's partitions as the admin sees them now (leaders, replicas, in-sync replicas). */
  async describe(topic: string): Promise<TopicDescription> {
    const admin = AdminClient.create(rdkafkaConnectionConfig(this.settingsOf('admin')));
    try {
      const [description] = await call<TopicDescription[]>('describeTopics', 10_000, (done) => admin.describeTopics([topic], { timeout: 10_000 }, done));
      if (!description) throw new Error(`no description of ${topic}`);
      return description;
    } finally {
      admin.disconnect();
    }
  }

  /**
   * Whether a node is back in the in-sync replicas of every partition of these topics that it
   * holds a replica of: after a restart, the cluster is whole again.
   */
  async inSyncEverywhere(node: number, topics: string[]): Promise<boolean> {
    for (const topic of topics) {
      for (const partition of (await this.describe(topic)).partitions) {
        if (partition.replicas.some((r) => r.id === node) && !partition.isr.some((r) => r.id === node)) return false;
      }
    }
    return true;
  }

  /** Whether every partition of these topics has all its replicas in sync (no node missing or behind). */
  async fullyReplicated(topics: string[]): Promise<boolean> {
    for (const topic of topics) {
      if ((await this.describe(topic)).partitions.some((p) => p.isr.length < p.replicas.length)) return false;
    }
    return true;
  }

  /** The node that leads a partition now. */
  async leaderOf(topic: string, partition: number): Promise<number> {
    const leader = (await this.describe(topic)).partitions.find((p) => p.partition === partition)?.leader?.id;
    if (leader === undefined) throw new Error(`${topic}[${partition}] has no leader`);
    return leader;
  }

  /**
   * The node coordinating a transactional id's transactions (the leader of its partition of
   * __transaction_state), from Kafka's transactions tool: librdkafka's admin client has no
   * FindCoordinator call.
   */
  async transactionCoordinatorOf(transactionalId: string): Promise<number> {
    return Number(await this.run('coordinator', transactionalId));
  }

  /**
   * The active KRaft controller, from the quorum's own description. Not the admin API's
   * describeCluster: in KRaft mode a broker answers it with a random live broker.
   */
  async activeController(): Promise<number> {
    return Number(await this.run('controller'));
  }
}
