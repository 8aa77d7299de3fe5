#!/usr/bin/env node
/**
 * `produce`: the original app's generator command. Run it as `node services/producer/dist/cli.js`,
 * `npx eric-produce` or `make produce ARGS="..."`; `--help` lists the flags.
 *
 * The first Ctrl-C stops generating and waits for the acknowledgements still due, then prints the
 * summary; a second one exits at once.
 */
import { runProduce } from './produce-command.js';

const stop = new AbortController();
let interrupted = false;
const onSignal = () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  stop.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

process.exitCode = await runProduce(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: stop.signal,
});
