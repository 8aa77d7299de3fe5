/**
 * The binary fields that Eric's internal records share (repartition-records.ts, count/changelog.ts):
 * an account, a store and a visit id, written one after the other, big-endian:
 *
 *   f64 account_id, i32 store length in bytes (-1: null store), store (UTF-8), u16 id length, id (UTF-8)
 *
 * A fixed layout read with Buffer's own methods: no JSON to build or parse on the hot path, and
 * a null store stays apart from an empty one.
 */
const NULL_STORE = -1;

export interface AccountStoreId {
  account_id: number;
  store_id: string | null;
  id: string;
}

/** Bytes that writeAccountStoreId() writes for these values. */
export function accountStoreIdBytes(store_id: string | null, id: string): number {
  return 8 + 4 + (store_id === null ? 0 : Buffer.byteLength(store_id)) + 2 + Buffer.byteLength(id);
}

/** Writes the fields at `at`; returns the offset after them. */
export function writeAccountStoreId(buffer: Buffer, at: number, account_id: number, store_id: string | null, id: string): number {
  at = buffer.writeDoubleBE(account_id, at);
  if (store_id === null) {
    at = buffer.writeInt32BE(NULL_STORE, at);
  } else {
    const length = buffer.write(store_id, at + 4, 'utf8');
    buffer.writeInt32BE(length, at);
    at += 4 + length;
  }
  const length = buffer.write(id, at + 2, 'utf8');
  buffer.writeUInt16BE(length, at);
  return at + 2 + length;
}

/** Reads the fields at `at`, with the offset after them; undefined when the buffer ends first. */
export function readAccountStoreId(buffer: Buffer, at: number): (AccountStoreId & { next: number }) | undefined {
  if (at + 14 > buffer.length) return undefined;
  const account_id = buffer.readDoubleBE(at);
  const storeLength = buffer.readInt32BE(at + 8);
  at += 12;
  let store_id: string | null = null;
  if (storeLength !== NULL_STORE) {
    if (storeLength < 0 || at + storeLength + 2 > buffer.length) return undefined;
    store_id = buffer.toString('utf8', at, at + storeLength);
    at += storeLength;
  }
  const idLength = buffer.readUInt16BE(at);
  at += 2;
  if (at + idLength > buffer.length) return undefined;
  return { account_id, store_id, id: buffer.toString('utf8', at, at + idLength), next: at + idLength };
}

/** A run of items [from, to) that together take `bytes` bytes. */
export interface Chunk {
  from: number;
  to: number;
  bytes: number;
}

/**
 * Splits items, in order, into runs that fit in records of at most `maxBytes` (each record
 * starting with `headerBytes`); an item larger than that gets a record of its own. The size of
 * each item is computed once.
 */
export function chunksUnder<T>(items: readonly T[], bytesOf: (item: T) => number, headerBytes: number, maxBytes: number): Chunk[] {
  const chunks: Chunk[] = [];
  let current: Chunk | undefined;
  items.forEach((item, index) => {
    const bytes = bytesOf(item);
    if (!current || current.bytes + bytes > maxBytes) {
      current = { from: index, to: index, bytes: headerBytes };
      chunks.push(current);
    }
    current.to = index + 1;
    current.bytes += bytes;
  });
  return chunks;
}
