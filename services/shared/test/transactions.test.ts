/**
 * The transaction state machine of TransactionalProducer, driven by a scripted stand-in for the
 * native producer: each call answers with the next error (or success) the test lists. What the
 * real broker does with these calls is tested on a real broker (kafka.int.test.ts and the
 * aggregator's crash and outage tests); this pins down Eric's side: which call is made next.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { ErrorCode, type KafkaConsumer, type Producer } from '../src/kafka/rdkafka.js';
import { ShutdownInterrupted, TransactionFatalError, TransactionStuck, TransactionalProducer } from '../src/kafka/transactions.js';

type Answer = null | { code: number; message: string; isRetriable?: boolean; isTxnRequiresAbort?: boolean; isFatal?: boolean };
const TIMED_OUT: Answer = { code: ErrorCode.ERR__TIMED_OUT, message: 'Local: Timed out', isRetriable: true };
const REQUIRES_ABORT: Answer = { code: ErrorCode.ERR_INVALID_TXN_STATE, message: 'requires abort', isTxnRequiresAbort: true };
const FENCED: Answer = { code: ErrorCode.ERR_PRODUCER_FENCED, message: 'fenced', isFatal: true };
const STATE: Answer = { code: ErrorCode.ERR__STATE, message: 'Local: Erroneous state' };

/** Records every call in order; answers each transactional call from its script (default: success). */
function scriptedProducer(script: Partial<Record<string, Answer[]>>) {
  const calls: string[] = [];
  let inFlight = 0;
  const answer = (name: string, done: (err: Answer) => void) => {
    calls.push(name);
    if (++inFlight > 1) throw new Error(`${name} called while another call runs`);
    setImmediate(() => {
      inFlight--;
      done(script[name]?.shift() ?? null);
    });
  };
  const producer = {
    initTransactions: (_timeout: number, done: (err: Answer) => void) => answer('init', done),
    beginTransaction: (done: (err: Answer) => void) => answer('begin', done),
    sendOffsetsToTransaction: (_offsets: unknown, _consumer: unknown, _timeout: number, done: (err: Answer) => void) => answer('sendOffsets', done),
    commitTransaction: (_timeout: number, done: (err: Answer) => void) => answer('commit', done),
    abortTransaction: (_timeout: number, done: (err: Answer) => void) => answer('abort', done),
  };
  return { calls, producer: producer as unknown as Producer };
}

function transactional(producer: Producer, stopping = () => false, giveUpAfterMs?: number) {
  return new TransactionalProducer(producer, { callTimeoutMs: 1_000, logger: createLogger('test', 'silent'), stopping, giveUpAfterMs });
}

const consumer = {} as KafkaConsumer;
const offsets = [{ topic: 'in', partition: 0, offset: 10 }];

describe('TransactionalProducer', () => {
  it('begins, writes, sends the offsets and commits', async () => {
    const { calls, producer } = scriptedProducer({});
    let written = false;
    expect(await transactional(producer).run(() => (written = true), offsets, consumer)).toBe('committed');
    expect(written).toBe(true);
    expect(calls).toEqual(['begin', 'sendOffsets', 'commit']);
  });

  it('makes a timed-out call again, the same call, until it completes', async () => {
    const { calls, producer } = scriptedProducer({ sendOffsets: [TIMED_OUT, TIMED_OUT], commit: [TIMED_OUT] });
    expect(await transactional(producer).run(() => undefined, offsets, consumer)).toBe('committed');
    expect(calls).toEqual(['begin', 'sendOffsets', 'sendOffsets', 'sendOffsets', 'commit', 'commit']);
  });

  it('aborts when Kafka requires it, retrying a timed-out abort with abort, and reports the abort', async () => {
    const { calls, producer } = scriptedProducer({ commit: [TIMED_OUT, REQUIRES_ABORT], abort: [TIMED_OUT, TIMED_OUT] });
    expect(await transactional(producer).run(() => undefined, offsets, consumer)).toBe('aborted');
    expect(calls).toEqual(['begin', 'sendOffsets', 'commit', 'commit', 'abort', 'abort', 'abort']);
  });

  it('aborts when a record cannot be written', async () => {
    const { calls, producer } = scriptedProducer({});
    const full = () => {
      throw Object.assign(new Error('Local: Queue full'), { code: ErrorCode.ERR__QUEUE_FULL });
    };
    expect(await transactional(producer).run(full, offsets, consumer)).toBe('aborted');
    expect(calls).toEqual(['begin', 'abort']);
  });

  it('gives up on a fenced producer, and on an error that fits no rule, without another call', async () => {
    for (const error of [FENCED, STATE]) {
      const { calls, producer } = scriptedProducer({ sendOffsets: [error] });
      await expect(transactional(producer).run(() => undefined, offsets, consumer)).rejects.toBeInstanceOf(TransactionFatalError);
      expect(calls).toEqual(['begin', 'sendOffsets']);
    }
  });

  it('waits for a call that answers after its timeout instead of starting another', async () => {
    const { calls, producer } = scriptedProducer({});
    const late = {
      ...producer,
      commitTransaction: (timeout: number, done: (err: Answer) => void) => {
        calls.push('commit');
        setTimeout(() => done(null), timeout + 5_000 + 200); // past the call's deadline
      },
    } as unknown as Producer;
    expect(await transactional(late).run(() => undefined, offsets, consumer)).toBe('committed');
    expect(calls).toEqual(['begin', 'sendOffsets', 'commit']);
  }, 15_000);

  it('gives a call up that never answers, and the producer with it', async () => {
    const { calls, producer } = scriptedProducer({});
    const silent = { ...producer, commitTransaction: () => calls.push('commit') } as unknown as Producer;
    const stuck = transactional(silent, () => false, 1);
    await expect(stuck.run(() => undefined, offsets, consumer)).rejects.toBeInstanceOf(TransactionStuck);
    await expect(stuck.run(() => undefined, offsets, consumer)).rejects.toBeInstanceOf(TransactionStuck);
    expect(calls).toEqual(['begin', 'sendOffsets', 'commit']); // nothing after the call given up
  }, 15_000);

  it('stops retrying when the process shuts down', async () => {
    const { calls, producer } = scriptedProducer({ commit: [TIMED_OUT, TIMED_OUT, TIMED_OUT] });
    const shuttingDownDuringCommit = () => calls.includes('commit');
    await expect(transactional(producer, shuttingDownDuringCommit).run(() => undefined, offsets, consumer)).rejects.toBeInstanceOf(ShutdownInterrupted);
    expect(calls).toEqual(['begin', 'sendOffsets', 'commit']);
  });

  it('makes initTransactions again while it times out', async () => {
    const { calls, producer } = scriptedProducer({ init: [TIMED_OUT, TIMED_OUT] });
    await transactional(producer).init();
    expect(calls).toEqual(['init', 'init', 'init']);
  });
});
