/**
 * Why the aggregator refuses to start with a small libuv thread pool.
 *
 * Every call of the native Kafka client (consume, flush, the transactional calls, offset and
 * metadata queries) holds one thread of libuv's pool until librdkafka answers, which while a
 * broker is away means its whole timeout or longer. The aggregator runs up to about ten such
 * calls at once; with Node's default pool of 4 threads they queue behind each other, and a
 * consume that should take 100 ms waits minutes for a thread.
 *
 * The pool is sized from UV_THREADPOOL_SIZE before any ES module runs, so the entry point
 * start.cjs (start.cts) sets it to 16 unless it is set already. Here the aggregator only checks
 * the result: a value set below 8, or main.js started without start.cjs (the pool then has 4
 * threads), is a bad setting that stops it at once, rather than wedge it in the next broker outage.
 */
import { ConfigError } from '@eric/shared';

const MIN_THREADS = 8;

export function requireEnoughThreads(env: NodeJS.ProcessEnv = process.env): void {
  const setting = env.UV_THREADPOOL_SIZE;
  const needs = `the aggregator needs at least ${MIN_THREADS} libuv threads for its concurrent Kafka calls`;
  if (setting === undefined) {
    throw new ConfigError(
      `UV_THREADPOOL_SIZE is not set, so libuv has its default 4 threads and ${needs}: ` +
        'start it with `node services/aggregator/dist/start.cjs`, which sets 16, not with main.js',
    );
  }
  // libuv reads the value with atoi(), which takes text that is not a number for 0 (then it runs
  // 1 thread): only a number of at least MIN_THREADS is enough.
  if (Number(setting) >= MIN_THREADS) return;
  throw new ConfigError(`UV_THREADPOOL_SIZE is "${setting}" and ${needs}: set it to ${MIN_THREADS} or more, or leave it unset for 16`);
}
