/**
 * The gateway's configuration: one convict schema, every key settable by an environment variable.
 * `loadGatewayConfig()` fails at start with a message naming the variable of every bad value.
 */
import {
  httpConfigSchema,
  kafkaConfigSchema,
  loadConfig,
  logConfigSchema,
  topicNameSchema,
  type LoadOptions,
} from '@eric/shared';
import { parseTokens } from './access.js';

/**
 * Validated at load time so that a malformed token list stops the gateway at start, naming the
 * variable. parseTokens' messages never quote a token: the value is a secret.
 */
function tokensFormat(value: unknown): void {
  if (typeof value !== 'string') throw new Error('must be a string');
  parseTokens(value);
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
      doc: 'Access tokens and the accounts each may see, "token=1,2;other=*"; empty = access control off.',
      format: tokensFormat,
      default: '',
      sensitive: true,
      env: 'GATEWAY_AUTH_TOKENS',
    },
  },
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(options: LoadOptions = {}) {
  return loadConfig(gatewayConfigSchema, options);
}
