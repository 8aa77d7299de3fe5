/**
 * Processes that do nothing but burn CPU, started beside the aggregators to starve them: what a
 * noisy neighbour on the same node (or a CPU limit far too low) does to a pod. Each hog is a
 * Node.js process in an endless loop, so it needs nothing that might be missing on the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export class CpuHogs {
  readonly #hogs = new Set<ChildProcess>();

  start(count: number): void {
    for (let i = 0; i < count; i++) {
      const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
      this.#hogs.add(hog);
      hog.once('exit', () => this.#hogs.delete(hog));
    }
  }

  /** SIGKILL to every hog still running, and wait until they are gone. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.#hogs].map((hog) => {
        if (hog.exitCode !== null || hog.signalCode !== null) return undefined;
        const gone = new Promise((resolve) => hog.once('exit', resolve));
        hog.kill('SIGKILL');
        return gone;
      }),
    );
  }
}
