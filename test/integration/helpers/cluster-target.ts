// Test helper: a 3-node raftis cluster (real `raftis server` processes, helpers/cluster.ts) as a
// differential target. Requests go to the leader; with the default follower mode a follower would
// proxy them, which the cluster's own tests cover. Settings a node cannot take on its command line
// yet are reported by `clusterSupports`, and suites skip those groups.
import { TestCluster } from './cluster.js';
import type { Subject } from './suite.js';
import type { TargetFactory, TargetOptions } from './targets.js';

/**
 * Whether the cluster can run with these settings: requirepass and maxclients change what the
 * harness's own bookkeeping connections see (INFO from the cluster helper, proxy connections),
 * and client-query-buffer-limit has no flag yet.
 */
export function clusterSupports(options: TargetOptions): boolean {
  return options.requirepass === undefined && options.maxclients === undefined && options.clientQueryBufferLimitBytes === undefined;
}

export const startClusterTarget: TargetFactory = async (options) => {
  const extraArgs: string[] = [];
  if (options.protoMaxBulkLenBytes !== undefined) extraArgs.push('--proto-max-bulk-len', String(options.protoMaxBulkLenBytes));
  const cluster = await TestCluster.start({ nodes: 3, extraArgs });
  try {
    const leader = cluster.node(await cluster.waitForLeader());
    return { name: 'raftis 3-node cluster', host: leader.host, port: leader.port, stop: () => cluster.close() };
  } catch (error) {
    await cluster.close();
    throw error;
  }
};

export const CLUSTER_SUBJECT: Subject = { name: 'raftis 3-node cluster (leader)', factory: startClusterTarget, supports: clusterSupports };
