/**
 * The flags of the `produce` command: the original app's four, plus Eric's additions. Pure, so
 * every rule is unit-tested; `produce-command.ts` does the I/O.
 */
import { parseArgs } from 'node:util';

export const USAGE = `Usage: produce [options]

Sends synthetic visits to Kafka, as the original app's \`produce\` command did: each visit has a
fresh UUID, the current time, a random account from --account-id and a random store from
--store-id or null.

Options of the original:
  --frequency <n>       visits per second, one at a time (default 1)
  --max-messages <n>    stop after n visits; 0 = until Ctrl-C (default 300)
  --account-id <int>    an account to pick from; repeat for more (default 352)
  --store-id <string>   a store to pick from; repeat for more (default "default")

Additions:
  --rate <n|max>        bulk mode: n visits per second in batches, or "max" = as fast as Kafka
                        acknowledges them (instead of --frequency)
  --batch-size <n>      most visits per batch in bulk mode (default 1000)
  --duplicates <share>  share (0-1) of visits that re-send a recent visit, same id (default 0)
  --late <share>        share (0-1) of visits stamped --late-by seconds in the past (default 0)
  --late-by <seconds>   how old a late visit is: more than window + grace (default 120)
  --seed <string>       reproducible ids, accounts and stores (timestamps follow the clock)
  --brokers <list>      Kafka brokers host:port,... (default $KAFKA_BROKERS or 127.0.0.1:9092)
  --topic <name>        topic to write to (default $TOPIC_VISITS or "visits")
  --quiet               do not print each visit (bulk mode never does)
  -h, --help            show this help

Prints each acknowledged visit as a JSON line (frequency mode) and a summary on stderr.
Exit status: 0 all visits acknowledged, 1 some were not (or Kafka was unreachable), 2 bad usage.`;

export interface CliOptions {
  /** Visits per second; `Infinity` for --rate max. */
  rate: number;
  /** Bulk mode (--rate) batches and prints progress; frequency mode prints every visit. */
  bulk: boolean;
  maxMessages: number;
  accountIds: number[];
  storeIds: string[];
  batchSize: number;
  duplicates: number;
  late: number;
  lateBySeconds: number;
  seed: string | undefined;
  brokers: string | undefined;
  topic: string | undefined;
  quiet: boolean;
}

export type CliParse = { ok: true; options: CliOptions } | { ok: true; help: true } | { ok: false; error: string };

export function parseCliArgs(argv: readonly string[]): CliParse {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        frequency: { type: 'string' },
        'max-messages': { type: 'string' },
        'account-id': { type: 'string', multiple: true },
        'store-id': { type: 'string', multiple: true },
        rate: { type: 'string' },
        'batch-size': { type: 'string' },
        duplicates: { type: 'string' },
        late: { type: 'string' },
        'late-by': { type: 'string' },
        seed: { type: 'string' },
        brokers: { type: 'string' },
        topic: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  if (values.help) return { ok: true, help: true };

  try {
    if (values.frequency !== undefined && values.rate !== undefined) throw new UsageError('give --frequency or --rate, not both');
    const bulk = values.rate !== undefined;
    const rate = bulk
      ? values.rate === 'max'
        ? Infinity
        : number('--rate', values.rate ?? '', (n) => n > 0, 'a number greater than 0 or "max"')
      : number('--frequency', values.frequency ?? '1', (n) => n > 0, 'a number greater than 0');
    const duplicates = number('--duplicates', values.duplicates ?? '0', (n) => n >= 0 && n <= 1, 'a share between 0 and 1');
    const late = number('--late', values.late ?? '0', (n) => n >= 0 && n <= 1, 'a share between 0 and 1');
    if (duplicates + late > 1) throw new UsageError('--duplicates and --late together must not exceed 1');
    const storeIds = values['store-id'] ?? ['default'];
    for (const store of storeIds) {
      if (store.length === 0 || store.length > 256) throw new UsageError(`--store-id must have 1 to 256 characters, got "${store.slice(0, 20)}"`);
    }
    if (values.topic !== undefined && values.topic.trim() === '') throw new UsageError('--topic must not be empty');
    return {
      ok: true,
      options: {
        rate,
        bulk,
        maxMessages: integer('--max-messages', values['max-messages'] ?? '300', 0),
        accountIds: (values['account-id'] ?? ['352']).map((id) => integer('--account-id', id, 0)),
        storeIds,
        batchSize: integer('--batch-size', values['batch-size'] ?? '1000', 1),
        duplicates,
        late,
        lateBySeconds: number('--late-by', values['late-by'] ?? '120', (n) => n > 0, 'a number of seconds greater than 0'),
        seed: values.seed,
        brokers: values.brokers,
        topic: values.topic,
        quiet: values.quiet ?? false,
      },
    };
  } catch (error) {
    if (error instanceof UsageError) return { ok: false, error: error.message };
    throw error;
  }
}

class UsageError extends Error {}

function number(flag: string, text: string, isValid: (n: number) => boolean, description: string): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value) || !isValid(value)) throw new UsageError(`${flag} must be ${description}, got "${text}"`);
  return value;
}

function integer(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} must be an integer of at least ${min}, got "${text}"`);
  }
  return value;
}
