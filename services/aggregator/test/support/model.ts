/**
 * An independent, deliberately naive model of what the aggregator must output: for each count
 * partition, visits in the order they were produced, a clock that is the largest timestamp seen
 * (a timestamp counts no later than the visit's arrival in Kafka, when the test knows it),
 * a visit late when its window's end + grace is at or before the clock, and the final count of a
 * window = the number of distinct ids that were not late.
 */
import { partitionForKey } from '@eric/shared';

export interface ModelVisit {
  id: string;
  account_id: number;
  store_id: string | null;
  timestamp: number;
}

/** Arrival time in Kafka (epoch seconds) of each visit, when known. */
export type Arrivals = Map<ModelVisit, number>;

export function finalKey(account: number, store: string | null, start: number): string {
  return `${account}|${store === null ? '<null>' : store}|${start}`;
}

export function expectedFinals(visits: ModelVisit[], partitions: number, size: number, grace: number, arrivals?: Arrivals): { finals: Map<string, number>; late: number } {
  const clocks = new Map<number, number>();
  const ids = new Map<string, Set<string>>();
  let late = 0;
  for (const visit of visits) {
    const partition = partitionForKey(`${visit.account_id}:${visit.store_id ?? ''}`, partitions);
    const clock = Math.max(clocks.get(partition) ?? -Infinity, Math.min(visit.timestamp, arrivals?.get(visit) ?? Infinity));
    clocks.set(partition, clock);
    const start = Math.floor(visit.timestamp / size) * size;
    if (start + size + grace <= clock) {
      late++;
      continue;
    }
    const key = finalKey(visit.account_id, visit.store_id, start);
    if (!ids.has(key)) ids.set(key, new Set());
    ids.get(key)!.add(visit.id);
  }
  return { finals: new Map([...ids].map(([key, set]) => [key, set.size])), late };
}
