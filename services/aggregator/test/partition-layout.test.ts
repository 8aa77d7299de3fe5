import { describe, expect, it } from 'vitest';
import { partitionLayoutProblems } from '../src/partition-layout.js';

describe('partitionLayoutProblems', () => {
  const facts = { partitions: 4, repartitionTopic: 'r', changelogTopic: 'c', repartitionPartitions: 4, changelogPartitions: 4, replicas: 4, statefulSet: 'eric-aggregator' };

  it('finds nothing wrong when everything is P', () => {
    expect(partitionLayoutProblems(facts)).toEqual([]);
    expect(partitionLayoutProblems({ ...facts, replicas: undefined })).toEqual([]);
  });

  it('says how to fix each mismatch', () => {
    const problems = partitionLayoutProblems({ ...facts, repartitionPartitions: 2, changelogPartitions: 6, replicas: 3 });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/topic r has 2 partitions but PARTITIONS is 4: add partitions \(kafka-topics.sh --alter --topic r --partitions 4\)/);
    expect(problems[1]).toMatch(/topic c has 6 partitions .* set PARTITIONS .* to 6/);
    expect(problems[2]).toMatch(/StatefulSet eric-aggregator has 3 replicas but PARTITIONS is 4: scale with helm upgrade/);
  });
});
