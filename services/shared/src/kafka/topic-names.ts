/**
 * The names of Eric's topics, one config key each, shared by every service so that the producer,
 * the aggregator and the gateway agree on them. A service puts in its schema only the topics it
 * uses, e.g. `topics: { visits: topicNameSchema.visits }`.
 */
export const topicNameSchema = {
  visits: {
    doc: 'Topic of incoming visits.',
    format: String,
    default: 'visits',
    env: 'TOPIC_VISITS',
  },
  repartition: {
    doc: 'Topic of visits regrouped by account:store, one partition per aggregator.',
    format: String,
    default: 'visits-repartition',
    env: 'TOPIC_REPARTITION',
  },
  changelog: {
    doc: 'Compacted topic holding the count state, one partition per aggregator.',
    format: String,
    default: 'visit-counts-changelog',
    env: 'TOPIC_CHANGELOG',
  },
  activeVisitors: {
    doc: 'Topic of window results (provisional and final counts); always 1 partition.',
    format: String,
    default: 'active-visitors',
    env: 'TOPIC_ACTIVE_VISITORS',
  },
  deadLetter: {
    doc: 'Topic of rejected visits, with the reason in headers.',
    format: String,
    default: 'visits-dead-letter',
    env: 'TOPIC_DEAD_LETTER',
  },
};

/** Partition count of the `visits` topic when a service has to create it. */
export const visitsPartitionsSchema = {
  doc: 'Partitions of the visits topic when it has to be created (an existing topic is used as it is).',
  format: 'positive-int',
  default: 4,
  env: 'VISITS_PARTITIONS',
};

/**
 * How `visits` is created by whichever service gets there first. Any partition count works (it
 * is read in a consumer group). Record timestamps are set by the broker on arrival
 * (LogAppendTime): the aggregator uses them to know when every visit that arrived before a
 * window's end + grace has been forwarded, which lets quiet windows close on the wall clock.
 */
export function visitsTopicSpec(name: string, partitions: number) {
  return { name, partitions, exactPartitions: false, config: { 'message.timestamp.type': 'LogAppendTime' } };
}
