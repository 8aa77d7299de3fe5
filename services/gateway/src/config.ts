/**
 * The gateway's configuration: one convict schema, every key settable by an environment variable.
 * `loadGatewayConfig()` fails at start with a message naming the variable of every bad value.
 */
import {
  ConfigError,
  httpConfigSchema,
  kafkaConfigSchema,
  loadConfig,
  logConfigSchema,
  tokenListFormat,
  topicNameSchema,
  type LoadOptions,
} from '@eric/shared';
import { parseAllowedOrigins } from './origin-policy.js';
import { SOCKET_WRITE_WINDOW } from './send-queue.js';

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
      doc: 'Bytes of live updates that may wait for one client (besides one snapshot); a client that falls further behind is disconnected (code 1008).',
      format: 'positive-int',
      default: 1_048_576,
      env: 'GATEWAY_WS_MAX_BUFFERED_BYTES',
    },
    memoryBudgetBytes: {
      doc: 'Bytes queued for all websocket clients together: frames waiting for a client, plus an 8 KiB socket write window per connection (so it also bounds the number of clients). A client whose queue would overdraw it is closed with 1013.',
      format: 'positive-int',
      default: 134_217_728,
      env: 'GATEWAY_WS_MEMORY_BUDGET_BYTES',
    },
    maxClients: {
      doc: 'Most websocket clients at once; one more is closed at once with 1013 (try again later). At most GATEWAY_WS_MEMORY_BUDGET_BYTES / 8 KiB.',
      format: 'positive-int',
      default: 10_000,
      env: 'GATEWAY_WS_MAX_CLIENTS',
    },
    messagesPerSecond: {
      doc: 'Messages per second one client may send on average (each setFilter costs a snapshot); a client over the limit is disconnected (code 1008).',
      format: 'positive-number',
      default: 2,
      env: 'GATEWAY_WS_MESSAGES_PER_SECOND',
    },
    messageBurst: {
      doc: 'Messages one client may send at once before GATEWAY_WS_MESSAGES_PER_SECOND applies.',
      format: 'positive-int',
      default: 10,
      env: 'GATEWAY_WS_MESSAGE_BURST',
    },
    snapshotMaxKeys: {
      doc: 'Most counts in one snapshot (websocket) and in one REST page; the newest windows are kept.',
      format: 'positive-int',
      default: 50_000,
      env: 'GATEWAY_SNAPSHOT_MAX_KEYS',
    },
    pingIntervalSeconds: {
      doc: 'Seconds between websocket pings; a client that has not answered the previous ping is dropped.',
      format: 'positive-number',
      default: 30,
      env: 'GATEWAY_WS_PING_INTERVAL_SECONDS',
    },
  },
  rest: {
    requestsPerMinute: {
      doc: 'REST snapshot requests (/api/active-visitors) one client address may make per minute; beyond it the answer is 429 with Retry-After.',
      format: 'positive-int',
      default: 120,
      env: 'GATEWAY_REST_REQUESTS_PER_MINUTE',
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
  const config = loadConfig(gatewayConfigSchema, options);
  const { maxClients, memoryBudgetBytes } = config.ws;
  if (maxClients * SOCKET_WRITE_WINDOW > memoryBudgetBytes) {
    // Each connection reserves its socket's write window from the budget: more clients could never all connect.
    throw new ConfigError(
      `GATEWAY_WS_MAX_CLIENTS (ws.maxClients): ${maxClients} clients need ${maxClients * SOCKET_WRITE_WINDOW} bytes of GATEWAY_WS_MEMORY_BUDGET_BYTES (${memoryBudgetBytes}) for their socket write windows alone (${SOCKET_WRITE_WINDOW} bytes each): lower it to at most ${Math.floor(memoryBudgetBytes / SOCKET_WRITE_WINDOW)} or raise the budget`,
    );
  }
  return config;
}
