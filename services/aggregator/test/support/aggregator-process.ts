/** The real aggregator as a child process (see ServiceProcess), with its production Node flags. */
import { ServiceProcess, buildService, sleep } from '@eric/shared/testing/process';

export { sleep };

export function buildAggregator(): void {
  buildService('aggregator');
}

export class AggregatorProcess extends ServiceProcess {
  /** `launcher`: see ServiceProcessOptions (e.g. PID_1_LAUNCHER). */
  constructor(name: string, env: Record<string, string>, launcher?: string[]) {
    super(name, { service: 'aggregator', env, launcher });
  }
}
