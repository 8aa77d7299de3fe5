/**
 * Kafka refusing a process because of the process's own settings — credentials it rejects, a
 * broker certificate the configured CA did not sign, a plaintext client on a TLS listener, a user
 * whose ACLs do not allow the job — is no outage: retrying never cures it. librdkafka reports such
 * refusals the way it reports a broker that is away (error events, then calls that time out), so
 * a service would wait and retry for ever without saying why. Here they are recognised and turned
 * into one KafkaAccessError whose message names the setting to fix (never a secret's value); a
 * service that meets one at start exits with status 1 (lifecycle.ts) instead of retrying.
 */
import { accessSync, constants } from 'node:fs';
import { ErrorCode } from './rdkafka.js';
import type { KafkaSettings } from './settings.js';

export class KafkaAccessError extends Error {
  override readonly name = 'KafkaAccessError';
  constructor(
    /** The environment variable(s) to check, e.g. `KAFKA_SASL_PASSWORD`. */
    readonly setting: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What librdkafka said, without its own "(after 3ms in state ...)" noise. */
function detail(error: { message?: string }): string {
  return (error.message ?? '').replace(/\s*\(after \d+ms in state [A-Z_]+\)/g, '').trim();
}

/**
 * A TLS handshake that fails because the other side speaks no TLS at all (a TLS client on a
 * plaintext listener) rather than because its certificate is not trusted.
 */
const NOT_TLS = /wrong version number|packet length too long|unexpected eof|record layer failure|http request|unknown protocol/i;

/**
 * The access problem an error of the Kafka client means, or undefined for any other error
 * (an outage, a timeout). `repeated` is how many times this kind of error has been seen: a
 * connection closed during the first request is a protocol mismatch only when it keeps happening
 * (a broker shutting down closes connections too).
 */
export function accessErrorOf(error: unknown, settings: KafkaSettings, repeated = 1): KafkaAccessError | undefined {
  if (error instanceof KafkaAccessError) return error;
  if (error === null || typeof error !== 'object') return undefined;
  const { code } = error as { code?: number };
  const text = detail(error as Error);
  const user = settings.saslUsername === '' ? 'no user (KAFKA_SASL_USERNAME is empty)' : `user "${settings.saslUsername}"`;
  const ca = settings.sslCaLocation === '' ? 'empty: the system CAs' : settings.sslCaLocation;
  switch (code) {
    case ErrorCode.ERR__AUTHENTICATION:
    case ErrorCode.ERR_SASL_AUTHENTICATION_FAILED:
      return new KafkaAccessError(
        'KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD',
        `Kafka refused the credentials of ${user} (${settings.saslMechanism}): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (and KAFKA_SASL_MECHANISM). Kafka said: ${text}`,
        { cause: error },
      );
    case ErrorCode.ERR_UNSUPPORTED_SASL_MECHANISM:
      return new KafkaAccessError('KAFKA_SASL_MECHANISM', `the brokers do not offer KAFKA_SASL_MECHANISM=${settings.saslMechanism}. Kafka said: ${text}`, { cause: error });
    case ErrorCode.ERR__SSL:
      if (NOT_TLS.test(text)) {
        return new KafkaAccessError(
          'KAFKA_SECURITY_PROTOCOL',
          `the TLS handshake with the brokers failed as if they spoke no TLS: KAFKA_SECURITY_PROTOCOL=${settings.securityProtocol} does not match the listener at ${settings.brokers}. Kafka said: ${text}`,
          { cause: error },
        );
      }
      return new KafkaAccessError(
        'KAFKA_SSL_CA_LOCATION',
        `the brokers' TLS certificate is not trusted: it must be signed by a CA in KAFKA_SSL_CA_LOCATION (${ca}) and name the address in KAFKA_BROKERS. Kafka said: ${text}`,
        { cause: error },
      );
    case ErrorCode.ERR__TRANSPORT:
      // librdkafka's own diagnosis when the broker hangs up on its first request.
      if (repeated >= 3 && /security\.protocol/.test(text)) {
        return new KafkaAccessError(
          'KAFKA_SECURITY_PROTOCOL',
          `the brokers at ${settings.brokers} close every connection at its first request: KAFKA_SECURITY_PROTOCOL=${settings.securityProtocol} does not match their listener (a TLS listener needs ssl or sasl_ssl). Kafka said: ${text}`,
          { cause: error },
        );
      }
      return undefined;
    case ErrorCode.ERR_TOPIC_AUTHORIZATION_FAILED:
    case ErrorCode.ERR_GROUP_AUTHORIZATION_FAILED:
    case ErrorCode.ERR_CLUSTER_AUTHORIZATION_FAILED:
    case ErrorCode.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return new KafkaAccessError(
        'KAFKA_SASL_USERNAME',
        `Kafka's ACLs do not allow ${user} to do this service's job (${text}): check KAFKA_SASL_USERNAME (each service has its own user) and the ACLs in docs/operations.md, "Running against a secured cluster"`,
        { cause: error },
      );
    default:
      return undefined;
  }
}

/**
 * Why librdkafka refused to create a client with these settings, when the reason is one it only
 * calls "Local: Erroneous state": a CA file that cannot be read.
 */
export function clientCreationError(error: unknown, settings: KafkaSettings): unknown {
  if (settings.sslCaLocation === '') return error;
  try {
    accessSync(settings.sslCaLocation, constants.R_OK);
    return error;
  } catch (cause) {
    return new KafkaAccessError('KAFKA_SSL_CA_LOCATION', `KAFKA_SSL_CA_LOCATION=${settings.sslCaLocation} cannot be read: ${(cause as Error).message}`, { cause: error });
  }
}

/**
 * Watches the error events of a client for an access problem. A call that then fails (it times
 * out: librdkafka keeps trying) is explained by the problem seen meanwhile.
 */
export class AccessWatch {
  #problem: KafkaAccessError | undefined;
  /** What the last connection error would mean if it is no passing trouble (see explain). */
  #suspect: KafkaAccessError | undefined;
  readonly #seen = new Map<number, number>();

  constructor(private readonly settings: KafkaSettings) {}

  /** The first access problem seen, if any. */
  get problem(): KafkaAccessError | undefined {
    return this.#problem;
  }

  /** Feeds one error event of the client. */
  readonly observe = (error: unknown): void => {
    if (this.#problem) return;
    const code = (error as { code?: number } | null)?.code ?? 0;
    const repeated = (this.#seen.get(code) ?? 0) + 1;
    this.#seen.set(code, repeated);
    this.#problem = accessErrorOf(error, this.settings, repeated);
    // librdkafka reports an error once per broker until it changes: a connection closed at its
    // first request may be seen only once or twice before a call gives up. The next connection
    // error tells whether that is still what happens ("all brokers down" says nothing about it).
    if (code === ErrorCode.ERR__TRANSPORT) this.#suspect = accessErrorOf(error, this.settings, Infinity);
  };

  /**
   * What to report for a failed call: the error if it is an access problem itself, else the
   * problem seen meanwhile, or what the last connection error suggested (the call failed, so it
   * was no passing trouble), else the error.
   */
  explain(error: unknown): unknown {
    return accessErrorOf(error, this.settings) ?? this.#problem ?? this.#suspect ?? error;
  }
}
