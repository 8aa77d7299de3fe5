// Topic provisioning of the Helm chart (the <release>-topics Job, a post-install and pre-upgrade
// hook). It runs in Eric's own image with Eric's native Kafka client and makes the topics match
// the release *before* the aggregator pods change:
//
//   - creates every missing topic, with the settings the services would give it;
//   - grows the repartition and changelog topics to aggregator.replicas partitions (scaling up);
//   - fails, and so stops `helm upgrade`, when they have more partitions than replicas (Kafka
//     cannot remove partitions: scaling down would leave partitions nobody counts) or when
//     active-visitors has more than one.
//
// Input, environment variables: the services' KAFKA_* settings, TOPIC_SPECS (JSON, rendered by
// the chart: [{name, partitions, policy: "any" | "grow" | "exact", config}]) and
// PROVISION_TIMEOUT_SECONDS (how long to wait for Kafka to answer). Exit status 0 = done,
// 1 = a topic cannot be made right (the message says what to do), 2 = bad input.
//
// The script is also run by the repository's tests against a real broker
// (test/packaging/pipeline.int.test.ts).
import { createRequire } from 'node:module';
import { join } from 'node:path';

// Eric's dependencies live in the working directory's node_modules (/app in the image).
const require = createRequire(join(process.cwd(), 'package.json'));
const { AdminClient, CODES } = require('@confluentinc/kafka-javascript');

const log = (message, fields = {}) => console.log(JSON.stringify({ time: new Date().toISOString(), msg: message, ...fields }));

function settings(env) {
  const specs = JSON.parse(env.TOPIC_SPECS ?? 'null');
  if (!Array.isArray(specs) || specs.length === 0) throw new Error('TOPIC_SPECS must be a JSON array of topic specs');
  for (const spec of specs) {
    if (typeof spec.name !== 'string' || !Number.isInteger(spec.partitions) || spec.partitions < 1 || !['any', 'grow', 'exact'].includes(spec.policy)) {
      throw new Error(`bad topic spec ${JSON.stringify(spec)}`);
    }
  }
  const config = {
    'bootstrap.servers': env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    'client.id': 'eric-topics',
    'security.protocol': env.KAFKA_SECURITY_PROTOCOL ?? 'plaintext',
    'log.connection.close': false,
  };
  if (config['security.protocol'].startsWith('sasl')) {
    config['sasl.mechanisms'] = env.KAFKA_SASL_MECHANISM ?? 'PLAIN';
    config['sasl.username'] = env.KAFKA_SASL_USERNAME ?? '';
    config['sasl.password'] = env.KAFKA_SASL_PASSWORD ?? '';
  }
  if (env.KAFKA_SSL_CA_LOCATION) config['ssl.ca.location'] = env.KAFKA_SSL_CA_LOCATION;
  return {
    specs,
    config,
    replicationFactor: Number(env.KAFKA_REPLICATION_FACTOR ?? -1),
    timeoutMs: Number(env.PROVISION_TIMEOUT_SECONDS ?? 300) * 1000,
  };
}

const call = (fn) => new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));

class Admin {
  constructor(config) {
    this.client = AdminClient.create(config);
  }
  /** Partition count, or 0 when the topic does not exist. */
  async partitions(topic) {
    try {
      const [description] = await call((done) => this.client.describeTopics([topic], { timeout: 10_000 }, done));
      if (description?.error) throw description.error;
      return description?.partitions?.length ?? 0;
    } catch (error) {
      if (error?.code === CODES.ERRORS.ERR_UNKNOWN_TOPIC_OR_PART || error?.code === CODES.ERRORS.ERR__UNKNOWN_TOPIC) return 0;
      throw error;
    }
  }
  async create(spec, replicationFactor) {
    try {
      await call((done) => this.client.createTopic(
        { topic: spec.name, num_partitions: spec.partitions, replication_factor: replicationFactor, config: spec.config ?? {} },
        10_000,
        done,
      ));
      return true;
    } catch (error) {
      if (error?.code === CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS) return false;
      throw error;
    }
  }
  grow(topic, partitions) {
    return call((done) => this.client.createPartitions(topic, partitions, 10_000, done));
  }
  close() {
    this.client.disconnect();
  }
}

/** Waits until a new topic shows up in the metadata (creation is asynchronous on the broker). */
async function settledPartitions(admin, topic) {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const count = await admin.partitions(topic);
    if (count > 0) return count;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`topic "${topic}" was created but does not appear in the metadata`);
}

class Refusal extends Error {}

async function provision(admin, { specs, replicationFactor }) {
  for (const spec of specs) {
    const created = await admin.create(spec, replicationFactor);
    const actual = await settledPartitions(admin, spec.name);
    if (created) {
      log('topic created', { topic: spec.name, partitions: actual });
      continue;
    }
    if (actual === spec.partitions || spec.policy === 'any') {
      log('topic exists', { topic: spec.name, partitions: actual });
    } else if (actual < spec.partitions && spec.policy === 'grow') {
      await admin.grow(spec.name, spec.partitions);
      log('topic grown', { topic: spec.name, from: actual, to: spec.partitions });
    } else if (spec.policy === 'grow') {
      throw new Refusal(
        `topic "${spec.name}" has ${actual} partitions but aggregator.replicas is ${spec.partitions}. Kafka cannot remove ` +
          `partitions: keep aggregator.replicas at ${actual} or more, or delete the repartition and changelog topics ` +
          '(losing the open windows) and install again.',
      );
    } else {
      throw new Refusal(`topic "${spec.name}" has ${actual} partitions but exactly ${spec.partitions} are required: delete and recreate it.`);
    }
  }
}

async function main() {
  let input;
  try {
    input = settings(process.env);
  } catch (error) {
    log('bad input', { error: error.message });
    return 2;
  }
  const deadline = Date.now() + input.timeoutMs;
  for (let attempt = 1; ; attempt += 1) {
    const admin = new Admin(input.config);
    try {
      await provision(admin, input);
      log('topics ready', { topics: input.specs.map((spec) => spec.name) });
      return 0;
    } catch (error) {
      if (error instanceof Refusal) {
        log('refused', { error: error.message });
        return 1;
      }
      if (Date.now() > deadline) {
        log('giving up: Kafka did not answer', { error: error.message, attempts: attempt });
        return 1;
      }
      log('Kafka not ready, retrying', { error: error.message, attempt });
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      admin.close();
    }
  }
}

process.exitCode = await main();
