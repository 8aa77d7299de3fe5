/**
 * The visits a batch did not count because their window was full (AGGREGATOR_MAX_IDS_PER_WINDOW),
 * packed for the dead-letter topic: per window, as few records as fit under
 * MAX_CAPPED_RECORD_BYTES each, every record's value a JSON array of the visits as `visits` takes
 * them (the contract's four fields).
 *
 * Why packed: a flood of new ids is exactly when visits are refused by the hundred thousand, and a
 * Kafka record per refused visit made the dead letters of one batch — a whole transaction's worth
 * waiting in the producer's queue — most of the count stage's memory (docs/benchmarks.md). As on
 * the changelog and the repartition topic, the visits of a batch travel together.
 *
 * Why a JSON array rather than a JSON line per visit: a record is then one line in every Kafka
 * command-line tool, with its headers beside it, so an operator can pick the records of this
 * reason with grep and unpack them with `jq -c '.[]'` (docs/operations.md); and a record is whole
 * or unreadable, never silently short of its last visits.
 *
 * Pure, one per batch: the window counter adds each refused visit as it meets it, and takes the
 * records at the end of the batch. Only the JSON text is kept, so the visits themselves can go.
 */
import type { Visit } from '@eric/shared';
import { visitJson } from '../repartition-records.js';
import { encodeWindowKey, type WindowKey } from './windows.js';

/** A packed record's value stays below this (Kafka's default limit for a record is 1 MB). */
export const MAX_CAPPED_RECORD_BYTES = 256 * 1024;

/** The refused visits of one window, for one dead-letter record. */
export interface CappedRecord {
  window: WindowKey;
  /** How many visits `value` holds. */
  visits: number;
  /** The offsets of the first and the last repartition record that carried them. */
  firstOffset: number;
  lastOffset: number;
  /** The visits, in the order they were read, as a JSON array. */
  value: Buffer;
}

interface Pack {
  window: WindowKey;
  json: string[];
  /** The array's length in bytes so far, its closing bracket included. */
  bytes: number;
  firstOffset: number;
  lastOffset: number;
}

export class CappedVisits {
  readonly #packs = new Map<string, Pack>();
  readonly #full: CappedRecord[] = [];
  #visits = 0;

  /** Visits added. */
  get visits(): number {
    return this.#visits;
  }

  /** A visit refused in `window`, carried by the record at `offset`. */
  add(window: WindowKey, visit: Visit, offset: number): void {
    const json = visitJson(visit);
    const bytes = Buffer.byteLength(json) + 1; // and a comma, or the closing bracket
    const mapKey = encodeWindowKey(window);
    let pack = this.#packs.get(mapKey);
    if (pack && pack.bytes + bytes > MAX_CAPPED_RECORD_BYTES) {
      this.#full.push(seal(pack));
      pack = undefined;
    }
    if (!pack) {
      pack = { window, json: [], bytes: 1, firstOffset: offset, lastOffset: offset };
      this.#packs.set(mapKey, pack);
    }
    pack.json.push(json);
    pack.bytes += bytes;
    pack.lastOffset = offset;
    this.#visits++;
  }

  /** The records of every visit added, at the end of the batch: the full ones first, then one per window. */
  records(): CappedRecord[] {
    const records = [...this.#full, ...[...this.#packs.values()].map(seal)];
    this.#full.length = 0;
    this.#packs.clear();
    return records;
  }
}

function seal({ window, json, firstOffset, lastOffset }: Pack): CappedRecord {
  return { window, visits: json.length, firstOffset, lastOffset, value: Buffer.from(`[${json.join(',')}]`) };
}
