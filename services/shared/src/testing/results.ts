/**
 * Reading what the aggregator wrote to active-visitors, as a read_committed consumer sees it, and
 * the final counts in it by window: for the aggregator's tests and the whole-pipeline ones.
 */
import { parseWindowResult, type WindowResult } from '../schemas/window-result.js';
import type { KafkaSettings } from '../kafka/settings.js';
import { readRecords } from './kafka.js';

/** The key of one window of one (account, store) in the tests' maps of final counts. */
export function finalKey(account: number, store: string | null, start: number): string {
  return `${account}|${store === null ? '<null>' : store}|${start}`;
}

export async function readResults(settings: KafkaSettings, topic: string, idleMs = 1500): Promise<WindowResult[]> {
  const records = await readRecords(settings, topic, { partitions: [0], idleMs, timeoutMs: 60_000 });
  return records.map((record) => {
    const parsed = parseWindowResult(record.value);
    if (!parsed.ok) throw new Error(`unreadable result: ${parsed.detail}`);
    return parsed.value;
  });
}

/** Final counts by key; throws if a window has two finals. */
export function finalsOf(results: WindowResult[]): Map<string, number> {
  const finals = new Map<string, number>();
  for (const result of results.filter((r) => r.final)) {
    const key = finalKey(result.account_id, result.store_id, result.window[0]);
    if (finals.has(key)) throw new Error(`window ${key} has more than one final result`);
    finals.set(key, result.count);
  }
  return finals;
}

/** Polls active-visitors until `expected` windows have a final, or the timeout. */
export async function waitForFinals(settings: KafkaSettings, topic: string, expected: number, timeoutMs: number): Promise<WindowResult[]> {
  const deadline = Date.now() + timeoutMs;
  let results: WindowResult[] = [];
  while (Date.now() < deadline) {
    results = await readResults(settings, topic, 500);
    if (results.filter((r) => r.final).length >= expected) return results;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return results;
}
