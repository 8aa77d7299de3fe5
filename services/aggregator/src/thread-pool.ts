/**
 * Why the aggregator refuses to start with a small libuv thread pool.
 *
 * Every call of the native Kafka client (consume, flush, the transactional calls, offset and
 * metadata queries) holds one thread of libuv's pool until librdkafka answers, which while a
 * broker is away means its whole timeout or longer. The aggregator runs up to about ten such
 * calls at once; with Node's default pool of 4 threads they queue behind each other, and a
 * consume that should take 100 ms waits minutes for a thread. The pool is sized from
 * UV_THREADPOOL_SIZE when Node starts — before any of this code runs, so it cannot be set from
 * here — and the image, `make` and the tests set it to 16. Started without it, the aggregator
 * stops at once and says so, rather than wedge in the next broker outage.
 */
const MIN_THREADS = 8;

export function exitUnlessEnoughThreads(): void {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  if (threads >= MIN_THREADS) return;
  console.error(
    `UV_THREADPOOL_SIZE is ${process.env.UV_THREADPOOL_SIZE ?? 'not set (4 threads)'}: the aggregator needs at least ${MIN_THREADS} libuv threads for its concurrent Kafka calls. ` +
      'Start it with UV_THREADPOOL_SIZE=16 in the environment (the image, make run and the tests do).',
  );
  process.exit(1);
}

