import { describe, expect, it } from 'vitest';
import { ConfigError } from '@eric/shared';
import { changelogRetentionMs, loadAggregatorConfig, resolveOrdinal } from '../src/config.js';

describe('aggregator config', () => {
  it('has the documented defaults', () => {
    const config = loadAggregatorConfig({ env: { AGGREGATOR_ORDINAL: '0' } });
    expect(config.partitions).toBe(4);
    expect(config.window).toEqual({ sizeSeconds: 60, graceSeconds: 10 });
    expect(config.topics).toEqual({
      visits: 'visits',
      repartition: 'visits-repartition',
      changelog: 'visit-counts-changelog',
      activeVisitors: 'active-visitors',
      deadLetter: 'visits-dead-letter',
    });
    expect(config.http.port).toBe(6070);
    expect(config.instanceId).toBe('eric-aggregator-0');
  });

  it('takes the ordinal and the static membership id from the StatefulSet pod name', () => {
    const config = loadAggregatorConfig({ env: { POD_NAME: 'eric-aggregator-2' } });
    expect(config.ordinal).toBe(2);
    expect(config.instanceId).toBe('eric-aggregator-2');
    expect(resolveOrdinal(-1, 'my-release-eric-aggregator-13')).toBe(13);
  });

  it('refuses a process without an ordinal, or with one beyond P, naming the keys', () => {
    expect(() => loadAggregatorConfig({ env: {} })).toThrow(ConfigError);
    expect(() => loadAggregatorConfig({ env: {} })).toThrow(/AGGREGATOR_ORDINAL .* POD_NAME/);
    expect(() => loadAggregatorConfig({ env: { AGGREGATOR_ORDINAL: '4' } })).toThrow(/AGGREGATOR_ORDINAL \(ordinal\) 4 must be below PARTITIONS/);
  });

  it('refuses a bad window size at start', () => {
    expect(() => loadAggregatorConfig({ env: { AGGREGATOR_ORDINAL: '0', WINDOW_SECONDS: '0' } })).toThrow(/WINDOW_SECONDS \(window.sizeSeconds\)/);
  });

  it('sizes the changelog retention from the window unless set', () => {
    const defaults = loadAggregatorConfig({ env: { AGGREGATOR_ORDINAL: '0' } });
    expect(changelogRetentionMs(defaults)).toBe(300_000);
    const long = loadAggregatorConfig({ env: { AGGREGATOR_ORDINAL: '0', WINDOW_SECONDS: '3600' } });
    expect(changelogRetentionMs(long)).toBe(3 * 3610 * 1000);
    const explicit = loadAggregatorConfig({ env: { AGGREGATOR_ORDINAL: '0', CHANGELOG_RETENTION_SECONDS: '120' } });
    expect(changelogRetentionMs(explicit)).toBe(120_000);
  });
});
