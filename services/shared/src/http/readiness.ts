/**
 * Readiness is the sum of named checks, each saying whether one part of the service can do its
 * job now and, if not, why. `/ready` shows all of them, so an operator sees "restoring 3 of 10"
 * rather than a bare 503.
 */
export interface CheckResult {
  ready: boolean;
  /** Human-readable state: why not ready, or what "ready" currently means. */
  detail?: string;
  /** Anything else worth showing (progress counters, phase, lag). */
  [extra: string]: unknown;
}

export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();
  #shuttingDown = false;

  /** Adds (or replaces) the check called `name`. */
  add(name: string, check: ReadinessCheck): this {
    this.#checks.set(name, check);
    return this;
  }

  /** From now on the service reports not ready, so load balancers stop sending to it. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  async report(): Promise<ReadinessReport> {
    const checks: Record<string, CheckResult> = {};
    for (const [name, check] of this.#checks) {
      try {
        checks[name] = await check();
      } catch (error) {
        checks[name] = { ready: false, detail: `check failed: ${error instanceof Error ? error.message : String(error)}` };
      }
    }
    if (this.#shuttingDown) checks.shutdown = { ready: false, detail: 'shutting down' };
    return { ready: Object.values(checks).every((result) => result.ready), checks };
  }
}
