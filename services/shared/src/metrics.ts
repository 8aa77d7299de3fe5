/**
 * One prom-client registry per process, with Node's default metrics (CPU, memory, event loop lag,
 * GC). Services register their own `eric_<service>_…` metrics on it.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
