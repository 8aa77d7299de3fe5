/**
 * An independent, deliberately naive model of what the aggregator must output, for visits
 * produced in this order to ONE partition of `visits`: event time is the largest timestamp seen
 * so far (a timestamp counts no later than the visit's arrival in Kafka, when the test knows it);
 * a visit is late when its window's end + grace is at or before the event time reached by the
 * visits before it; the final count of a window is the number of distinct ids that were not late.
 *
 * (The aggregator learns the event time from watermarks sent after each forwarded batch, so it
 * can only be more lenient than this model for a visit whose lateness is decided within its own
 * batch — every visit of the very first batch is on time: tests keep late visits far behind the
 * stream, and out of its beginning.)
 */
import type { Visit } from '@eric/shared';
import { finalKey } from '@eric/shared/testing';

/** A visit as the model sees it: the shared Visit. */
export type ModelVisit = Visit;

/** Arrival time in Kafka (epoch seconds) of each visit, when known. */
export type Arrivals = Map<ModelVisit, number>;

export function expectedFinals(visits: ModelVisit[], size: number, grace: number, arrivals?: Arrivals): { finals: Map<string, number>; late: number } {
  const ids = new Map<string, Set<string>>();
  let eventTime = Number.NEGATIVE_INFINITY;
  let late = 0;
  for (const visit of visits) {
    const start = Math.floor(visit.timestamp / size) * size;
    if (start + size + grace <= eventTime) {
      late++;
    } else {
      const key = finalKey(visit.account_id, visit.store_id, start);
      if (!ids.has(key)) ids.set(key, new Set());
      ids.get(key)!.add(visit.id);
    }
    eventTime = Math.max(eventTime, Math.min(visit.timestamp, arrivals?.get(visit) ?? Infinity));
  }
  return { finals: new Map([...ids].map(([key, set]) => [key, set.size])), late };
}
