/**
 * The topics the aggregator reads and writes, with the settings each needs when it is created:
 * the only definition of Eric's topics. The aggregator ensures them at start, and its `provision`
 * command (provision.ts: the chart's topic Job, docker-compose's `topics` service) creates and
 * scales them before the aggregators start.
 */
import { visitsTopicSpec, type TopicSpec } from '@eric/shared';
import { changelogRetentionMs, type AggregatorConfig } from './config.js';

/** The part of the aggregator's configuration the topics depend on (no ordinal: see provision.ts). */
export type TopicsConfig = Pick<AggregatorConfig, 'topics' | 'visitsPartitions' | 'partitions' | 'window' | 'count'>;

export function aggregatorTopics(config: TopicsConfig): TopicSpec[] {
  const retentionMs = changelogRetentionMs(config);
  return [
    visitsTopicSpec(config.topics.visits, config.visitsPartitions),
    // P partitions each; at start a different count is reported by the topology check, not fatal,
    // so that scaling (partitions first, then processes) never takes the aggregator down. The
    // provision command grows them to P, and refuses more.
    { name: config.topics.repartition, partitions: config.partitions, exactPartitions: false, followsScale: true },
    {
      name: config.topics.changelog,
      partitions: config.partitions,
      exactPartitions: false,
      followsScale: true,
      config: {
        // Compaction keeps one record per key; deletion drops the ids of long-closed windows so
        // the partition, and with it restore time, stays bounded.
        'cleanup.policy': 'compact,delete',
        'retention.ms': String(retentionMs),
        // Retention removes whole segments only: keep them small so old ids really go.
        'segment.ms': String(Math.max(60_000, Math.round(retentionMs / 4))),
        'min.compaction.lag.ms': '0',
      },
    },
    { name: config.topics.activeVisitors, partitions: 1 },
    { name: config.topics.deadLetter, partitions: 1, exactPartitions: false },
  ];
}
