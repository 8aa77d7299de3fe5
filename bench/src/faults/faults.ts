/**
 * The broker faults of `make bench-faults`, each aimed at the node that plays one part for Eric
 * right now: found just before the fault, since leadership moves after every restart.
 */
import { DEFAULT_TOPIC_NAMES, type SecuredCluster } from '@eric/shared/testing/secured-cluster';

export interface Fault {
  /** Its name in BENCH_FAULTS. */
  id: string;
  /** What happens, for the table. */
  title: string;
  /** The node to hit, found now. */
  victim(cluster: SecuredCluster): Promise<number>;
  /** SIGKILL (a crash) or SIGTERM (an orderly stop). */
  how: 'kill' | 'stop';
  /** Whether the node stays down longer than the grace period (the down time is then grace + 5 s). */
  outlastsGrace?: boolean;
}

/** The aggregator's transactional id of count partition 0: `<APPLICATION_ID>-count-<i>` (count-stage.ts). */
const COUNT_0_TRANSACTIONAL_ID = `${DEFAULT_TOPIC_NAMES.APPLICATION_ID}-count-0`;

export const FAULTS: Fault[] = [
  { id: 'visits-leader', title: 'SIGKILL leader of visits[0]', how: 'kill', victim: (c) => c.leaderOf(DEFAULT_TOPIC_NAMES.TOPIC_VISITS, 0) },
  { id: 'repartition-leader', title: 'SIGKILL leader of visits-repartition[0]', how: 'kill', victim: (c) => c.leaderOf(DEFAULT_TOPIC_NAMES.TOPIC_REPARTITION, 0) },
  { id: 'changelog-leader', title: 'SIGKILL leader of the changelog[0]', how: 'kill', victim: (c) => c.leaderOf(DEFAULT_TOPIC_NAMES.TOPIC_CHANGELOG, 0) },
  { id: 'controller', title: 'SIGKILL active KRaft controller', how: 'kill', victim: (c) => c.activeController() },
  { id: 'coordinator', title: `SIGKILL transaction coordinator of ${COUNT_0_TRANSACTIONAL_ID}`, how: 'kill', victim: (c) => c.transactionCoordinatorOf(COUNT_0_TRANSACTIONAL_ID) },
  { id: 'long-stop', title: 'stop leader of active-visitors[0] for grace + 5 s', how: 'stop', outlastsGrace: true, victim: (c) => c.leaderOf(DEFAULT_TOPIC_NAMES.TOPIC_ACTIVE_VISITORS, 0) },
];
