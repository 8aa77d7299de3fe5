/**
 * The `produce` command: parses the flags, connects, runs the generation loop and reports.
 * Separate from the `cli.ts` entry point so that tests run it in-process against a real broker.
 */
import {
  ConfigError,
  TopicAdmin,
  createLogger,
  kafkaConfigSchema,
  loadConfig,
  topicNameSchema,
  visitsPartitionsSchema,
  visitsTopicSpec,
  type Visit,
} from '@eric/shared';
import { parseCliArgs, USAGE, type CliOptions } from './cli-options.js';
import { producerConfigSchema } from './config.js';
import { generateVisits } from './generation.js';
import { VisitGenerator } from './generator.js';
import { seededRandom, systemRandom } from './random.js';
import { VisitWriter } from './visit-writer.js';

export interface CommandIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Aborts the run (Ctrl-C): the command stops generating, waits for acknowledgements, reports. */
  signal?: AbortSignal;
}

/** What the command reads from the environment; the flags --brokers and --topic override it. */
const cliConfigSchema = {
  kafka: kafkaConfigSchema('eric-produce'),
  topics: { visits: topicNameSchema.visits },
  visitsPartitions: visitsPartitionsSchema,
  delivery: producerConfigSchema.delivery,
};

/** Runs the command; resolves to the exit status. */
export async function runProduce(argv: readonly string[], io: CommandIO): Promise<number> {
  const parsed = parseCliArgs(argv);
  if (!parsed.ok) {
    io.stderr.write(`produce: ${parsed.error}\n\n${USAGE}\n`);
    return 2;
  }
  if ('help' in parsed) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const options = parsed.options;

  let config;
  try {
    config = loadConfig(cliConfigSchema, {
      env: {
        ...io.env,
        ...(options.brokers === undefined ? {} : { KAFKA_BROKERS: options.brokers }),
        ...(options.topic === undefined ? {} : { TOPIC_VISITS: options.topic }),
      },
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr.write(`produce: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }

  // librdkafka's and the writer's warnings go to stderr as JSON lines, like the services' logs.
  const logger = createLogger('produce', 'warn', { write: (line: string) => void io.stderr.write(line) });
  const topic = config.topics.visits;
  const writer = new VisitWriter({
    settings: config.kafka,
    topic,
    logger,
    // A command line run may wait longer for a slow broker than an HTTP client would.
    deliveryTimeoutMs: Math.max(config.delivery.timeoutMs, 30_000),
    lingerMs: options.bulk ? Math.max(config.delivery.lingerMs, 10) : config.delivery.lingerMs,
    maxQueued: config.delivery.maxQueued,
  });

  const admin = new TopicAdmin(config.kafka, { timeoutMs: 10_000 });
  try {
    await admin.ensureTopics([visitsTopicSpec(topic, config.visitsPartitions)]);
    await writer.connect(10_000);
  } catch (error) {
    io.stderr.write(`produce: cannot reach Kafka at ${config.kafka.brokers}: ${(error as Error).message}\n`);
    await writer.close(0);
    return 1;
  } finally {
    admin.close();
  }

  const generator = new VisitGenerator(options, options.seed === undefined ? systemRandom : seededRandom(options.seed));
  const signal = io.signal ?? new AbortController().signal;
  let written = 0;
  let firstFailure: string | undefined;
  const progress = options.bulk ? startProgress(io, () => written) : undefined;

  const result = await generateVisits({
    generator,
    writer,
    rate: options.rate,
    maxVisits: options.maxMessages,
    batchSize: options.bulk ? options.batchSize : 1,
    signal,
    onOutcome: (visits, outcome) => {
      written += outcome.written;
      if (!outcome.ok) firstFailure ??= `${outcome.reason}: ${outcome.detail}`;
      if (!options.bulk && !options.quiet && outcome.ok) printVisits(io, visits);
    },
  });
  clearInterval(progress);
  await writer.close(10_000);

  io.stderr.write(`produce: ${summary(options, topic, config.kafka.brokers, result, generator.stats)}\n`);
  if (result.failed > 0) {
    io.stderr.write(`produce: ${result.failed} visits were not acknowledged (first failure: ${firstFailure ?? 'unknown'})\n`);
    return 1;
  }
  return 0;
}

function printVisits(io: CommandIO, visits: readonly Visit[]): void {
  io.stdout.write(visits.map((visit) => JSON.stringify(visit)).join('\n') + '\n');
}

function startProgress(io: CommandIO, written: () => number): NodeJS.Timeout {
  let last = 0;
  const timer = setInterval(() => {
    const now = written();
    io.stderr.write(`produce: ${now} visits acknowledged (${now - last}/s)\n`);
    last = now;
  }, 1_000);
  timer.unref();
  return timer;
}

function summary(
  options: CliOptions,
  topic: string,
  brokers: string,
  result: { written: number; failed: number; seconds: number },
  stats: { duplicate: number; late: number },
): string {
  const rate = result.seconds > 0 ? result.written / result.seconds : 0;
  const mode = options.bulk ? `rate ${options.rate === Infinity ? 'max' : options.rate}/s` : `frequency ${options.rate}/s`;
  return (
    `${result.written} visits acknowledged on "${topic}" at ${brokers} in ${result.seconds.toFixed(1)} s ` +
    `(${rate.toFixed(0)} visits/s, ${mode}); ${result.failed} failed; ${stats.duplicate} duplicates, ${stats.late} late`
  );
}
