/**
 * Entry point of the aggregator process (see aggregator.ts).
 *
 * Every call of the native Kafka client (consume, flush, the transactional calls, offset and
 * metadata queries) holds one thread of libuv's pool until librdkafka returns, which while a
 * broker is away means its whole timeout. The aggregator runs up to about ten such calls at once
 * (two stages, their readers and writers, the upstream check, the liveness probe): with libuv's
 * default of 4 threads they would queue behind each other and a stage could wait for minutes
 * on a call that has not even started. The pool is created on first use, so this must come
 * before anything else runs.
 */
process.env.UV_THREADPOOL_SIZE ??= '16';
await import('./aggregator.js');
