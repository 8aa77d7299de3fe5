/**
 * How far this count partition has read each partition of `visits`: the largest source offset
 * of a visit that reached it (repartition-records.ts, header `eric.source`). Pure.
 *
 * Why it tells a replay from a late visit. The repartition stage is at least once: after a
 * rebalance (a member that lost its session to a starved CPU, a pod added or gone) or a crash,
 * the next reader of a `visits` partition starts at the committed offset and forwards the visits
 * read since then once more. By then the other partitions may have moved the close clock past
 * their window: without more, the second copy of a visit already counted would be "late".
 *
 * Offsets are committed only after Kafka acknowledged every visit below them, and every reader
 * forwards its partition in offset order through one idempotent producer. So when a visit of
 * source partition p with offset o reaches this partition, every visit of p below o that belongs
 * here is already before it in the repartition topic. Hence: a visit whose offset is at or below
 * the largest offset of its source seen here has been here before — it is a duplicate of a visit
 * that was counted (or, if it came late the first time, reported late then), never a new one.
 *
 * The count stage applies the rule only to a visit whose window is closed (window-counter.ts):
 * a visit of an open window is deduplicated by its id, as always, so a source that is somehow
 * wrong (a `visits` topic deleted and made again, its offsets starting over) can at worst call a
 * truly late visit a duplicate, and never drops a visit that would have counted.
 *
 * What it has seen is committed with each transaction's input offset (checkpoint.ts): a restore
 * starts from what was committed, so a batch read again after an abort is not its own replay.
 */
export type SourceOffsetsSnapshot = Record<number, number>;

export class SourceOffsets {
  readonly #reached = new Map<number, number>();

  /** Whether a visit of `partition` at `offset` was forwarded here before (see above). */
  seen(partition: number, offset: number): boolean {
    const reached = this.#reached.get(partition);
    return reached !== undefined && offset <= reached;
  }

  /** A visit of `partition` at `offset` reached this partition. */
  observe(partition: number, offset: number): void {
    const reached = this.#reached.get(partition);
    if (reached === undefined || offset > reached) this.#reached.set(partition, offset);
  }

  /** What to commit: the largest offset seen, per source partition. */
  snapshot(): SourceOffsetsSnapshot {
    return Object.fromEntries(this.#reached);
  }

  /** Forgets everything, then starts again from what was committed (if anything). */
  restore(snapshot: SourceOffsetsSnapshot | undefined): void {
    this.#reached.clear();
    for (const [partition, offset] of Object.entries(snapshot ?? {})) this.#reached.set(Number(partition), offset);
  }
}
