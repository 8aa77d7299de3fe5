/**
 * The verdict on each window: what the traffic driver got acknowledged against the finals the
 * dashboard received and the finals on active-visitors (read_committed, as admin). A window is
 * exact when it has exactly one final on the topic, and both it and the dashboard's say the
 * number of distinct acknowledged ids.
 */
import type { WindowResult } from '@eric/shared';
import { finalKey } from '@eric/shared/testing';
import type { DashboardFinal } from './dashboard-finals.js';

/** What the traffic driver got acknowledged for one window (counts only: the ids stay in Traffic). */
export interface AcknowledgedSummary {
  start: number;
  acknowledged: number;
  acknowledgedLate: number;
}

export interface WindowVerdict {
  key: string;
  start: number;
  acknowledged: number;
  /** Acknowledged only after end + grace: may rightly be missing from the count. */
  acknowledgedLate: number;
  /** The dashboard's final count, else the topic's; undefined when neither has one. */
  counted: number | undefined;
  topicFinals: number[];
  dashboard: DashboardFinal | undefined;
  exact: boolean;
  doubled: boolean;
  missing: boolean;
}

export function judgeWindows(acknowledged: Map<string, AcknowledgedSummary>, dashboard: Map<string, DashboardFinal>, topic: WindowResult[]): WindowVerdict[] {
  const topicFinals = new Map<string, number[]>();
  for (const result of topic) {
    if (!result.final) continue;
    const key = finalKey(result.account_id, result.store_id, result.window[0]);
    topicFinals.set(key, [...(topicFinals.get(key) ?? []), result.count]);
  }
  return [...acknowledged.entries()].map(([key, window]) => {
    const onTopic = topicFinals.get(key) ?? [];
    const shown = dashboard.get(key);
    const expected = window.acknowledged;
    return {
      key,
      start: window.start,
      acknowledged: expected,
      acknowledgedLate: window.acknowledgedLate,
      counted: shown?.count ?? onTopic[0],
      topicFinals: onTopic,
      dashboard: shown,
      exact: onTopic.length === 1 && onTopic[0] === expected && shown?.count === expected && shown.frames === 1,
      doubled: onTopic.length > 1 || (shown?.frames ?? 0) > 1,
      missing: onTopic.length === 0 && shown === undefined,
    };
  });
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** A window that is not exact, in one line. */
export function describeVerdict(v: WindowVerdict): string {
  const topic = v.topicFinals.length === 0 ? 'no final' : v.topicFinals.join(' and ');
  const shown = v.dashboard ? `${v.dashboard.count}${v.dashboard.frames > 1 ? ` (${v.dashboard.frames} final frames)` : ''}` : 'no final';
  return `${v.key} (start ${new Date(v.start * 1000).toISOString()}): ${v.acknowledged} acknowledged (${v.acknowledgedLate} after end + grace), topic ${topic}, dashboard ${shown}`;
}
