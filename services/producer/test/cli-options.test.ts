import { describe, expect, it } from 'vitest';
import { parseCliArgs, type CliOptions } from '../src/cli-options.js';

function options(argv: string[]): CliOptions {
  const parsed = parseCliArgs(argv);
  if (!parsed.ok || !('options' in parsed)) throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function error(argv: string[]): string {
  const parsed = parseCliArgs(argv);
  if (parsed.ok) throw new Error(`expected an error for ${argv.join(' ')}`);
  return parsed.error;
}

describe('produce flags', () => {
  it('defaults to the original: 1 per second, 300 messages, account 352, store "default"', () => {
    expect(options([])).toMatchObject({
      rate: 1,
      bulk: false,
      maxMessages: 300,
      accountIds: [352],
      storeIds: ['default'],
      duplicates: 0,
      late: 0,
      lateBySeconds: 120,
      seed: undefined,
      quiet: false,
    });
  });

  it('takes the original flags, --account-id and --store-id repeated', () => {
    expect(
      options(['--account-id', '1', '--account-id', '2', '--account-id', '3', '--store-id', 'us', '--store-id', 'uk', '--frequency', '2', '--max-messages', '0']),
    ).toMatchObject({ accountIds: [1, 2, 3], storeIds: ['us', 'uk'], rate: 2, maxMessages: 0 });
    expect(options(['--frequency=0.5']).rate).toBe(0.5);
  });

  it('takes the additions', () => {
    expect(
      options(['--rate', '5000', '--batch-size', '200', '--duplicates', '0.1', '--late', '0.05', '--late-by', '300', '--seed', 'x', '--brokers', 'k:9092', '--topic', 't', '--quiet']),
    ).toMatchObject({ rate: 5000, bulk: true, batchSize: 200, duplicates: 0.1, late: 0.05, lateBySeconds: 300, seed: 'x', brokers: 'k:9092', topic: 't', quiet: true });
    expect(options(['--rate', 'max']).rate).toBe(Infinity);
  });

  it('answers --help', () => {
    expect(parseCliArgs(['--help'])).toEqual({ ok: true, help: true });
    expect(parseCliArgs(['-h'])).toEqual({ ok: true, help: true });
  });

  it('refuses bad flags with a message naming the flag', () => {
    expect(error(['--bogus'])).toMatch(/--bogus/);
    expect(error(['extra'])).toMatch(/extra/);
    expect(error(['--frequency', '0'])).toMatch(/--frequency must be a number greater than 0/);
    expect(error(['--frequency', 'fast'])).toMatch(/--frequency/);
    expect(error(['--max-messages=-1'])).toMatch(/--max-messages must be an integer/);
    expect(error(['--max-messages', '1.5'])).toMatch(/--max-messages/);
    expect(error(['--account-id', 'abc'])).toMatch(/--account-id must be an integer of at least 0/);
    expect(error(['--account-id=-3'])).toMatch(/--account-id must be an integer/);
    expect(error(['--store-id', ''])).toMatch(/--store-id/);
    expect(error(['--rate', 'lots'])).toMatch(/--rate/);
    expect(error(['--rate', '10', '--frequency', '2'])).toMatch(/not both/);
    expect(error(['--duplicates', '2'])).toMatch(/--duplicates must be a share/);
    expect(error(['--duplicates', '0.7', '--late', '0.7'])).toMatch(/must not exceed 1/);
    expect(error(['--late-by', '0'])).toMatch(/--late-by/);
    expect(error(['--batch-size', '0'])).toMatch(/--batch-size/);
    expect(error(['--frequency'])).toMatch(/--frequency/);
  });
});
