/**
 * The partition layout check: the aggregator only counts correctly when the number of processes
 * (StatefulSet replicas), the partitions of the repartition topic and the partitions of the
 * changelog topic are all P. Faust refuses to start on such a mismatch; Eric keeps running what it
 * can, reports the mismatch in /ready (not ready; the check is named "topology" there), in
 * eric_aggregator_topology_mismatch and in the log, and says how to fix it. This is what makes
 * scaling a documented operation rather than an outage.
 */
import { AppsV1Api, KubeConfig } from '@kubernetes/client-node';
import type { CheckResult, Logger, TopicAdmin } from '@eric/shared';

export interface PartitionLayoutFacts {
  partitions: number;
  repartitionTopic: string;
  changelogTopic: string;
  repartitionPartitions: number;
  changelogPartitions: number;
  /** Replicas of the StatefulSet, or undefined outside Kubernetes. */
  replicas: number | undefined;
  statefulSet?: string;
}

/** Pure: the problems in a set of facts, each with its fix. */
export function partitionLayoutProblems(facts: PartitionLayoutFacts): string[] {
  const problems: string[] = [];
  const p = facts.partitions;
  for (const [topic, count] of [
    [facts.repartitionTopic, facts.repartitionPartitions],
    [facts.changelogTopic, facts.changelogPartitions],
  ] as const) {
    if (count !== p) {
      problems.push(
        count < p
          ? `topic ${topic} has ${count} partitions but PARTITIONS is ${p}: add partitions (kafka-topics.sh --alter --topic ${topic} --partitions ${p}) as in the scaling procedure of docs/aggregator.md`
          : `topic ${topic} has ${count} partitions but PARTITIONS is ${p}: set PARTITIONS (the chart's aggregator.replicas) to ${count}`,
      );
    }
  }
  if (facts.replicas !== undefined && facts.replicas !== p) {
    problems.push(
      `StatefulSet ${facts.statefulSet ?? ''} has ${facts.replicas} replicas but PARTITIONS is ${p}: scale with helm upgrade --set aggregator.replicas=N, which changes both together`,
    );
  }
  return problems;
}

/** Reads the replica count of a StatefulSet through the Kubernetes API (needs `get statefulsets`). */
export class StatefulSetReplicas {
  readonly #api: AppsV1Api;

  constructor(
    readonly name: string,
    readonly namespace: string,
    inCluster: boolean,
  ) {
    const config = new KubeConfig();
    if (inCluster) config.loadFromCluster();
    else config.loadFromDefault();
    this.#api = config.makeApiClient(AppsV1Api);
  }

  async replicas(): Promise<number> {
    const statefulSet = await this.#api.readNamespacedStatefulSet({ name: this.name, namespace: this.namespace });
    return statefulSet.spec?.replicas ?? 1;
  }
}

export interface PartitionLayoutCheckOptions {
  partitions: number;
  topics: { repartition: string; changelog: string };
  admin: TopicAdmin;
  statefulSet: StatefulSetReplicas | undefined;
  logger: Logger;
  onResult: (mismatch: boolean) => void;
}

/** Runs the check now and then every `intervalMs`, keeping the latest verdict for /ready. */
export class PartitionLayoutCheck {
  #result: CheckResult = { ready: false, detail: 'topology not checked yet' };
  #timer: NodeJS.Timeout | undefined;
  #lastProblems = '';
  #running = false;

  constructor(private readonly options: PartitionLayoutCheckOptions) {}

  get result(): CheckResult {
    return this.#result;
  }

  async start(intervalMs = 30_000): Promise<void> {
    await this.check();
    this.#timer = setInterval(() => void this.#checkUnlessRunning(), intervalMs);
    this.#timer.unref();
  }

  /**
   * One check at a time: after a broker outage librdkafka's Admin API can leave a request
   * unanswered for minutes, and each one holds a libuv thread; new checks must not pile up.
   */
  async #checkUnlessRunning(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.check();
    } finally {
      this.#running = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async check(): Promise<CheckResult> {
    const { admin, topics, statefulSet, partitions, logger } = this.options;
    try {
      const [repartitionPartitions, changelogPartitions, replicas] = await Promise.all([
        admin.partitionCount(topics.repartition),
        admin.partitionCount(topics.changelog),
        statefulSet?.replicas(),
      ]);
      const problems = partitionLayoutProblems({
        partitions,
        repartitionTopic: topics.repartition,
        changelogTopic: topics.changelog,
        repartitionPartitions,
        changelogPartitions,
        replicas,
        statefulSet: statefulSet?.name,
      });
      const kubernetes = statefulSet ? `StatefulSet ${statefulSet.name} has ${replicas} replicas` : 'not running in Kubernetes: replica check skipped';
      this.#result = problems.length === 0
        ? { ready: true, detail: `P = ${partitions}; ${kubernetes}` }
        : { ready: false, detail: problems.join('; ') };
      const summary = problems.join('; ');
      if (summary !== this.#lastProblems) {
        if (problems.length > 0) logger.error({ problems }, 'topology mismatch: this pod is not ready until it is fixed');
        else logger.info({ partitions, kubernetes }, 'topology check passed');
        this.#lastProblems = summary;
      }
      this.options.onResult(problems.length > 0);
    } catch (error) {
      // An unreachable API is not a mismatch: keep the last verdict and say why it is stale.
      logger.warn({ err: error }, 'topology check failed');
      if (this.#result.detail === 'topology not checked yet') {
        this.#result = { ready: false, detail: `topology check failed: ${(error as Error).message}` };
      }
    }
    return this.#result;
  }
}
