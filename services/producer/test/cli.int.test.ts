/**
 * The `produce` command against the real test broker: what its flags put on the topic.
 */
import type { Visit } from '@eric/shared';
import { readRecords, testKafkaSettings, uniqueName } from '@eric/shared/testing';
import { describe, expect, inject, it } from 'vitest';
import { runProduce } from '../src/produce-command.js';

const brokers = inject('kafkaBrokers');
const settings = testKafkaSettings(brokers);
const PARTITIONS = [0, 1, 2, 3];

function capture() {
  let text = '';
  return {
    write: (chunk: string) => {
      text += chunk;
      return true;
    },
    get text() {
      return text;
    },
  };
}

async function produce(args: string[]) {
  const stdout = capture();
  const stderr = capture();
  const status = await runProduce(args, { stdout, stderr, env: { VISITS_PARTITIONS: '4' } });
  return { status, stdout: stdout.text, stderr: stderr.text };
}

async function readVisits(topic: string, count: number): Promise<Array<Visit & { key: string | undefined }>> {
  const records = await readRecords(settings, topic, { partitions: PARTITIONS, count, idleMs: 3_000 });
  return records.map((record) => ({ ...(JSON.parse(record.value!.toString()) as Visit), key: record.key?.toString() }));
}

describe('produce (the original CLI)', () => {
  it('with the original defaults sends visits of account 352, store "default" or null, fresh ids, current time', async () => {
    const topic = uniqueName('produce-defaults');
    const before = Date.now() / 1000;
    const run = await produce(['--brokers', brokers, '--topic', topic, '--frequency', '100', '--max-messages', '40']);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/40 visits acknowledged/);
    const visits = await readVisits(topic, 40);
    expect(visits).toHaveLength(40);
    expect(new Set(visits.map((v) => v.id)).size).toBe(40);
    for (const visit of visits) {
      expect(visit.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(visit.key).toBe(visit.id);
      expect(visit.account_id).toBe(352);
      expect(['default', null]).toContain(visit.store_id);
      expect(visit.timestamp).toBeGreaterThanOrEqual(before);
      expect(visit.timestamp).toBeLessThanOrEqual(Date.now() / 1000);
    }
    expect(visits.some((v) => v.store_id === null)).toBe(true);
    expect(visits.some((v) => v.store_id === 'default')).toBe(true);
    // Each acknowledged visit is printed as a JSON line, as a log of what was sent.
    const printed = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Visit);
    expect(new Set(printed.map((v) => v.id))).toEqual(new Set(visits.map((v) => v.id)));
  });

  it('picks accounts and stores (and null) from repeated flags, in bulk mode', async () => {
    const topic = uniqueName('produce-lists');
    const run = await produce([
      '--brokers', brokers, '--topic', topic, '--rate', 'max', '--max-messages', '3000',
      '--account-id', '1', '--account-id', '2', '--account-id', '3', '--store-id', 'us', '--store-id', 'uk',
    ]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    const visits = await readVisits(topic, 3000);
    expect(visits).toHaveLength(3000);
    expect(new Set(visits.map((v) => v.account_id))).toEqual(new Set([1, 2, 3]));
    expect(new Set(visits.map((v) => v.store_id))).toEqual(new Set(['us', 'uk', null]));
  });

  it('repeats the same visits for the same --seed', async () => {
    const args = ['--brokers', brokers, '--rate', 'max', '--max-messages', '500', '--account-id', '7', '--account-id', '8', '--store-id', 'a', '--duplicates', '0.1', '--seed', 'eric'];
    const [first, second, other] = [uniqueName('produce-seed'), uniqueName('produce-seed'), uniqueName('produce-seed')];
    expect((await produce([...args, '--topic', first])).status).toBe(0);
    expect((await produce([...args, '--topic', second])).status).toBe(0);
    expect((await produce([...args.slice(0, -1), 'other', '--topic', other])).status).toBe(0);
    const fingerprint = async (topic: string) =>
      (await readVisits(topic, 500)).map((v) => `${v.id}|${v.account_id}|${v.store_id}`).sort();
    const [a, b, c] = [await fingerprint(first), await fingerprint(second), await fingerprint(other)];
    expect(a).toHaveLength(500);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('sends the --duplicates share as exact re-sends and the --late share --late-by seconds old', async () => {
    const topic = uniqueName('produce-dup-late');
    const started = Date.now() / 1000;
    const run = await produce(['--brokers', brokers, '--topic', topic, '--rate', 'max', '--max-messages', '2000', '--duplicates', '0.2', '--late', '0.1', '--late-by', '150', '--seed', 'd']);
    expect(run.status).toBe(0);
    const [, duplicates, late] = /; (\d+) duplicates, (\d+) late/.exec(run.stderr)!.map(Number);
    const visits = await readVisits(topic, 2000);
    expect(visits).toHaveLength(2000);

    const byId = new Map<string, Visit[]>();
    for (const visit of visits) byId.set(visit.id, [...(byId.get(visit.id) ?? []), visit]);
    expect(2000 - byId.size).toBe(duplicates);
    for (const copies of byId.values()) for (const copy of copies) expect(copy).toEqual(copies[0]);
    expect(duplicates! / 2000).toBeGreaterThan(0.15);
    expect(duplicates! / 2000).toBeLessThan(0.25);

    const distinct = [...byId.values()].map((copies) => copies[0]!);
    const lateVisits = distinct.filter((v) => v.timestamp < started - 100);
    expect(lateVisits).toHaveLength(late!);
    for (const visit of lateVisits) expect(visit.timestamp).toBeGreaterThanOrEqual(started - 151);
    expect(late! / 2000).toBeGreaterThan(0.06);
    expect(late! / 2000).toBeLessThan(0.14);
  });

  it('refuses bad flags with the usage and status 2, and an unreachable Kafka with status 1', async () => {
    const bad = await produce(['--frequency', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--frequency must be a number greater than 0/);
    expect(bad.stderr).toMatch(/Usage: produce/);
    expect((await produce(['--nope'])).status).toBe(2);
    expect((await produce(['--brokers', 'not a broker'])).status).toBe(2);

    const down = await produce(['--brokers', '127.0.0.1:1', '--topic', uniqueName('produce-down'), '--max-messages', '1']);
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/cannot reach Kafka at 127\.0\.0\.1:1/);
  });
});
