/**
 * The transaction state machine of TransactionalProducer, driven by a scripted stand-in for the
 * native producer: each call answers with the next error (or success) the test lists. What the
 * real broker does with these calls is tested on a real broker (kafka.int.test.ts and the
 * aggregator's crash and outage tests); this pins down Eric's side: which call is made next.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { ErrorCode, type KafkaConsumer, type Producer } from '../src/kafka/rdkafka.js';
import { ShutdownInterrupted, TransactionFatalError, TransactionStuck, TransactionalProducer, type KafkaAnswers } from '../src/kafka/transactions.js';

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

/** The scripted producer, whose commitTransaction succeeds after `ms`. */
function committingAfter(producer: Producer, calls: string[], ms: number): Producer {
  const commitTransaction = (_timeout: number, done: (err: Answer) => void) => {
    calls.push('commit');
    setTimeout(() => done(null), ms);
  };
  return { ...producer, commitTransaction } as unknown as Producer;
}

/** Kafka back since `backSince`, answering every request since. */
function answeringSince(backSince: number): KafkaAnswers {
  return { backSince, get lastAnsweredRequestAt() { return Date.now(); } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function transactional(producer: Producer, stopping = () => false, giveUpAfterMs?: number, kafkaAnswers?: KafkaAnswers) {
  return new TransactionalProducer(producer, { callTimeoutMs: 1_000, logger: createLogger('test', 'silent'), stopping, giveUpAfterMs, kafkaAnswers, stuckWhileKafkaAnswersMs: 200 });
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
    const late = committingAfter(producer, calls, 1_000 + 5_000 + 200); // past the call's deadline
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

  it('gives a call up soon when Kafka answers again after an outage during its transaction', async () => {
    const { calls, producer } = scriptedProducer({});
    const silent = { ...producer, sendOffsetsToTransaction: () => calls.push('sendOffsets') } as unknown as Producer;
    let backSince: number | undefined; // Kafka away when the transaction begins...
    setTimeout(() => (backSince = Date.now()), 300); // ...and back a moment later
    const kafka = { get backSince() { return backSince; }, get lastAnsweredRequestAt() { return backSince && Date.now(); } };
    const started = Date.now();
    await expect(transactional(silent, () => false, 60_000, kafka).run(() => undefined, offsets, consumer)).rejects.toBeInstanceOf(TransactionStuck);
    expect(Date.now() - started).toBeLessThan(30_000); // not the 60 s bound
    expect(calls).toEqual(['begin', 'sendOffsets']);
  }, 15_000);

  it('gives a call up soon when its transaction began just after Kafka came back', async () => {
    const { calls, producer } = scriptedProducer({});
    const silent = { ...producer, commitTransaction: () => calls.push('commit') } as unknown as Producer;
    await expect(transactional(silent, () => false, 60_000, answeringSince(Date.now() - 100)).run(() => undefined, offsets, consumer)).rejects.toBeInstanceOf(TransactionStuck);
    expect(calls).toEqual(['begin', 'sendOffsets', 'commit']);
  }, 15_000);

  it('waits for a slow call of a transaction begun long after the last outage', async () => {
    const { calls, producer } = scriptedProducer({});
    const slow = committingAfter(producer, calls, 600); // three times the stuck bound of 200 ms
    expect(await transactional(slow, () => false, 60_000, answeringSince(Date.now() - 60_000)).run(() => undefined, offsets, consumer)).toBe('committed');
    expect(calls).toEqual(['begin', 'sendOffsets', 'commit']);
  });

  it('does not give a call up while Kafka answers no request sent since the call began (a new outage)', async () => {
    const { calls, producer } = scriptedProducer({});
    const silent = { ...producer, commitTransaction: () => calls.push('commit') } as unknown as Producer;
    const lastAnswer = Date.now();
    const frozenAgain = { backSince: lastAnswer - 1_000, lastAnsweredRequestAt: lastAnswer };
    const outcome = transactional(silent, () => false, 60_000, frozenAgain).run(() => undefined, offsets, consumer);
    expect(await Promise.race([outcome, sleep(1_500).then(() => 'still waiting')])).toBe('still waiting');
  });

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
