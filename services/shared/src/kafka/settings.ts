/**
 * How a service reaches Kafka: the `kafka` part of every config schema and its translation into
 * librdkafka properties. Credentials come from the environment (a Kubernetes Secret in the chart)
 * and are marked sensitive so convict never prints them.
 */
import type { GlobalConfig } from '@confluentinc/kafka-javascript/types/config.js';

const SECURITY_PROTOCOLS = ['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'] as const;
const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export interface KafkaSettings {
  brokers: string;
  clientId: string;
  securityProtocol: (typeof SECURITY_PROTOCOLS)[number];
  saslMechanism: (typeof SASL_MECHANISMS)[number];
  saslUsername: string;
  saslPassword: string;
  sslCaLocation: string;
  replicationFactor: number;
}

/** The `kafka` part of a service's config schema. */
export function kafkaConfigSchema(defaultClientId: string) {
  return {
    brokers: {
      doc: 'Bootstrap brokers, comma-separated host:port.',
      format: 'broker-list',
      default: '127.0.0.1:9092',
      env: 'KAFKA_BROKERS',
    },
    clientId: {
      doc: 'Client id sent to the brokers (shows in broker logs and quotas).',
      format: String,
      default: defaultClientId,
      env: 'KAFKA_CLIENT_ID',
    },
    securityProtocol: {
      doc: 'plaintext, ssl, sasl_plaintext or sasl_ssl.',
      format: [...SECURITY_PROTOCOLS],
      default: 'plaintext' as KafkaSettings['securityProtocol'],
      env: 'KAFKA_SECURITY_PROTOCOL',
    },
    saslMechanism: {
      doc: 'SASL mechanism when the protocol is sasl_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.',
      format: [...SASL_MECHANISMS],
      default: 'PLAIN' as KafkaSettings['saslMechanism'],
      env: 'KAFKA_SASL_MECHANISM',
    },
    saslUsername: {
      doc: 'SASL user name.',
      format: String,
      default: '',
      env: 'KAFKA_SASL_USERNAME',
    },
    saslPassword: {
      doc: 'SASL password (from a Secret).',
      format: String,
      default: '',
      sensitive: true,
      env: 'KAFKA_SASL_PASSWORD',
    },
    sslCaLocation: {
      doc: 'Path of a PEM file with the CA certificates that sign the brokers\' certificates; empty = system CAs.',
      format: String,
      default: '',
      env: 'KAFKA_SSL_CA_LOCATION',
    },
    replicationFactor: {
      doc: 'Replication factor of the topics a service creates; -1 uses the brokers\' default.replication.factor.',
      format: 'int',
      default: -1,
      env: 'KAFKA_REPLICATION_FACTOR',
    },
  };
}

/** librdkafka's connection and security properties for these settings. */
export function rdkafkaConnectionConfig(settings: KafkaSettings): GlobalConfig {
  const config: GlobalConfig = {
    'bootstrap.servers': settings.brokers,
    'client.id': settings.clientId,
    'security.protocol': settings.securityProtocol,
    // Idle connections closed by the broker are normal; logging each one is noise.
    'log.connection.close': false,
  };
  if (settings.securityProtocol.startsWith('sasl')) {
    config['sasl.mechanisms'] = settings.saslMechanism;
    config['sasl.username'] = settings.saslUsername;
    config['sasl.password'] = settings.saslPassword;
  }
  if (settings.sslCaLocation !== '') config['ssl.ca.location'] = settings.sslCaLocation;
  return config;
}
