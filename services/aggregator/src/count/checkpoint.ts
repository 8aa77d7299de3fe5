/**
 * The restore checkpoint of a count partition, stored as the metadata of its committed input
 * offset: where in the changelog the records of the windows then open begin, and what the close
 * clock was. It is committed in the same transaction as the state it describes, so a restore
 * that starts from it reads only the records of open windows and never reopens a closed one.
 */
export interface Checkpoint {
  /** Changelog offset at or before the first record of every window open at the commit. */
  restoreFrom: number;
  closeClock: number;
  /** Windows that end at or before this are final (see changelog.ts); absent in older checkpoints. */
  finalUntil?: number;
}

interface CheckpointJson {
  restore_from: number;
  close_clock: number;
  final_until?: number;
}

export function encodeCheckpoint(checkpoint: Checkpoint): string {
  const json: CheckpointJson = { restore_from: checkpoint.restoreFrom, close_clock: checkpoint.closeClock };
  if (checkpoint.finalUntil !== undefined && Number.isFinite(checkpoint.finalUntil)) json.final_until = checkpoint.finalUntil;
  return JSON.stringify(json);
}

/** The checkpoint in a committed offset's metadata, if there is a readable one. */
export function parseCheckpoint(metadata: string | null | undefined): Checkpoint | undefined {
  if (!metadata) return undefined;
  try {
    const { restore_from, close_clock, final_until } = JSON.parse(metadata) as Partial<CheckpointJson>;
    if (typeof restore_from !== 'number' || restore_from < 0) return undefined;
    // A clock that had not started is written as null (JSON has no -Infinity).
    const checkpoint: Checkpoint = { restoreFrom: restore_from, closeClock: typeof close_clock === 'number' ? close_clock : Number.NEGATIVE_INFINITY };
    if (typeof final_until === 'number') checkpoint.finalUntil = final_until;
    return checkpoint;
  } catch {
    return undefined;
  }
}
