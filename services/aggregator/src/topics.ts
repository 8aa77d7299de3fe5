/** The topics the aggregator reads and writes, with the settings each needs when it is created. */
import { visitsTopicSpec, type TopicSpec } from '@eric/shared';
import { changelogRetentionMs, type AggregatorConfig } from './config.js';

export function aggregatorTopics(config: AggregatorConfig): TopicSpec[] {
  const retentionMs = changelogRetentionMs(config);
  return [
    visitsTopicSpec(config.topics.visits, config.visitsPartitions),
    // P partitions each; a different count is reported by the topology check, not fatal, so that
    // scaling (partitions first, then processes) never takes the aggregator down.
    { name: config.topics.repartition, partitions: config.partitions, exactPartitions: false },
    {
      name: config.topics.changelog,
      partitions: config.partitions,
      exactPartitions: false,
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
