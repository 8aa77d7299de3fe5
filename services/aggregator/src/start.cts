/**
 * The aggregator's entry point: `node services/aggregator/dist/start.cjs`. It gives libuv's
 * thread pool 16 threads, unless UV_THREADPOOL_SIZE is already set (a value set by the user
 * wins), and then runs the service, main.ts.
 *
 * Why the pool needs more than Node's 4 threads: thread-pool.ts. Why here: libuv reads
 * UV_THREADPOOL_SIZE once, when the pool is first used, and its size is fixed from then on.
 *
 * Why a CommonJS file: Node loads ES modules with asynchronous file reads, which run on that very
 * pool, so when the first line of an ES entry point runs the pool already has its 4 threads and
 * setting the variable there changes nothing. A CommonJS file is read synchronously, on the main
 * thread: its first line runs before anything has used the pool, and the ES modules it then
 * imports find the pool sized. The alternatives are worse: re-executing node with the variable set
 * costs a second process that must pass on signals and its exit status; a `--require` flag must be
 * repeated in every command that starts the aggregator.
 */
process.env.UV_THREADPOOL_SIZE ??= '16';

// An error while main.js loads rejects this import: Node then prints it and exits with status 1,
// as it would for `node main.js`.
void import('./main.js');
