/**
 * The generation loop shared by the CLI and the service: asks the pacer how many visits are due,
 * makes them, hands them to the writer in batches and counts the outcomes. It does not wait for
 * one batch's acknowledgement before sending the next (that would cap the rate at one batch per
 * round trip); the writer's `maxQueued` bounds how much is in flight.
 *
 * While Kafka is unreachable it pauses instead of making visits that could only fail, so a
 * `--max-messages 300` run still delivers 300 once the broker is back.
 */
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import type { Visit } from '@eric/shared';
import type { VisitGenerator } from './generator.js';
import type { ProducerMetrics } from './metrics.js';
import { Pacer } from './pacing.js';
import type { VisitWriter, WriteOutcome } from './visit-writer.js';

export interface GenerationOptions {
  generator: VisitGenerator;
  writer: Pick<VisitWriter, 'write' | 'waitForRoom' | 'availability'>;
  /** Visits per second; `Infinity` = as fast as Kafka takes them. */
  rate: number;
  /** Stop after this many visits; 0 = until `signal` aborts. */
  maxVisits: number;
  /** Most visits per write. */
  batchSize: number;
  signal: AbortSignal;
  metrics?: ProducerMetrics;
  /** Called once per batch when its outcome is known. */
  onOutcome?: (visits: readonly Visit[], outcome: WriteOutcome) => void;
  /** Pause while Kafka is unreachable, in ms. */
  unavailablePauseMs?: number;
  /** Current time in ms (tests pass a fake clock). */
  now?: () => number;
}

export interface GenerationResult {
  /** Visits handed to the writer. */
  sent: number;
  /** Visits acknowledged by Kafka. */
  written: number;
  /** Visits refused or not acknowledged. */
  failed: number;
  seconds: number;
}

export async function generateVisits(options: GenerationOptions): Promise<GenerationResult> {
  const { generator, writer, signal, metrics } = options;
  const now = options.now ?? (() => performance.now());
  const started = now();
  const pacer = new Pacer(options.rate, started);
  const pending = new Set<Promise<void>>();
  const result: GenerationResult = { sent: 0, written: 0, failed: 0, seconds: 0 };
  const remaining = () => (options.maxVisits === 0 ? Number.MAX_SAFE_INTEGER : options.maxVisits - result.sent);
  let batchesSinceYield = 0;

  while (!signal.aborted && remaining() > 0) {
    if (!writer.availability().available) {
      await pause(options.unavailablePauseMs ?? 500, signal);
      continue;
    }
    const due = pacer.due(now());
    if (due === 0) {
      await pause(Math.max(1, pacer.msUntilNext()), signal);
      continue;
    }
    const count = Math.min(due, options.batchSize, remaining());
    await writer.waitForRoom(count);
    if (signal.aborted) break;

    const visits = new Array<Visit>(count);
    for (let i = 0; i < count; i++) {
      const { visit, kind } = generator.nextWithKind();
      visits[i] = visit;
      metrics?.generatedVisits.inc({ kind });
    }
    pacer.take(count);
    result.sent += count;
    const delivery = writer.write(visits, 'generator').then((outcome) => {
      result.written += outcome.written;
      result.failed += count - outcome.written;
      options.onOutcome?.(visits, outcome);
    });
    pending.add(delivery);
    void delivery.finally(() => pending.delete(delivery));

    // At an unlimited rate the loop never sleeps: let delivery reports and timers run now and then.
    if (++batchesSinceYield >= 8) {
      batchesSinceYield = 0;
      await yieldToEventLoop();
    }
  }
  await Promise.all(pending);
  result.seconds = (now() - started) / 1000;
  return result;
}

/** Sleeps, waking early (without throwing) when the signal aborts. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    // Aborted: the loop checks the signal.
  }
}
