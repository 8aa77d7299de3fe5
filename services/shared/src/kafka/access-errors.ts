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

type Kind = 'authentication' | 'mechanism' | 'tls' | 'not tls' | 'protocol' | 'authorization';

const KIND_OF_CODE = new Map<number, Kind>([
  [ErrorCode.ERR__AUTHENTICATION, 'authentication'],
  [ErrorCode.ERR_SASL_AUTHENTICATION_FAILED, 'authentication'],
  [ErrorCode.ERR_UNSUPPORTED_SASL_MECHANISM, 'mechanism'],
  [ErrorCode.ERR__SSL, 'tls'],
  [ErrorCode.ERR_TOPIC_AUTHORIZATION_FAILED, 'authorization'],
  [ErrorCode.ERR_GROUP_AUTHORIZATION_FAILED, 'authorization'],
  [ErrorCode.ERR_CLUSTER_AUTHORIZATION_FAILED, 'authorization'],
  [ErrorCode.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'authorization'],
]);

/**
 * The kind of refusal a text of librdkafka's describes: the detailed lines of its log ("SASL
 * authentication error: ...", "SSL handshake failed: ...") or the bare messages of its error
 * events, which the Node.js binding reduces to the error's name ("authentication failure",
 * "ssl error") with no code.
 */
function kindOfText(text: string): Kind | undefined {
  if (/SASL authentication error|^authentication failure$/i.test(text)) return 'authentication';
  if (/SSL handshake failed|^ssl error$/i.test(text)) return NOT_TLS.test(text) ? 'not tls' : 'tls';
  // librdkafka's own diagnosis when the broker hangs up on its first request.
  if (/Disconnected while requesting ApiVersion.*security\.protocol/i.test(text)) return 'protocol';
  return undefined;
}

function accessError(kind: Kind, settings: KafkaSettings, said: string, cause: unknown): KafkaAccessError {
  const user = settings.saslUsername === '' ? 'no user (KAFKA_SASL_USERNAME is empty)' : `user "${settings.saslUsername}"`;
  const ca = settings.sslCaLocation === '' ? 'empty: the system CAs' : settings.sslCaLocation;
  const kafkaSaid = said === '' ? '' : ` Kafka said: ${said}`;
  switch (kind) {
    case 'authentication':
      return new KafkaAccessError(
        'KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD',
        `Kafka refused the credentials of ${user} (${settings.saslMechanism}): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (and KAFKA_SASL_MECHANISM).${kafkaSaid}`,
        { cause },
      );
    case 'mechanism':
      return new KafkaAccessError('KAFKA_SASL_MECHANISM', `the brokers do not offer KAFKA_SASL_MECHANISM=${settings.saslMechanism}.${kafkaSaid}`, { cause });
    case 'not tls':
      return new KafkaAccessError(
        'KAFKA_SECURITY_PROTOCOL',
        `the TLS handshake with the brokers failed as if they spoke no TLS: KAFKA_SECURITY_PROTOCOL=${settings.securityProtocol} does not match the listener at ${settings.brokers}.${kafkaSaid}`,
        { cause },
      );
    case 'tls':
      return new KafkaAccessError(
        'KAFKA_SSL_CA_LOCATION',
        `the brokers' TLS certificate is not trusted: it must be signed by a CA in KAFKA_SSL_CA_LOCATION (${ca}) and name the address in KAFKA_BROKERS.${kafkaSaid}`,
        { cause },
      );
    case 'protocol':
      return new KafkaAccessError(
        'KAFKA_SECURITY_PROTOCOL',
        `the brokers at ${settings.brokers} close every connection at its first request: KAFKA_SECURITY_PROTOCOL=${settings.securityProtocol} does not match their listener (a TLS listener needs ssl or sasl_ssl).${kafkaSaid}`,
        { cause },
      );
    case 'authorization':
      return new KafkaAccessError(
        'KAFKA_SASL_USERNAME',
        `Kafka's ACLs do not allow ${user} to do this service's job (${said}): check KAFKA_SASL_USERNAME (each service has its own user) and the ACLs in docs/operations.md, "Running against a secured cluster"`,
        { cause },
      );
  }
}

/**
 * The access problem an error of the Kafka client (or a line of its log) means, or undefined for
 * any other error (an outage, a timeout). `repeated` is how many times such an error has been
 * seen: a connection closed during the first request is a protocol mismatch only when it keeps
 * happening (a broker shutting down closes connections too).
 */
export function accessErrorOf(error: unknown, settings: KafkaSettings, repeated = 1): KafkaAccessError | undefined {
  if (error instanceof KafkaAccessError) return error;
  if (error === null || typeof error !== 'object') return undefined;
  const { code } = error as { code?: number };
  const text = detail(error as Error);
  let kind = (code === undefined ? undefined : KIND_OF_CODE.get(code)) ?? kindOfText(text);
  if (kind === 'tls' && NOT_TLS.test(text)) kind = 'not tls';
  if (kind === undefined || (kind === 'protocol' && repeated < 3)) return undefined;
  return accessError(kind, settings, text, error);
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
  /** Whether #problem comes from a log line, which says more than an error event. */
  #detailed = false;
  /** What the last connection trouble would mean if it is no passing trouble (see explain). */
  #suspect: KafkaAccessError | undefined;
  #protocolHints = 0;

  constructor(private readonly settings: KafkaSettings) {}

  /** The first access problem seen, if any. */
  get problem(): KafkaAccessError | undefined {
    return this.#problem;
  }

  /** Feeds one error event of the client (a bare name, such as "authentication failure"). */
  readonly observe = (error: unknown): void => {
    this.#problem ??= accessErrorOf(error, this.settings);
  };

  /**
   * Feeds one line of the client's log ('event.log'): where librdkafka says what went wrong, e.g.
   * "SASL authentication error: Authentication failed ... invalid credentials". A detailed line
   * replaces what a bare error event said.
   */
  readonly observeLog = (line: { message?: string }): void => {
    const text = line.message ?? '';
    if (this.#closedAtFirstRequest(text)) {
      // Seen once per broker until something else happens: it may show only once or twice
      // before a call gives up; a different connection error afterwards clears it.
      this.#protocolHints++;
      this.#suspect = accessError('protocol', this.settings, detail({ message: text }), { message: text });
      if (this.#protocolHints >= 3) this.#problem ??= this.#suspect;
      return;
    }
    if (/Connect to .* failed|Connection refused|timed out/i.test(text)) this.#suspect = undefined;
    const problem = accessErrorOf({ message: text }, this.settings);
    if (problem && !this.#detailed) {
      this.#problem = problem;
      this.#detailed = true;
    }
  };

  /**
   * The broker hung up on the first request (ApiVersion) of a client that speaks no TLS: what a
   * TLS listener does with plaintext. Older librdkafka says so itself; newer says only
   * "Disconnected ... in state APIVERSION_QUERY".
   */
  #closedAtFirstRequest(text: string): boolean {
    if (/Disconnected while requesting ApiVersion.*security\.protocol/i.test(text)) return true;
    return /Disconnected\b.*in state APIVERSION_QUERY/.test(text) && !this.settings.securityProtocol.endsWith('ssl');
  }

  /**
   * What to report for a failed call: the error if it is an access problem itself, else the
   * problem seen meanwhile, or what the last connection trouble suggested (the call failed, so it
   * was no passing trouble), else the error.
   */
  explain(error: unknown): unknown {
    return accessErrorOf(error, this.settings) ?? this.#problem ?? this.#suspect ?? error;
  }
}
