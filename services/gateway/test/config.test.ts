import { ConfigError } from '@eric/shared';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config.js';

describe('gateway config', () => {
  it('has the documented defaults', () => {
    const config = loadGatewayConfig({ env: {} });
    expect(config.http.port).toBe(6066);
    expect(config.topics.activeVisitors).toBe('active-visitors');
    expect(config.history).toEqual({ seconds: 3600, maxKeys: 200_000 });
    expect(config.ws).toEqual({
      snapshotWindows: 30,
      maxPayloadBytes: 4096,
      maxBufferedBytes: 1_048_576,
      memoryBudgetBytes: 134_217_728,
      maxClients: 10_000,
      messagesPerSecond: 2,
      messageBurst: 10,
      snapshotMaxKeys: 50_000,
      pingIntervalSeconds: 30,
    });
    expect(config.rest).toEqual({ requestsPerMinute: 120 });
    expect(config.auth.tokens).toBe('');
  });

  it('reads every gateway key from its variable', () => {
    const config = loadGatewayConfig({
      env: {
        TOPIC_ACTIVE_VISITORS: 'av-test',
        GATEWAY_HISTORY_SECONDS: '600',
        GATEWAY_MAX_KEYS: '10',
        GATEWAY_SNAPSHOT_WINDOWS: '5',
        GATEWAY_WS_MAX_PAYLOAD_BYTES: '1024',
        GATEWAY_WS_MAX_BUFFERED_BYTES: '65536',
        GATEWAY_WS_MAX_CLIENTS: '3',
        GATEWAY_WS_MEMORY_BUDGET_BYTES: '1048576',
        GATEWAY_WS_MESSAGES_PER_SECOND: '0.5',
        GATEWAY_WS_MESSAGE_BURST: '4',
        GATEWAY_SNAPSHOT_MAX_KEYS: '100',
        GATEWAY_REST_REQUESTS_PER_MINUTE: '7',
        GATEWAY_WS_PING_INTERVAL_SECONDS: '0.5',
        GATEWAY_AUTH_TOKENS: 'secret-token-0123456789ab=1,2',
      },
    });
    expect(config.topics.activeVisitors).toBe('av-test');
    expect(config.history).toEqual({ seconds: 600, maxKeys: 10 });
    expect(config.ws).toEqual({
      snapshotWindows: 5,
      maxPayloadBytes: 1024,
      maxBufferedBytes: 65536,
      memoryBudgetBytes: 1_048_576,
      maxClients: 3,
      messagesPerSecond: 0.5,
      messageBurst: 4,
      snapshotMaxKeys: 100,
      pingIntervalSeconds: 0.5,
    });
    expect(config.rest).toEqual({ requestsPerMinute: 7 });
    expect(config.auth.tokens).toBe('secret-token-0123456789ab=1,2');
  });

  it.each([
    ['GATEWAY_HISTORY_SECONDS', '0'],
    ['GATEWAY_WS_MAX_BUFFERED_BYTES', 'lots'],
    ['GATEWAY_WS_PING_INTERVAL_SECONDS', '-1'],
    ['GATEWAY_AUTH_TOKENS', 'hunter2-but-no-accounts'],
    ['GATEWAY_AUTH_TOKENS', ';'], // set but no token: not "off"
    ['GATEWAY_AUTH_TOKENS', ' ; '],
    ['GATEWAY_AUTH_TOKENS', 'hunter2-too-short=*'], // under 22 characters (128 bits)
    ['GATEWAY_ALLOWED_ORIGINS', 'dash.example.com'],
    ['GATEWAY_AUTH_MAX_REFUSALS', '0'],
    ['GATEWAY_AUTH_REFUSAL_WINDOW_SECONDS', 'soon'],
    ['GATEWAY_WS_MEMORY_BUDGET_BYTES', '8191'], // not even one client's socket write window (8 KiB)
    ['GATEWAY_WS_MESSAGES_PER_SECOND', '0'],
    ['GATEWAY_SNAPSHOT_MAX_KEYS', '-5'],
  ])('stops at a bad %s, naming the variable but never the secret', (variable, value) => {
    expect(() => loadGatewayConfig({ env: { [variable]: value } })).toThrow(ConfigError);
    try {
      loadGatewayConfig({ env: { [variable]: value } });
    } catch (error) {
      expect((error as Error).message).toContain(variable);
      if (variable === 'GATEWAY_AUTH_TOKENS') expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
