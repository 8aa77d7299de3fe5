/**
 * The docs list every setting and every metric the code has: a key or metric added without a
 * line in its page fails here. (The chart values table is checked in chart.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetricsRegistry, describeSchema, kafkaConfigSchema, logConfigSchema } from '@eric/shared';
import { describe, expect, it } from 'vitest';
import { provisionConfigSchema } from '../../services/aggregator/src/config.js';
import { createAggregatorMetrics } from '../../services/aggregator/src/metrics.js';
import { gatewayConfigSchema } from '../../services/gateway/src/config.js';
import { createGatewayMetrics } from '../../services/gateway/src/metrics.js';
import { producerConfigSchema } from '../../services/producer/src/config.js';
import { createProducerMetrics } from '../../services/producer/src/metrics.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const page = (name: string) => readFileSync(join(root, 'docs', name), 'utf8');

/** Environment variables of a convict schema, except those documented once for all services. */
function variables(schema: unknown): string[] {
  const shared = new Set([...describeSchema({ kafka: kafkaConfigSchema('any'), log: logConfigSchema }).map((row) => row.env), 'HTTP_HOST', 'HTTP_PORT']);
  return describeSchema(schema).map((row) => row.env!).filter((env) => env && !shared.has(env));
}

function metricNames(register: (registry: ReturnType<typeof createMetricsRegistry>) => void): string[] {
  const registry = createMetricsRegistry();
  const defaults = new Set(registry.getMetricsAsArray().map((metric) => metric.name));
  register(registry);
  return registry.getMetricsAsArray().map((metric) => metric.name).filter((name) => !defaults.has(name));
}

describe('the docs match the code', () => {
  it.each([
    // The provision command's settings are the aggregator's plus its own.
    ['aggregator.md', provisionConfigSchema],
    ['gateway.md', gatewayConfigSchema],
    ['producer.md', producerConfigSchema],
  ])('docs/%s documents every setting of its service', (file, schema) => {
    const text = page(file);
    const missing = variables(schema).filter((env) => !text.includes(`\`${env}\``));
    expect(missing).toEqual([]);
  });

  it('docs/operations.md documents the settings every service shares', () => {
    const text = page('operations.md');
    const shared = describeSchema({ kafka: kafkaConfigSchema('any'), log: logConfigSchema }).map((row) => row.env!);
    expect([...shared, 'HTTP_HOST', 'HTTP_PORT'].filter((env) => !text.includes(`\`${env}\``))).toEqual([]);
  });

  it.each([
    ['aggregator.md', (registry: ReturnType<typeof createMetricsRegistry>) => void createAggregatorMetrics(registry)],
    ['gateway.md', (registry: ReturnType<typeof createMetricsRegistry>) => void createGatewayMetrics(registry, { keysHeld: () => 0, consumerOffset: () => 0 })],
    ['producer.md', (registry: ReturnType<typeof createMetricsRegistry>) => void createProducerMetrics(registry)],
  ])('docs/%s documents every metric of its service', (file, register) => {
    const text = page(file);
    const names = metricNames(register);
    expect(names.length).toBeGreaterThan(5);
    // Written `name` or `name{label}`.
    expect(names.filter((name) => !text.includes(`\`${name}\``) && !text.includes(`\`${name}{`))).toEqual([]);
  });
});
