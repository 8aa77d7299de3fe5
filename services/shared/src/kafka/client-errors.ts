/**
 * librdkafka reports trouble it handles itself (a broker connection dropped, all brokers down,
 * a request timed out) as 'event.error' events: dozens a second while a broker is away, and
 * nothing to act on, since the client reconnects and retries by itself. They are logged as
 * warnings, each distinct message at most once per interval with the number left out, so an
 * outage stays readable in the log. Fatal errors are logged at error level every time: they
 * name the cause that a later call only reports as "Local: Fatal error".
 */
import type { Logger } from 'pino';
import { Producer, isFatal, type KafkaConsumer, type LibrdKafkaError } from './rdkafka.js';

export function logClientErrors(client: Producer | KafkaConsumer, logger: Logger, what: string, intervalMs = 10_000): void {
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  const onError = (error: LibrdKafkaError): void => {
    if (isFatal(error)) {
      logger.error({ err: error }, `${what}: fatal Kafka client error`);
      return;
    }
    const now = Date.now();
    const seen = lastLogged.get(error.message);
    if (seen && now - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    logger.warn({ err: error, sameErrorsNotLogged: seen?.suppressed ?? 0 }, `${what}: Kafka client error (the client retries by itself)`);
    lastLogged.set(error.message, { at: now, suppressed: 0 });
  };
  // The two client types declare their events apart, so TypeScript cannot call `on` on the union.
  if (client instanceof Producer) client.on('event.error', onError);
  else client.on('event.error', onError);
}
