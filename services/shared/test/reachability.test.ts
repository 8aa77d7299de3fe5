/**
 * KafkaReachability with a stand-in client whose metadata requests answer, fail or hang as the
 * test says: it must see Kafka come back within about a second, and take a probe that hangs
 * past its timeout for no answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaReachability } from '../src/kafka/reachability.js';
import type { Producer } from '../src/kafka/rdkafka.js';

type Behaviour = 'answers' | 'fails' | 'hangs';

function client(behaviour: () => Behaviour): Producer {
  const getMetadata = (_options: unknown, done: (err: Error | null, value?: unknown) => void) => {
    const now = behaviour();
    if (now === 'answers') setImmediate(() => done(null, { topics: [] }));
    else if (now === 'fails') setImmediate(() => done(new Error('Local: Timed out')));
  };
  return { getMetadata } as unknown as Producer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let reachability: KafkaReachability | undefined;
afterEach(() => reachability?.stop());

describe('KafkaReachability', () => {
  it('probes every retry interval while Kafka does not answer, and sees it answer again', async () => {
    let behaviour: Behaviour = 'fails';
    reachability = new KafkaReachability({ client: client(() => behaviour), topic: 't', intervalMs: 60_000, retryIntervalMs: 50 });
    reachability.start();
    await sleep(200);
    expect(reachability.reachableSince).toBeUndefined();
    behaviour = 'answers';
    const backAt = Date.now();
    await sleep(300);
    // Found at the next retry, not at the 60 s interval.
    expect(reachability.reachableSince).toBeGreaterThanOrEqual(backAt);
  });

  it('takes a probe that hangs past its timeout for no answer', async () => {
    let behaviour: Behaviour = 'answers';
    reachability = new KafkaReachability({ client: client(() => behaviour), topic: 't', intervalMs: 50, retryIntervalMs: 50, timeoutMs: 100 });
    reachability.start();
    await sleep(120);
    expect(reachability.reachableSince).toBeDefined();
    behaviour = 'hangs';
    await sleep(400);
    expect(reachability.reachableSince).toBeUndefined();
  });
});
