/**
 * Global setup of the integration tests: a real Kafka broker. When KAFKA_BROKERS is set, that
 * cluster is used as it is; otherwise scripts/kafka.sh starts a dedicated local broker on port
 * 19092 (data in .eric/kafka-test, apart from the `make run` broker) and stops it afterwards.
 * ERIC_TEST_KAFKA_PORT moves it to another port, with its data in .eric/kafka-test-<port>, so that
 * two test runs on one machine never share a broker's data directory.
 * Set ERIC_KEEP_TEST_KAFKA=1 to leave it running between runs while you iterate.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

const root = fileURLToPath(new URL('..', import.meta.url));
const script = `${root}scripts/kafka.sh`;
const defaultPort = '19092';
const port = process.env.ERIC_TEST_KAFKA_PORT ?? defaultPort;
const home = port === defaultPort ? `${root}.eric/kafka-test` : `${root}.eric/kafka-test-${port}`;
const testBroker = { ...process.env, KAFKA_PORT: port, KAFKA_HOME_DIR: home };

function kafka(command: string): string {
  return execFileSync('bash', [script, command], { env: testBroker, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

export default function setup(project: TestProject) {
  const external = process.env.KAFKA_BROKERS;
  if (external) {
    project.provide('kafkaBrokers', external);
    return;
  }
  let alreadyRunning = true;
  try {
    kafka('status');
  } catch {
    alreadyRunning = false;
  }
  process.stdout.write(kafka('start'));
  project.provide('kafkaBrokers', `127.0.0.1:${testBroker.KAFKA_PORT}`);
  return () => {
    if (!alreadyRunning && process.env.ERIC_KEEP_TEST_KAFKA !== '1') process.stdout.write(kafka('stop'));
  };
}
