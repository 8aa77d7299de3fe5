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
