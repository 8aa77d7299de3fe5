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
  const timeout = clientError(ErrorCode.ERR__TIMED_OUT, 'Local: Timed out');

  it('explains a call that timed out by the refusal the client reported meanwhile', () => {
    const watch = new AccessWatch(settings);
    expect(watch.explain(timeout)).toBe(timeout);
    // The binding's error events carry only the error's name, and code -1.
    watch.observe(clientError(-1, 'all broker connections are down'));
    expect(watch.problem).toBeUndefined();
    watch.observe(clientError(-1, 'ssl error'));
    expect((watch.explain(timeout) as KafkaAccessError).setting).toBe('KAFKA_SSL_CA_LOCATION');
  });

  it('prefers the detail of the client\'s log', () => {
    const watch = new AccessWatch(settings);
    watch.observe(clientError(-1, 'authentication failure'));
    watch.observeLog({
      message:
        '[thrd:sasl_ssl://127.0.0.1:19302/bootstrap]: sasl_ssl://127.0.0.1:19302/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 339ms in state AUTH_REQ)',
    });
    const problem = watch.explain(timeout) as KafkaAccessError;
    expect(problem.setting).toBe('KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD');
    expect(problem.message).toContain('invalid credentials');
    expect(problem.message).not.toContain(settings.saslPassword);
  });

  it('takes connections closed at their first request for a plaintext client on a TLS listener, once a call failed', () => {
    const watch = new AccessWatch({ ...settings, securityProtocol: 'plaintext' });
    watch.observeLog({ message: '127.0.0.1:19303/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 2ms in state APIVERSION_QUERY)' });
    expect(watch.problem).toBeUndefined();
    expect((watch.explain(timeout) as KafkaAccessError).setting).toBe('KAFKA_SECURITY_PROTOCOL');
  });

  it('forgets that suspicion when a later connection error says something else', () => {
    const watch = new AccessWatch({ ...settings, securityProtocol: 'plaintext' });
    watch.observeLog({ message: '127.0.0.1:19303/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 2ms in state APIVERSION_QUERY)' });
    watch.observeLog({ message: '127.0.0.1:19303/bootstrap: Connect to ipv4#127.0.0.1:19303 failed: Connection refused (after 0ms in state CONNECT)' });
    expect(watch.explain(timeout)).toBe(timeout);
  });

  it('does not suspect a TLS client of speaking plaintext', () => {
    const watch = new AccessWatch(settings);
    watch.observeLog({ message: '127.0.0.1:19303/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 2ms in state APIVERSION_QUERY)' });
    expect(watch.explain(timeout)).toBe(timeout);
  });
});

describe('a CA file that cannot be read', () => {
  it('is named when the first Kafka client is made, not reported as "Local: Erroneous state"', () => {
    expect(() => new TopicAdmin({ ...settings, sslCaLocation: '/nonexistent/eric-ca.pem' })).toThrow(/KAFKA_SSL_CA_LOCATION=\/nonexistent\/eric-ca.pem cannot be read/);
  });
});
