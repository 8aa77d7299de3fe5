/**
 * The chart's PrometheusRule: `promtool check rules` on the rendered rules, and a promtool unit
 * test per alert (it fires on a synthetic incident and stays quiet on a healthy pipeline).
 * dashboard.int.test.ts also runs every expression against a real pipeline.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { chartDir, find, render, run, tempDir, tools } from './tools.js';

const base = { namespace: 'eric', app_kubernetes_io_instance: 'eric' };
const series = (name: string, labels: Record<string, string>, values: string) => ({
  series: `${name}{${Object.entries({ ...base, ...labels }).map(([k, v]) => `${k}="${v}"`).join(', ')}}`,
  values,
});

let dir: string;
let groups: any[];

beforeAll(() => {
  tools();
  dir = tempDir('alerts');
  const rule = find(render(['-f', join(chartDir, 'ci/monitoring-values.yaml')]), 'PrometheusRule', 'eric');
  groups = rule.spec.groups;
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
  // The unit tests compare labels only: the same rules without their annotations.
  const bare = groups.map((group) => ({ ...group, rules: group.rules.map(({ annotations: _annotations, ...rest }: any) => rest) }));
  writeFileSync(join(dir, 'rules-bare.yaml'), stringify({ groups: bare }));
}, 900_000);

describe('PrometheusRule', () => {
  it('has the promised alerts and passes promtool check rules', () => {
    const names = groups.flatMap((group) => group.rules.map((rule: any) => rule.alert));
    expect(names).toEqual(expect.arrayContaining(['EricAggregatorLagGrowing', 'EricNoFinalResults', 'EricDeadLetters', 'EricRestoreStuck']));
    const result = run(tools().PROMTOOL, ['check', 'rules', join(dir, 'rules.yaml')]);
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('every alert fires on its incident and stays quiet on a healthy pipeline (promtool test rules)', () => {
    const agg = { job: 'aggregator', pod: 'eric-aggregator-0' };
    const tests = [
      {
        name: 'dead letters',
        interval: '1m',
        input_series: [series('eric_aggregator_visits_invalid_total', { ...agg, reason: 'invalid_json' }, '0+60x20')],
        alert_rule_test: [{ eval_time: '15m', alertname: 'EricDeadLetters', exp_alerts: [{ exp_labels: { ...base, reason: 'invalid_json', severity: 'warning' } }] }],
      },
      {
        name: 'no dead letters',
        interval: '1m',
        input_series: [series('eric_aggregator_visits_invalid_total', { ...agg, reason: 'invalid_json' }, '3x20')],
        alert_rule_test: [{ eval_time: '15m', alertname: 'EricDeadLetters', exp_alerts: [] }],
      },
      {
        name: 'visits counted, no final ever emitted',
        interval: '1m',
        input_series: [series('eric_aggregator_visits_counted_total', agg, '0+100x30')],
        alert_rule_test: [{ eval_time: '25m', alertname: 'EricNoFinalResults', exp_alerts: [{ exp_labels: { ...base, severity: 'critical' } }] }],
      },
      {
        name: 'finals stop while visits go on',
        interval: '1m',
        input_series: [
          series('eric_aggregator_visits_counted_total', agg, '0+100x40'),
          series('eric_aggregator_results_emitted_total', { ...agg, kind: 'final' }, '0+5x10 50x30'),
        ],
        alert_rule_test: [
          { eval_time: '9m', alertname: 'EricNoFinalResults', exp_alerts: [] },
          { eval_time: '35m', alertname: 'EricNoFinalResults', exp_alerts: [{ exp_labels: { ...base, severity: 'critical' } }] },
        ],
      },
      {
        name: 'idle pipeline: no visits, no finals, no alert',
        interval: '1m',
        input_series: [series('eric_aggregator_visits_counted_total', agg, '100x30'), series('eric_aggregator_results_emitted_total', { ...agg, kind: 'final' }, '7x30')],
        alert_rule_test: [{ eval_time: '25m', alertname: 'EricNoFinalResults', exp_alerts: [] }],
      },
      {
        name: 'restore stuck',
        interval: '1m',
        input_series: [series('eric_aggregator_restore_remaining_records', agg, '500x30'), series('eric_aggregator_restore_records_total', agg, '100x30')],
        alert_rule_test: [{ eval_time: '20m', alertname: 'EricRestoreStuck', exp_alerts: [{ exp_labels: { ...base, pod: 'eric-aggregator-0', severity: 'critical' } }] }],
      },
      {
        name: 'restore slow but moving',
        interval: '1m',
        input_series: [series('eric_aggregator_restore_remaining_records', agg, '100000-100x30'), series('eric_aggregator_restore_records_total', agg, '0+100x30')],
        alert_rule_test: [{ eval_time: '20m', alertname: 'EricRestoreStuck', exp_alerts: [] }],
      },
      {
        name: 'lag growing',
        interval: '1m',
        input_series: [series('eric_aggregator_consumer_lag_records', { ...agg, stage: 'count', topic: 'visits-repartition', partition: '0' }, '0+1000x40')],
        alert_rule_test: [{ eval_time: '30m', alertname: 'EricAggregatorLagGrowing', exp_alerts: [{ exp_labels: { ...base, stage: 'count', severity: 'warning' } }] }],
      },
      {
        name: 'lag high but shrinking',
        interval: '1m',
        input_series: [series('eric_aggregator_consumer_lag_records', { ...agg, stage: 'count', topic: 'visits-repartition', partition: '0' }, '100000-1000x40')],
        alert_rule_test: [{ eval_time: '30m', alertname: 'EricAggregatorLagGrowing', exp_alerts: [] }],
      },
      {
        name: 'topology mismatch and producer cut off from Kafka',
        interval: '1m',
        input_series: [
          series('eric_aggregator_topology_mismatch', agg, '1x10'),
          series('eric_producer_kafka_available', { job: 'producer', pod: 'eric-producer-1' }, '0x10'),
        ],
        alert_rule_test: [
          { eval_time: '8m', alertname: 'EricTopologyMismatch', exp_alerts: [{ exp_labels: { ...base, pod: 'eric-aggregator-0', severity: 'warning' } }] },
          { eval_time: '4m', alertname: 'EricProducerKafkaUnavailable', exp_alerts: [{ exp_labels: { ...base, pod: 'eric-producer-1', severity: 'critical' } }] },
        ],
      },
    ];
    writeFileSync(join(dir, 'tests.yaml'), stringify({ rule_files: ['rules-bare.yaml'], evaluation_interval: '1m', tests }));
    const result = run(tools().PROMTOOL, ['test', 'rules', 'tests.yaml'], { cwd: dir });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('promtool itself rejects a broken rule (the check works)', () => {
    writeFileSync(join(dir, 'broken.yaml'), stringify({ groups: [{ name: 'x', rules: [{ alert: 'X', expr: 'sum by (a (eric_x)' }] }] }));
    expect(run(tools().PROMTOOL, ['check', 'rules', join(dir, 'broken.yaml')]).status).not.toBe(0);
  });
});
