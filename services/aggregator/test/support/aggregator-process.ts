/** The real aggregator as a child process (see ServiceProcess), with its production Node flags. */
import { ServiceProcess, buildService, sleep } from '@eric/shared/testing/process';

export { sleep };

export function buildAggregator(): void {
  buildService('aggregator');
}

export class AggregatorProcess extends ServiceProcess {
  constructor(name: string, env: Record<string, string>) {
    super(name, { service: 'aggregator', env });
  }
}
