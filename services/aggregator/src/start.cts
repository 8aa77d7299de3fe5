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
 *
 * Why it may run the service as a child process after all: as PID 1 of its PID namespace (a
 * container started without an init, as the image's plain `node` command is), a process gets
 * from inside its namespace only the signals it has a handler for, and SIGKILL never has one.
 * The aggregator ends itself with SIGKILL when Kafka calls hang past its shutdown timeout
 * (process.exit() would wait for them: shared lifecycle.ts); as PID 1 that SIGKILL was ignored,
 * and a process that had logged "exiting" stayed alive until the kubelet's own SIGKILL. So PID 1
 * does what an init does: it runs the service as its child, passes SIGTERM and SIGINT on, and
 * ends with the child's exit status. It holds no Kafka client, so its own exit never waits.
 */
import childProcess = require('node:child_process');
import os = require('node:os');

process.env.UV_THREADPOOL_SIZE ??= '16';

if (process.pid === 1) {
  const service = childProcess.spawn(process.execPath, [...process.execArgv, __filename], { stdio: 'inherit' });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => service.kill(signal));
  // As a shell reports it: 128 + the signal's number when the service was killed (137: SIGKILL).
  service.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
} else {
  // An error while main.js loads rejects this import: Node then prints it and exits with status 1,
  // as it would for `node main.js`.
  void import('./main.js');
}
