/**
 * What a benchmark on the secured three-node cluster does around its own measurements: start the
 * cluster afresh with Eric's topics, follow the pipeline's lag as admin, and stop everything on
 * Ctrl-C. (`make bench-node-down` uses it; `make bench-faults` does the same steps inline.)
 */
import { loadavg } from 'node:os';
import { DEFAULT_TOPIC_NAMES, type ClusterUser, type SecuredCluster } from '@eric/shared/testing/secured-cluster';
import { PipelineLag } from './pipeline-lag.js';

export interface PipelineShape {
  /** Aggregators, and partitions of the repartition and changelog topics. */
  partitions: number;
  visitsPartitions: number;
  windowSeconds: number;
  graceSeconds: number;
}

/**
 * A service's environment on the cluster: its own user, the default topic and group names the
 * ACLs are for, the pipeline's shape, the services' log level (BENCH_LOG_LEVEL, default warn).
 */
export function serviceEnv(cluster: SecuredCluster, user: ClusterUser, shape: PipelineShape, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...DEFAULT_TOPIC_NAMES,
    ...cluster.kafkaEnv(user),
    PARTITIONS: String(shape.partitions),
    VISITS_PARTITIONS: String(shape.visitsPartitions),
    WINDOW_SECONDS: String(shape.windowSeconds),
    GRACE_SECONDS: String(shape.graceSeconds),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    ...extra,
  };
}

/** Deletes the cluster's state, starts its nodes and provisions Eric's topics as admin, as the chart's Job does. */
export async function startFreshCluster(cluster: SecuredCluster, shape: PipelineShape): Promise<void> {
  await cluster.run('reset');
  process.stdout.write(await cluster.run('start'));
  await cluster.provision({
    PARTITIONS: String(shape.partitions),
    VISITS_PARTITIONS: String(shape.visitsPartitions),
    WINDOW_SECONDS: String(shape.windowSeconds),
    GRACE_SECONDS: String(shape.graceSeconds),
  });
}

/** The lag of both stages' groups, read as admin, connected. */
export async function connectedPipelineLag(cluster: SecuredCluster, shape: PipelineShape): Promise<PipelineLag> {
  const lag = new PipelineLag(cluster.settingsOf('admin'), DEFAULT_TOPIC_NAMES.APPLICATION_ID, {
    visits: DEFAULT_TOPIC_NAMES.TOPIC_VISITS,
    visitsPartitions: shape.visitsPartitions,
    repartition: DEFAULT_TOPIC_NAMES.TOPIC_REPARTITION,
    partitions: shape.partitions,
  });
  await lag.connect();
  return lag;
}

/** On Ctrl-C or SIGTERM: `cleanUp` (stop the services and the cluster), then exit 130. */
export function cleanUpOnSignals(cleanUp: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.log(`\n${signal}: stopping the services and the cluster`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
}

/** The machine's load averages (1, 5, 15 min), for the printed figures: they are noisy on a busy machine. */
export const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** A progress line with the time of day. */
export const logLine = (line: string) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${line}`);
