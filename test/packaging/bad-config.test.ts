/**
 * Every Eric process refuses a bad setting the same way, before it touches Kafka: it exits with
 * EX_CONFIG (78), which Kubernetes shows as the container's exit code, and its message names the
 * environment variable, the key and the value. No broker is needed: nothing gets that far.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT_BAD_CONFIG } from '@eric/shared';
import { buildService, repositoryRoot } from '@eric/shared/testing/process';

const run = promisify(execFile);

const cases = [
  { service: 'producer', main: 'main.js', env: { PRODUCER_RATE: 'fast' }, names: 'PRODUCER_RATE' },
  { service: 'aggregator', main: 'start.cjs', env: { AGGREGATOR_ORDINAL: '0', GRACE_SECONDS: '-1' }, names: 'GRACE_SECONDS' },
  { service: 'aggregator', main: 'provision.js', env: { PARTITIONS: 'four' }, names: 'PARTITIONS' },
  { service: 'gateway', main: 'main.js', env: { HTTP_PORT: '99999' }, names: 'HTTP_PORT' },
];

describe('a bad setting stops every process at start', () => {
  for (const { service, main, env, names } of cases) {
    it(`${service} ${main}: exit ${EXIT_BAD_CONFIG}, naming ${names}`, async () => {
      buildService(service);
      const failure = await run('node', [`services/${service}/dist/${main}`], {
        cwd: repositoryRoot,
        // Brokers nobody listens on: a process that got past its configuration would hang or retry.
        env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:1', ...env },
        timeout: 20_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code?: number; stderr?: string }) => ({ code: error.code, stderr: error.stderr ?? '' }),
      );
      expect(failure.code, failure.stderr).toBe(EXIT_BAD_CONFIG);
      expect(failure.stderr).toContain(names);
      expect(failure.stderr).toContain(Object.values(env).at(-1));
    }, 60_000);
  }
});

describe('a bad secret stops the process without printing it', () => {
  it('producer main.js: a malformed PRODUCER_INGEST_KEYS exits with EX_CONFIG, naming the variable and not the key', async () => {
    buildService('producer');
    const key = 'a-short-key';
    const failure = await run('node', ['services/producer/dist/main.js'], {
      cwd: repositoryRoot,
      env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:1', PRODUCER_INGEST_KEYS: `${key}=1` },
      timeout: 20_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code?: number; stderr?: string }) => ({ code: error.code, stderr: error.stderr ?? '' }),
    );
    expect(failure.code, failure.stderr).toBe(EXIT_BAD_CONFIG);
    expect(failure.stderr).toContain('PRODUCER_INGEST_KEYS');
    expect(failure.stderr).not.toContain(key);
  }, 60_000);
});

