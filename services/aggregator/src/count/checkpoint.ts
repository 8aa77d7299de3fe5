/**
 * The restore checkpoint of a count partition, stored as the metadata of its committed input
 * offset: where in the changelog the records of the windows then open begin, and what the close
 * clock was. It is committed in the same transaction as the state it describes, so a restore
 * that starts from it reads only the records of open windows and never reopens a closed one.
 * It also holds how far each partition of `visits` had reached this partition (source-offsets.ts),
 * so that a replay is told from a late visit after a restart too.
 */
import type { SourceOffsetsSnapshot } from './source-offsets.js';

export interface Checkpoint {
  /** Changelog offset at or before the first record of every window open at the commit. */
  restoreFrom: number;
  closeClock: number;
  /** Windows that end at or before this are final (see changelog.ts); absent in older checkpoints. */
  finalUntil?: number;
  /** The largest offset seen per partition of `visits`; absent in older checkpoints. */
  sources?: SourceOffsetsSnapshot;
}

const MAX_METADATA_BYTES = 4000;

interface CheckpointJson {
  restore_from: number;
  close_clock: number;
  final_until?: number;
  sources?: Record<string, number>;
}

export function encodeCheckpoint(checkpoint: Checkpoint): string {
  const json: CheckpointJson = { restore_from: checkpoint.restoreFrom, close_clock: checkpoint.closeClock };
  if (checkpoint.finalUntil !== undefined && Number.isFinite(checkpoint.finalUntil)) json.final_until = checkpoint.finalUntil;
  const withoutSources = JSON.stringify(json);
  if (!checkpoint.sources || Object.keys(checkpoint.sources).length === 0) return withoutSources;
  const withSources = JSON.stringify({ ...json, sources: checkpoint.sources });
  // The broker refuses metadata over offset.metadata.max.bytes (4 096 by default), and a refused
  // commit aborts the transaction: past that (hundreds of partitions of visits) the source offsets
  // are left out, and after a restart replays are told from late visits only once seen again.
  return withSources.length <= MAX_METADATA_BYTES ? withSources : withoutSources;
}

/** The checkpoint in a committed offset's metadata, if there is a readable one. */
export function parseCheckpoint(metadata: string | null | undefined): Checkpoint | undefined {
  if (!metadata) return undefined;
  try {
    const { restore_from, close_clock, final_until, sources } = JSON.parse(metadata) as Partial<CheckpointJson>;
    if (typeof restore_from !== 'number' || restore_from < 0) return undefined;
    // A clock that had not started is written as null (JSON has no -Infinity).
    const checkpoint: Checkpoint = { restoreFrom: restore_from, closeClock: typeof close_clock === 'number' ? close_clock : Number.NEGATIVE_INFINITY };
    if (typeof final_until === 'number') checkpoint.finalUntil = final_until;
    const readSources = parseSources(sources);
    if (readSources) checkpoint.sources = readSources;
    return checkpoint;
  } catch {
    return undefined;
  }
}

/** Source offsets as committed; an entry that is not a partition and an offset is left out. */
function parseSources(sources: unknown): SourceOffsetsSnapshot | undefined {
  if (typeof sources !== 'object' || sources === null) return undefined;
  const parsed: SourceOffsetsSnapshot = {};
  for (const [partition, offset] of Object.entries(sources)) {
    if (/^\d+$/.test(partition) && Number.isSafeInteger(offset) && (offset as number) >= 0) parsed[Number(partition)] = offset as number;
  }
  return parsed;
}
