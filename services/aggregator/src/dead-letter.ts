/**
 * Dead-letter records: the rejected message as it arrived (same key, value and timestamp), with
 * headers that say why and where it came from, so it can be inspected, fixed and replayed.
 *
 * Key and value are cut to their first DEAD_LETTER_MAX_BYTES, and a cut one says its original
 * length in a header (`eric.original.size`, `eric.original.key.size`). Without the cut, a message
 * rejected for its size could not be copied at all: one between librdkafka's `message.max.bytes`
 * (1 000 000) and the broker's limit is readable from `visits` but refused by our producer, and
 * the stage that must copy it would fail on it after every restart. 16 KiB is the largest visit
 * accepted by default (VISIT_MAX_BYTES), so a valid-sized message is always copied whole.
 *
 * The repartition stage copies invalid input so. The count stage dead-letters the visits over the
 * cap of ids per window (its source is then the repartition topic) as *packed* letters: the
 * visits of one window and one transaction together, a JSON array of up to 256 KiB that is never
 * cut (count/capped-visits.ts says why), with the same headers plus the last source offset, the
 * number of visits and what the caller adds (the window).
 */
import type { kafka } from '@eric/shared';

export const DEAD_LETTER_MAX_BYTES = 16 * 1024;
/** `eric.detail` is a sentence; a longer one is cut, so headers stay small too. */
const DETAIL_MAX_CHARS = 1024;

/** Where a rejected message was read. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: number;
}

export interface Rejection {
  reason: string;
  detail: string;
}

export interface DeadLetter {
  source: DeadLetterSource;
  reason: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number | undefined;
  headers: kafka.MessageHeader[];
}

/** What a message carried, as the native client gives it. */
export interface Payload {
  key?: Buffer | string | null;
  value: Buffer | null | undefined;
  timestamp?: number;
}

/** The dead-letter record of a rejected message: its payload cut to DEAD_LETTER_MAX_BYTES, and why. */
export function deadLetter(source: DeadLetterSource, rejection: Rejection, payload: Payload, rejectedAt = new Date()): DeadLetter {
  const key = payload.key === undefined || payload.key === null ? null : Buffer.isBuffer(payload.key) ? payload.key : Buffer.from(payload.key);
  const value = payload.value ?? null;
  const headers = commonHeaders(source, rejection, rejectedAt);
  if (value && value.length > DEAD_LETTER_MAX_BYTES) headers.push({ 'eric.original.size': String(value.length) });
  if (key && key.length > DEAD_LETTER_MAX_BYTES) headers.push({ 'eric.original.key.size': String(key.length) });
  return { source, reason: rejection.reason, key: cut(key), value: cut(value), timestamp: payload.timestamp, headers };
}

/** Where the messages of a packed letter were read: offsets `offset` to `lastOffset` of one partition. */
export interface DeadLetterRange extends DeadLetterSource {
  lastOffset: number;
}

/** What a packed letter carries: `visits` messages in one value, for one key. */
export interface PackedPayload {
  key: string;
  value: Buffer;
  visits: number;
  /** Headers of the caller's own (e.g. the window), after the common ones. */
  headers: kafka.MessageHeader[];
}

/** The dead-letter record of many messages refused for one reason together; the value is not cut. */
export function packedDeadLetter(source: DeadLetterRange, rejection: Rejection, payload: PackedPayload, rejectedAt = new Date()): DeadLetter {
  const headers = commonHeaders(source, rejection, rejectedAt);
  headers.push({ 'eric.source.offset.last': String(source.lastOffset) }, { 'eric.visits': String(payload.visits) }, ...payload.headers);
  const { topic, partition, offset } = source;
  return { source: { topic, partition, offset }, reason: rejection.reason, key: Buffer.from(payload.key), value: payload.value, timestamp: undefined, headers };
}

function commonHeaders(source: DeadLetterSource, rejection: Rejection, rejectedAt: Date): kafka.MessageHeader[] {
  return [
    { 'eric.reason': rejection.reason },
    { 'eric.detail': rejection.detail.slice(0, DETAIL_MAX_CHARS) },
    { 'eric.source.topic': source.topic },
    { 'eric.source.partition': String(source.partition) },
    { 'eric.source.offset': String(source.offset) },
    { 'eric.rejected.at': rejectedAt.toISOString() },
  ];
}

/**
 * The last copy of a dead letter that Kafka refused (a topic limit below 16 KiB, a record the
 * broker calls invalid): the headers alone, with the sizes of what was left out and the refusal,
 * so that the record's origin, reason and size still reach the topic.
 */
export function withoutPayload(letter: DeadLetter, refusal: string): DeadLetter {
  const sized = (name: string, copied: Buffer | null) => letter.headers.find((header) => name in header)?.[name]?.toString() ?? String(copied?.length ?? 0);
  const others = letter.headers.filter((header) => !('eric.original.size' in header) && !('eric.original.key.size' in header));
  return {
    ...letter,
    key: null,
    value: null,
    headers: [
      ...others,
      { 'eric.original.size': sized('eric.original.size', letter.value) },
      { 'eric.original.key.size': sized('eric.original.key.size', letter.key) },
      { 'eric.payload.dropped': refusal.slice(0, DETAIL_MAX_CHARS) },
    ],
  };
}

function cut(bytes: Buffer | null): Buffer | null {
  return bytes && bytes.length > DEAD_LETTER_MAX_BYTES ? bytes.subarray(0, DEAD_LETTER_MAX_BYTES) : bytes;
}
