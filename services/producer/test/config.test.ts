import { ConfigError } from '@eric/shared';
import { describe, expect, it } from 'vitest';
import { loadProducerConfig, parseAccountIds, parseStoreIds, producerConfigSchema } from '../src/config.js';

describe('producer config', () => {
  it('has working defaults: port 6060, ingestion only, the original account and store', () => {
    const config = loadProducerConfig({ env: {} });
    expect(config.http.port).toBe(6060);
    expect(config.topics.visits).toBe('visits');
    expect(config.generator).toEqual({ rate: 0, accountIds: [352], storeIds: ['default'], duplicates: 0, late: 0, lateBySeconds: 120 });
    expect(config.ingest).toEqual({
      bodyLimitBytes: 1_048_576,
      maxVisits: 10_000,
      retryAfterSeconds: 1,
      keys: '',
      maxFutureSeconds: 60,
      requestTimeoutMs: 10_000,
      clientRequestsPerSecond: 100,
      accountVisitsPerSecond: 1000,
      accountBurstSeconds: 10,
      maxTrackedClients: 10_000,
      maxTrackedAccounts: 10_000,
    });
    expect(config.delivery).toEqual({ timeoutMs: 10_000, lingerMs: 5, maxQueued: 100_000 });
  });

  it('reads every key from its environment variable', () => {
    const config = loadProducerConfig({
      env: {
        PRODUCER_RATE: '20',
        PRODUCER_ACCOUNT_IDS: '1, 2,3',
        PRODUCER_STORE_IDS: 'us,uk',
        PRODUCER_DUPLICATES: '0.1',
        PRODUCER_LATE: '0.05',
        PRODUCER_LATE_BY_SECONDS: '300',
        PRODUCER_INGEST_BODY_LIMIT_BYTES: '2048',
        PRODUCER_INGEST_MAX_VISITS: '10',
        PRODUCER_RETRY_AFTER_SECONDS: '3',
        PRODUCER_INGEST_KEYS: 'abcdefghijklmnopqrstuvwxyz=1,2',
        PRODUCER_INGEST_MAX_FUTURE_SECONDS: '5',
        PRODUCER_INGEST_REQUEST_TIMEOUT_MS: '2000',
        PRODUCER_INGEST_CLIENT_REQUESTS_PER_SECOND: '0',
        PRODUCER_INGEST_ACCOUNT_VISITS_PER_SECOND: '2.5',
        PRODUCER_INGEST_ACCOUNT_BURST_SECONDS: '4',
        PRODUCER_INGEST_MAX_TRACKED_CLIENTS: '7',
        PRODUCER_INGEST_MAX_TRACKED_ACCOUNTS: '8',
        PRODUCER_DELIVERY_TIMEOUT_MS: '5000',
        PRODUCER_LINGER_MS: '0',
        PRODUCER_MAX_QUEUED_VISITS: '500',
        HTTP_PORT: '7000',
        TOPIC_VISITS: 'v2',
      },
    });
    expect(config.generator).toEqual({ rate: 20, accountIds: [1, 2, 3], storeIds: ['us', 'uk'], duplicates: 0.1, late: 0.05, lateBySeconds: 300 });
    expect(config.ingest).toEqual({
      bodyLimitBytes: 2048,
      maxVisits: 10,
      retryAfterSeconds: 3,
      keys: 'abcdefghijklmnopqrstuvwxyz=1,2',
      maxFutureSeconds: 5,
      requestTimeoutMs: 2000,
      clientRequestsPerSecond: 0,
      accountVisitsPerSecond: 2.5,
      accountBurstSeconds: 4,
      maxTrackedClients: 7,
      maxTrackedAccounts: 8,
    });
    expect(config.delivery).toEqual({ timeoutMs: 5000, lingerMs: 0, maxQueued: 500 });
    expect(config.http.port).toBe(7000);
    expect(config.topics.visits).toBe('v2');
  });

  it('names the variable of a bad value', () => {
    expect(() => loadProducerConfig({ env: { PRODUCER_RATE: '-1' } })).toThrow(ConfigError);
    expect(() => loadProducerConfig({ env: { PRODUCER_RATE: 'fast' } })).toThrow(/PRODUCER_RATE \(generator.rate\)/);
    expect(() => loadProducerConfig({ env: { PRODUCER_ACCOUNT_IDS: '1,x' } })).toThrow(/PRODUCER_ACCOUNT_IDS .*"x" is not/);
    expect(() => loadProducerConfig({ env: { PRODUCER_ACCOUNT_IDS: '' } })).toThrow(/PRODUCER_ACCOUNT_IDS/);
    expect(() => loadProducerConfig({ env: { PRODUCER_DUPLICATES: '1.5' } })).toThrow(/PRODUCER_DUPLICATES/);
    expect(() => loadProducerConfig({ env: { PRODUCER_INGEST_MAX_VISITS: '0' } })).toThrow(/PRODUCER_INGEST_MAX_VISITS/);
  });

  it('stops at a malformed ingest key list, naming the variable and never quoting a key', () => {
    for (const keys of ['no-equals-sign-in-this-entry', 'short=1', 'abcdefghijklmnopqrstuvwxyz=one']) {
      expect(() => loadProducerConfig({ env: { PRODUCER_INGEST_KEYS: keys } })).toThrow(/PRODUCER_INGEST_KEYS \(ingest.keys\)/);
      try {
        loadProducerConfig({ env: { PRODUCER_INGEST_KEYS: keys } });
      } catch (error) {
        expect((error as Error).message).not.toContain(keys.split('=')[0]);
      }
    }
  });

  it('stops when an account budget could never admit a full-sized request', () => {
    const env = { PRODUCER_INGEST_MAX_VISITS: '1000', PRODUCER_INGEST_ACCOUNT_VISITS_PER_SECOND: '50', PRODUCER_INGEST_ACCOUNT_BURST_SECONDS: '10' };
    expect(() => loadProducerConfig({ env })).toThrow(ConfigError);
    expect(() => loadProducerConfig({ env })).toThrow(/PRODUCER_INGEST_ACCOUNT_BURST_SECONDS.*PRODUCER_INGEST_MAX_VISITS/);
    expect(loadProducerConfig({ env: { ...env, PRODUCER_INGEST_ACCOUNT_VISITS_PER_SECOND: '0' } }).ingest.accountVisitsPerSecond).toBe(0);
  });

  it('documents every key with a doc, a format, a default and an env', () => {
    const check = (node: Record<string, unknown>, path: string): void => {
      if ('default' in node) {
        for (const field of ['doc', 'format', 'env']) expect(node, `${path}.${field}`).toHaveProperty(field);
        return;
      }
      for (const [key, child] of Object.entries(node)) check(child as Record<string, unknown>, path ? `${path}.${key}` : key);
    };
    check(producerConfigSchema as unknown as Record<string, unknown>, '');
  });

  it('parses the id lists', () => {
    expect(parseAccountIds(' 7 ,8,')).toEqual([7, 8]);
    expect(() => parseAccountIds('-1')).toThrow();
    expect(parseStoreIds('')).toEqual([]);
    expect(parseStoreIds('a, b')).toEqual(['a', 'b']);
  });
});
