// Test helper: a 3-node raftis cluster (real `raftis server` processes, helpers/cluster.ts) as a
// differential target. Requests go to the leader; with the default follower mode a follower would
// proxy them, which the cluster's own tests cover. Every setting of the differential cases is
// given to the nodes as a user would: requirepass, maxclients and proto-max-bulk-len on their
// command lines, client-query-buffer-limit with CONFIG SET on the leader.
import { Redis } from 'ioredis';
import { TestCluster } from './cluster.js';
import type { Subject } from './suite.js';
import type { TargetFactory } from './targets.js';

export const startClusterTarget: TargetFactory = async (options) => {
  const extraArgs: string[] = [];
  if (options.protoMaxBulkLenBytes !== undefined) extraArgs.push('--proto-max-bulk-len', String(options.protoMaxBulkLenBytes));
  if (options.maxclients !== undefined) extraArgs.push('--maxclients', String(options.maxclients));
  const cluster = await TestCluster.start({ nodes: 3, extraArgs, ...(options.requirepass !== undefined ? { password: options.requirepass } : {}) });
  try {
    const leader = cluster.node(await cluster.waitForLeader());
    if (options.clientQueryBufferLimitBytes !== undefined) {
      // A client of its own, closed before the case starts: maxclients must see only the case's.
      const client = new Redis({ host: leader.host, port: leader.port, lazyConnect: true, maxRetriesPerRequest: 0, ...(options.requirepass !== undefined ? { password: options.requirepass } : {}) });
      try {
        await client.connect();
        await client.call('CONFIG', 'SET', 'client-query-buffer-limit', String(options.clientQueryBufferLimitBytes));
      } finally {
        client.disconnect();
      }
    }
    return { name: 'raftis 3-node cluster', host: leader.host, port: leader.port, stop: () => cluster.close() };
  } catch (error) {
    await cluster.close();
    throw error;
  }
};

export const CLUSTER_SUBJECT: Subject = { name: 'raftis 3-node cluster (leader)', factory: startClusterTarget };
