/**
 * Dead-letter records: the rejected message exactly as it arrived (same key, value and
 * timestamp), with headers that say why and where it came from, so it can be inspected, fixed
 * and replayed.
 */
import type { kafka } from '@eric/shared';

export function deadLetterHeaders(source: kafka.Message, rejection: { reason: string; detail: string }): kafka.MessageHeader[] {
  return [
    { 'eric.reason': rejection.reason },
    { 'eric.detail': rejection.detail },
    { 'eric.source.topic': source.topic },
    { 'eric.source.partition': String(source.partition) },
    { 'eric.source.offset': String(source.offset) },
    { 'eric.rejected.at': new Date().toISOString() },
  ];
}
