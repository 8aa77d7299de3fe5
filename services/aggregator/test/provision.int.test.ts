/**
 * The `provision` command (src/provision.ts), as the chart's topic Job and docker-compose run
 * it: a process with the aggregator's environment, against a real broker. It creates the topics
 * of topics.ts with their settings, changes nothing when run again, grows the repartition and
 * changelog topics to PARTITIONS, and refuses what it cannot make right with a clear message and
 * its exit status.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { EXIT_BAD_CONFIG, TopicAdmin, loadConfig } from '@eric/shared';
import { isolatedRunEnv, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import { buildService, repositoryRoot } from '@eric/shared/testing/process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { provisionConfigSchema } from '../src/config.js';
import { aggregatorTopics } from '../src/topic-specs.js';

const execFileAsync = promisify(execFile);
const brokers = inject('kafkaBrokers');
const settings = testKafkaSettings(brokers, 'eric-provision-test');
const prefix = uniqueName('provision');
const names = isolatedRunEnv(prefix);
let admin: TopicAdmin;

/** The aggregator's environment for this test's topics, as the chart's hook ConfigMap gives it. */
const env = (overrides: Record<string, string> = {}): Record<string, string> => ({
  ...names,
  KAFKA_BROKERS: brokers,
  PARTITIONS: '2',
  WINDOW_SECONDS: '60',
  GRACE_SECONDS: '10',
  PROVISION_TIMEOUT_SECONDS: '30',
  ...overrides,
});

function provision(environment: Record<string, string>): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', ['services/aggregator/dist/provision.js'], { cwd: repositoryRoot, env: { PATH: process.env.PATH ?? '', ...environment } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => resolve({ status: code ?? -1, output }));
  });
}

/** A topic's configs as the broker reports them (Kafka's own ConfigCommand: our client cannot describe configs). */
async function topicConfig(topic: string): Promise<Record<string, string>> {
  const { stdout: classpath } = await execFileAsync('bash', [`${repositoryRoot}scripts/kafka.sh`, 'classpath']);
  const { stdout } = await execFileAsync('java', ['-Xmx64m', '-cp', classpath.trim(), 'kafka.admin.ConfigCommand', '--bootstrap-server', brokers, '--entity-type', 'topics', '--entity-name', topic, '--describe']);
  // "  retention.ms=600000 sensitive=false synonyms={…}": the dynamic (topic-level) configs.
  return Object.fromEntries([...stdout.matchAll(/^\s+([a-z.]+)=(\S*) sensitive=/gm)].map((match) => [match[1]!, match[2]!]));
}

const partitionCounts = async () => ({
  visits: await admin.partitionCount(names.TOPIC_VISITS!),
  repartition: await admin.partitionCount(names.TOPIC_REPARTITION!),
  changelog: await admin.partitionCount(names.TOPIC_CHANGELOG!),
  activeVisitors: await admin.partitionCount(names.TOPIC_ACTIVE_VISITORS!),
  deadLetter: await admin.partitionCount(names.TOPIC_DEAD_LETTER!),
});

beforeAll(() => {
  buildService('aggregator');
  admin = new TopicAdmin(settings);
}, 120_000);

afterAll(async () => {
  for (const topic of Object.values(names).filter((name) => name !== prefix)) await admin.deleteTopic(topic).catch(() => undefined);
  admin.close();
});

describe('the provision command', () => {
  it('creates every topic of topics.ts with its partitions and settings, and changes nothing when run again', async () => {
    const created = await provision(env());
    expect(created.status, created.output).toBe(0);
    expect(created.output).toContain('topics ready');
    expect(await partitionCounts()).toEqual({ visits: 4, repartition: 2, changelog: 2, activeVisitors: 1, deadLetter: 1 });
    // The settings are exactly those the aggregator's code gives each topic.
    const specs = aggregatorTopics(loadConfig(provisionConfigSchema, { env: env() }));
    expect(specs.map((spec) => spec.name).sort()).toEqual(Object.values(names).filter((name) => name !== prefix).sort());
    expect(specs.find((spec) => spec.name === names.TOPIC_CHANGELOG)!.config).toMatchObject({ 'cleanup.policy': 'compact,delete', 'retention.ms': '300000' });
    for (const spec of specs) expect(await topicConfig(spec.name), spec.name).toMatchObject(spec.config ?? {});

    const again = await provision(env());
    expect(again.status, again.output).toBe(0);
    expect(again.output).toContain('topic exists');
    expect(again.output).not.toContain('topic created');
    expect(await partitionCounts()).toEqual({ visits: 4, repartition: 2, changelog: 2, activeVisitors: 1, deadLetter: 1 });
  }, 120_000);

  it('grows the repartition and changelog topics to PARTITIONS, and refuses to shrink them', async () => {
    const grown = await provision(env({ PARTITIONS: '3' }));
    expect(grown.status, grown.output).toBe(0);
    expect(grown.output).toContain('topic grown');
    expect(await partitionCounts()).toMatchObject({ repartition: 3, changelog: 3, activeVisitors: 1 });

    const shrink = await provision(env({ PARTITIONS: '2' }));
    expect(shrink.status, shrink.output).toBe(1);
    expect(shrink.output).toContain(`topic \\"${names.TOPIC_REPARTITION}\\" has 3 partitions but 2 are required`);
    expect(shrink.output).toContain('Kafka cannot remove partitions');
    expect(shrink.output).toContain("PARTITIONS is the chart's aggregator.replicas: keep it at 3 or more");
    expect(await partitionCounts()).toMatchObject({ repartition: 3, changelog: 3 });
  }, 120_000);

  it('refuses an active-visitors topic with more than one partition', async () => {
    const active = uniqueName('provision-active');
    await admin.ensureTopics([{ name: active, partitions: 2 }]);
    try {
      const refused = await provision(env({ PARTITIONS: '3', TOPIC_ACTIVE_VISITORS: active }));
      expect(refused.status, refused.output).toBe(1);
      expect(refused.output).toContain(`topic \\"${active}\\" has 2 partitions but 1 are required`);
    } finally {
      await admin.deleteTopic(active).catch(() => undefined);
    }
  }, 60_000);

  it('names a bad setting (exit 78) and gives up on an unreachable Kafka after PROVISION_TIMEOUT_SECONDS (exit 1)', async () => {
    const bad = await provision(env({ PARTITIONS: 'zero' }));
    expect(bad.status).toBe(EXIT_BAD_CONFIG);
    expect(bad.output).toContain('PARTITIONS (partitions)');

    const unreachable = await provision(env({ KAFKA_BROKERS: '127.0.0.1:1', PROVISION_TIMEOUT_SECONDS: '1' }));
    expect(unreachable.status, unreachable.output).toBe(1);
    expect(unreachable.output).toContain('giving up: Kafka did not answer');
  }, 60_000);
});
