/**
 * The gateway's configuration: one convict schema, every key settable by an environment variable.
 * `loadGatewayConfig()` fails at start with a message naming the variable of every bad value.
 */
import {
  httpConfigSchema,
  kafkaConfigSchema,
  loadConfig,
  logConfigSchema,
  tokenListFormat,
  topicNameSchema,
  type LoadOptions,
} from '@eric/shared';
import { parseAllowedOrigins } from './origin-policy.js';

/** A malformed origin list stops the gateway at start, naming the variable. */
function originsFormat(value: unknown): void {
  if (typeof value !== 'string') throw new Error('must be a string');
  parseAllowedOrigins(value);
}

export const gatewayConfigSchema = {
  kafka: kafkaConfigSchema('eric-gateway'),
  http: httpConfigSchema(6066),
  log: logConfigSchema,
  topics: {
    activeVisitors: topicNameSchema.activeVisitors,
  },
  history: {
    seconds: {
      doc: 'On start, read active-visitors back this far (by record timestamp) to rebuild the view; windows that ended longer ago than this are evicted.',
      format: 'positive-int',
      default: 3600,
      env: 'GATEWAY_HISTORY_SECONDS',
    },
    maxKeys: {
      doc: 'Upper bound of (account, store, window) keys held; beyond it the oldest windows are evicted first.',
      format: 'positive-int',
      default: 200_000,
      env: 'GATEWAY_MAX_KEYS',
    },
  },
  ws: {
    snapshotWindows: {
      doc: 'How many of the most recent windows a client receives on connect (and after changing its filter).',
      format: 'positive-int',
      default: 30,
      env: 'GATEWAY_SNAPSHOT_WINDOWS',
    },
    maxPayloadBytes: {
      doc: 'Largest message a client may send, in bytes; a bigger frame closes the connection with code 1009.',
      format: 'positive-int',
      default: 4096,
      env: 'GATEWAY_WS_MAX_PAYLOAD_BYTES',
    },
    maxBufferedBytes: {
      doc: 'Bytes that may wait in one client\'s send queue; a client that falls further behind is disconnected (code 1008).',
      format: 'positive-int',
      default: 1_048_576,
      env: 'GATEWAY_WS_MAX_BUFFERED_BYTES',
    },
    maxClients: {
      doc: 'Most websocket clients at once; one more is closed at once with 1013 (try again later).',
      format: 'positive-int',
      default: 20_000,
      env: 'GATEWAY_WS_MAX_CLIENTS',
    },
    pingIntervalSeconds: {
      doc: 'Seconds between websocket pings; a client that has not answered the previous ping is dropped.',
      format: 'positive-number',
      default: 30,
      env: 'GATEWAY_WS_PING_INTERVAL_SECONDS',
    },
  },
  auth: {
    tokens: {
      doc: 'Access tokens and the accounts each may see, "token=1,2;other=*", each of at least 22 characters (128 random bits); unset or empty = access control off (a warning at start), set but without a token (";") = an error.',
      format: tokenListFormat,
      default: '',
      sensitive: true,
      env: 'GATEWAY_AUTH_TOKENS',
    },
    allowedOrigins: {
      doc: 'Web origins besides the gateway\'s own host whose pages may use /ws and /api, comma-separated ("https://dash.example.com,http://localhost:3000"); * = any. Requests without an Origin (no browser) are not checked.',
      format: originsFormat,
      default: '',
      env: 'GATEWAY_ALLOWED_ORIGINS',
    },
    maxRefusals: {
      doc: 'Refused tokens (401) one client address may present per GATEWAY_AUTH_REFUSAL_WINDOW_SECONDS; beyond, every /ws and /api request from it gets 429 until the window ends.',
      format: 'positive-int',
      default: 10,
      env: 'GATEWAY_AUTH_MAX_REFUSALS',
    },
    refusalWindowSeconds: {
      doc: 'Seconds, from an address\'s first refused token, in which GATEWAY_AUTH_MAX_REFUSALS refusals throttle it.',
      format: 'positive-int',
      default: 60,
      env: 'GATEWAY_AUTH_REFUSAL_WINDOW_SECONDS',
    },
  },
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(options: LoadOptions = {}) {
  return loadConfig(gatewayConfigSchema, options);
}
