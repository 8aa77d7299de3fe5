import { describe, expect, it } from 'vitest';
import { ConfigError, describeSchema, loadConfig } from '../src/config.js';
import { httpConfigSchema } from '../src/http/base.js';
import { kafkaConfigSchema, rdkafkaConnectionConfig } from '../src/kafka/settings.js';
import { logConfigSchema } from '../src/logger.js';

const schema = {
  kafka: kafkaConfigSchema('eric-test'),
  http: httpConfigSchema(6066),
  log: logConfigSchema,
  windowSeconds: { doc: 'Window size.', format: 'positive-int', default: 60, env: 'WINDOW_SECONDS' },
  share: { doc: 'A ratio.', format: 'ratio', default: 0.5, env: 'SHARE' },
};

describe('loadConfig', () => {
  it('gives the documented defaults when nothing is set', () => {
    const config = loadConfig(schema, { env: {} });
    expect(config.kafka.brokers).toBe('127.0.0.1:9092');
    expect(config.http).toEqual({ host: '0.0.0.0', port: 6066 });
    expect(config.log.level).toBe('info');
    expect(config.windowSeconds).toBe(60);
  });

  it('reads every key from its environment variable, with types', () => {
    const config = loadConfig(schema, {
      env: { KAFKA_BROKERS: 'kafka-0:9092,kafka-1:9092', HTTP_PORT: '8080', WINDOW_SECONDS: '10', SHARE: '0.25', LOG_LEVEL: 'debug' },
    });
    expect(config.kafka.brokers).toBe('kafka-0:9092,kafka-1:9092');
    expect(config.http.port).toBe(8080);
    expect(config.windowSeconds).toBe(10);
    expect(config.share).toBe(0.25);
    expect(config.log.level).toBe('debug');
  });

  it.each([
    ['KAFKA_BROKERS', 'kafka.brokers', 'localhost', /host:port/],
    ['KAFKA_BROKERS', 'kafka.brokers', 'a:1,b:99999', /"b:99999" is not/],
    ['HTTP_PORT', 'http.port', 'eighty', /port/],
    ['WINDOW_SECONDS', 'windowSeconds', '0', /at least 1/],
    ['WINDOW_SECONDS', 'windowSeconds', 'sixty', /at least 1/],
    ['SHARE', 'share', '1.5', /between 0 and 1/],
    ['LOG_LEVEL', 'log.level', 'loud', /must be one of/],
    ['KAFKA_SECURITY_PROTOCOL', 'kafka.securityProtocol', 'tls', /must be one of/],
  ])('stops on a bad %s with the variable, the key and the value', (env, key, value, reason) => {
    let error: unknown;
    try {
      loadConfig(schema, { env: { [env]: value } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(`${env} (${key})`);
    expect(message).toContain(`"${value}"`);
    expect(message).toMatch(reason);
  });

  it('never prints a secret in an error', () => {
    try {
      loadConfig(schema, { env: { KAFKA_SASL_PASSWORD: 'hunter2', HTTP_PORT: 'x' } });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('lists every key for the documentation', () => {
    const rows = describeSchema(schema);
    expect(rows.find((row) => row.key === 'kafka.brokers')).toMatchObject({ env: 'KAFKA_BROKERS', default: '127.0.0.1:9092' });
    expect(rows.find((row) => row.key === 'kafka.saslPassword')).toMatchObject({ default: '(secret)' });
  });
});

describe('rdkafkaConnectionConfig', () => {
  it('sends SASL settings only when the protocol uses SASL', () => {
    const plain = loadConfig(schema, { env: { KAFKA_SASL_USERNAME: 'u' } }).kafka;
    expect(rdkafkaConnectionConfig(plain)).not.toHaveProperty('sasl.username');
    const sasl = loadConfig(schema, {
      env: { KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SSL_CA_LOCATION: '/ca.pem' },
    }).kafka;
    expect(rdkafkaConnectionConfig(sasl)).toMatchObject({
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'u',
      'sasl.password': 'p',
      'ssl.ca.location': '/ca.pem',
    });
  });
});
