/**
 * JSON logs with pino. Every line carries the service name; callers add their own bindings
 * (partition, ordinal, client id) with `logger.child(...)`.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

const LOG_LEVELS: LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The `log` part of every service's config schema. */
export const logConfigSchema = {
  level: {
    doc: 'Log level: fatal, error, warn, info, debug, trace or silent.',
    format: LOG_LEVELS,
    default: 'info' as LevelWithSilent,
    env: 'LOG_LEVEL',
  },
};

export function createLogger(service: string, level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets never reach a log line, whatever object is logged.
    redact: { paths: ['*.password', '*.saslPassword', '*["sasl.password"]', '*.token', '*.tokens'], censor: '[redacted]' },
  };
  // Synchronous writes: pino's default writes through libuv's thread pool, where they can queue
  // behind Kafka calls that wait out a broker outage, and a process that must exit at once
  // (see lifecycle.ts) would lose its last lines, the ones that say why. Eric logs events, not
  // records, so the cost is small.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}
