/**
 * Configuration on top of convict: every service declares one schema, every key can be set by an
 * environment variable, and a bad value stops the service at start with a message that names the
 * variable, the key and the value.
 */
import convict from 'convict';

/** A comma-separated list of `host:port`, as Kafka's `bootstrap.servers` takes it. */
const brokerListFormat: convict.Format = {
  name: 'broker-list',
  coerce: (value: unknown) => String(value),
  validate(value: unknown) {
    const text = String(value).trim();
    if (text === '') throw new Error('must list at least one broker as host:port');
    for (const broker of text.split(',')) {
      const match = /^\s*([A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})\s*$/.exec(broker);
      const port = match ? Number(match[2]) : 0;
      if (!match || port < 1 || port > 65535) {
        throw new Error(`must be a comma-separated list of host:port, "${broker.trim()}" is not`);
      }
    }
  },
};

function integerFormat(name: string, min: number, description: string): convict.Format {
  return {
    name,
    coerce: (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value),
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
        throw new Error(`must be ${description}`);
      }
    },
  };
}

function numberFormat(name: string, isValid: (n: number) => boolean, description: string): convict.Format {
  return {
    name,
    coerce: (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value),
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isFinite(value) || !isValid(value)) {
        throw new Error(`must be ${description}`);
      }
    },
  };
}

convict.addFormats({
  'broker-list': brokerListFormat,
  'positive-int': integerFormat('positive-int', 1, 'an integer of at least 1'),
  'non-negative-int': integerFormat('non-negative-int', 0, 'an integer of at least 0'),
  'positive-number': numberFormat('positive-number', (n) => n > 0, 'a number greater than 0'),
  'non-negative-number': numberFormat('non-negative-number', (n) => n >= 0, 'a number of at least 0'),
  ratio: numberFormat('ratio', (n) => n >= 0 && n <= 1, 'a number between 0 and 1'),
});

/** Thrown when the configuration is invalid; its message lists every bad key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadOptions {
  /** Environment to read; defaults to `process.env`. Tests pass their own. */
  env?: NodeJS.ProcessEnv;
  /** Command-line arguments for keys with an `arg`; defaults to none (services read only env). */
  args?: string[];
}

/**
 * Loads and validates a schema. Unknown keys are errors (`allowed: 'strict'`). The error message
 * names each bad key with its environment variable, e.g.
 * `KAFKA_BROKERS (kafka.brokers): must be a comma-separated list of host:port, "x" is not`.
 */
export function loadConfig<S>(schema: convict.Schema<S>, options: LoadOptions = {}): S {
  const env = options.env ?? process.env;
  let config: convict.Config<S>;
  try {
    config = convict(schema, { env, args: options.args ?? [] });
    config.validate({ allowed: 'strict' });
  } catch (error) {
    throw new ConfigError(describeConfigError(schema, env, error));
  }
  return config.getProperties();
}

/**
 * Rewrites convict's `path: message` lines so that each also names the environment variable and
 * the value it held (unless the key is sensitive: secrets never reach a log).
 */
function describeConfigError(schema: unknown, env: NodeJS.ProcessEnv, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message.split('\n').map((line) => {
    const match = /^([\w.]+): (.*)$/s.exec(line);
    if (!match) return line;
    const [, path = '', reason = ''] = match;
    const node = schemaNodeAt(schema, path);
    const variable = typeof node?.env === 'string' ? node.env : undefined;
    if (!variable) return `${path}: ${reason}`;
    const value = env[variable];
    const shown = value === undefined || node?.sensitive || reason.includes(`"${value}"`) ? '' : ` (got "${value}")`;
    return `${variable} (${path}): ${reason}${shown}`;
  });
  return `Invalid configuration:\n  ${lines.join('\n  ')}`;
}

function schemaNodeAt(schema: unknown, path: string): { env?: unknown; sensitive?: unknown } | undefined {
  let node: unknown = schema;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node !== null && typeof node === 'object' ? node : undefined;
}

/** Lists every key of a schema with its variable, default and doc: the docs' tables come from it. */
export function describeSchema(schema: unknown, prefix = ''): Array<{ key: string; env?: string; default: unknown; doc?: string }> {
  const rows: Array<{ key: string; env?: string; default: unknown; doc?: string }> = [];
  for (const [name, node] of Object.entries(schema as Record<string, Record<string, unknown>>)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (node && typeof node === 'object' && 'default' in node) {
      rows.push({
        key,
        env: node.env as string | undefined,
        default: node.sensitive ? '(secret)' : node.default,
        doc: node.doc as string | undefined,
      });
    } else {
      rows.push(...describeSchema(node, key));
    }
  }
  return rows;
}

/**
 * The exit status of a service whose configuration is bad: EX_CONFIG of sysexits.h. It tells an
 * operator (and Kubernetes' CrashLoopBackOff reason) apart from a crash, which exits with 1.
 */
export const EXIT_BAD_CONFIG = 78;

/**
 * Loads a service's configuration, or ends the process at start with the error's message (which
 * names the variable, the key and the value) and EXIT_BAD_CONFIG. Every service starts with it.
 */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_BAD_CONFIG);
  }
}
