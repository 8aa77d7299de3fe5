import { describe, expect, it } from 'vitest';
import { AccessWatch, KafkaAccessError, TopicAdmin, accessErrorOf, kafka, type KafkaSettings } from '@eric/shared';

const settings: KafkaSettings = {
  brokers: '127.0.0.1:19301',
  clientId: 'eric-producer',
  securityProtocol: 'sasl_ssl',
  saslMechanism: 'SCRAM-SHA-512',
  saslUsername: 'producer',
  saslPassword: 's3cret-never-logged',
  sslCaLocation: '/etc/eric/ca.pem',
  replicationFactor: -1,
};
const { ErrorCode } = kafka;

function clientError(code: number, message: string): Error & { code: number } {
  return Object.assign(new Error(message), { code });
}

describe('accessErrorOf', () => {
  it('names the SASL settings when Kafka refuses the credentials, without the password', () => {
    const error = accessErrorOf(
      clientError(ErrorCode.ERR__AUTHENTICATION, 'SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 3ms in state AUTH_REQ)'),
      settings,
    );
    expect(error).toBeInstanceOf(KafkaAccessError);
    expect(error!.setting).toBe('KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD');
    expect(error!.message).toMatch(/user "producer".*KAFKA_SASL_PASSWORD/);
    expect(error!.message).not.toMatch(/after 3ms/);
    expect(error!.message).not.toContain(settings.saslPassword);
  });

  it('names the CA setting when the brokers\' certificate is not trusted', () => {
    const error = accessErrorOf(
      clientError(ErrorCode.ERR__SSL, 'ssl://127.0.0.1:19301/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified'),
      settings,
    );
    expect(error!.setting).toBe('KAFKA_SSL_CA_LOCATION');
    expect(error!.message).toContain('/etc/eric/ca.pem');
  });

  it('names the protocol when a TLS client meets a listener without TLS', () => {
    const error = accessErrorOf(clientError(ErrorCode.ERR__SSL, 'SSL handshake failed: error:0A00010B:SSL routines::wrong version number'), settings);
    expect(error!.setting).toBe('KAFKA_SECURITY_PROTOCOL');
  });

  it('takes a connection closed at the first request for a protocol mismatch only when it repeats', () => {
    const closed = clientError(
      ErrorCode.ERR__TRANSPORT,
      'Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10 (see api.version.request)',
    );
    expect(accessErrorOf(closed, settings, 1)).toBeUndefined();
    expect(accessErrorOf(closed, settings, 3)!.setting).toBe('KAFKA_SECURITY_PROTOCOL');
  });

  it('names the user when the ACLs refuse it', () => {
    const error = accessErrorOf(clientError(ErrorCode.ERR_TOPIC_AUTHORIZATION_FAILED, 'Broker: Topic authorization failed'), settings);
    expect(error!.setting).toBe('KAFKA_SASL_USERNAME');
    expect(error!.message).toContain('"producer"');
  });

  it('leaves outages alone', () => {
    expect(accessErrorOf(clientError(ErrorCode.ERR__TRANSPORT, 'Connection refused'), settings, 10)).toBeUndefined();
    expect(accessErrorOf(clientError(ErrorCode.ERR__TIMED_OUT, 'Local: Timed out'), settings)).toBeUndefined();
    expect(accessErrorOf(clientError(ErrorCode.ERR__ALL_BROKERS_DOWN, 'all brokers down'), settings)).toBeUndefined();
  });
});

describe('AccessWatch', () => {
  it('explains a call that timed out by the access problem seen meanwhile', () => {
    const watch = new AccessWatch(settings);
    const timeout = clientError(ErrorCode.ERR__TIMED_OUT, 'Local: Timed out');
    expect(watch.explain(timeout)).toBe(timeout);
    watch.observe(clientError(ErrorCode.ERR__TRANSPORT, 'Connection refused'));
    expect(watch.problem).toBeUndefined();
    watch.observe(clientError(ErrorCode.ERR__SSL, 'SSL handshake failed: certificate verify failed'));
    expect((watch.explain(timeout) as KafkaAccessError).setting).toBe('KAFKA_SSL_CA_LOCATION');
  });

  it('counts repeated connection closes', () => {
    const watch = new AccessWatch(settings);
    const closed = clientError(ErrorCode.ERR__TRANSPORT, 'Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration');
    watch.observe(closed);
    watch.observe(closed);
    expect(watch.problem).toBeUndefined();
    watch.observe(closed);
    expect(watch.problem?.setting).toBe('KAFKA_SECURITY_PROTOCOL');
  });
});

describe('AccessWatch after a failed call', () => {
  it('takes a single connection close at the first request as the cause of a call that timed out', () => {
    const watch = new AccessWatch(settings);
    watch.observe(clientError(ErrorCode.ERR__TRANSPORT, 'Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration'));
    watch.observe(clientError(ErrorCode.ERR__ALL_BROKERS_DOWN, '3/3 brokers are down'));
    expect(watch.problem).toBeUndefined();
    const timeout = clientError(ErrorCode.ERR__TIMED_OUT, 'Local: Timed out');
    expect((watch.explain(timeout) as KafkaAccessError).setting).toBe('KAFKA_SECURITY_PROTOCOL');
  });

  it('forgets it when a later connection error says something else', () => {
    const watch = new AccessWatch(settings);
    watch.observe(clientError(ErrorCode.ERR__TRANSPORT, 'Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration'));
    watch.observe(clientError(ErrorCode.ERR__TRANSPORT, 'Connect to ipv4#127.0.0.1:19301 failed: Connection refused'));
    const timeout = clientError(ErrorCode.ERR__TIMED_OUT, 'Local: Timed out');
    expect(watch.explain(timeout)).toBe(timeout);
  });
});

describe('a CA file that cannot be read', () => {
  it('is named when the first Kafka client is made, not reported as "Local: Erroneous state"', () => {
    expect(() => new TopicAdmin({ ...settings, sslCaLocation: '/nonexistent/eric-ca.pem' })).toThrow(/KAFKA_SSL_CA_LOCATION=\/nonexistent\/eric-ca.pem cannot be read/);
  });
});
