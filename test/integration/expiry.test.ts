// Proves deterministic expiry on a real 3-node cluster (one `raftis server` process per node):
// - a relative TTL becomes one absolute time, carried by the log entry, so every replica stores
//   the same PEXPIRETIME (read locally on each follower with READONLY);
// - once a key's time has passed the leader deletes it through the log, so the followers, which
//   never expire keys on their own, free it too: INFO keyspace (which counts stored keys, expired
//   or not) drops it on every node, and the keyspace digests agree.
// Every wait is a poll of a condition with a deadline.
import { describe, expect, it } from 'vitest';
import { parseInfo, useCluster, waitFor } from './helpers/cluster.js';

const shared = useCluster({ nodes: 3 });

describe('deterministic expiry', () => {
  it('stores the same absolute expiry time on every replica for a relative TTL', async () => {
    const { cluster, leader } = shared;
    const client = cluster.client(leader);
    expect(await client.set('exp:relative', 'v', 'PX', 3_600_000)).toBe('OK');
    expect(await client.expire('exp:relative-seconds', 100)).toBe(0);
    expect(await client.set('exp:relative-seconds', 'v', 'EX', 7200)).toBe('OK');
    await cluster.waitForConvergence();
    const times = new Map<number, unknown[]>();
    for (const id of cluster.nodes.keys()) {
      const local = cluster.client(id);
      expect(await local.call('READONLY')).toBe('OK');
      times.set(id, [await local.call('PEXPIRETIME', 'exp:relative'), await local.call('PEXPIRETIME', 'exp:relative-seconds')]);
    }
    const leaderTimes = times.get(leader)!;
    expect(leaderTimes[0]).toBeGreaterThan(Date.now());
    for (const [id, nodeTimes] of times) expect(nodeTimes, `node ${id}`).toEqual(leaderTimes);
  });

  it('deletes a key whose time has passed through the log, on every replica', async () => {
    const { cluster, leader } = shared;
    const client = cluster.client(leader);
    await client.flushall();
    expect(await client.set('exp:short', 'v', 'PX', 200)).toBe('OK');
    expect(await client.set('exp:kept', 'v')).toBe('OK');
    await cluster.waitForConvergence();
    // Followers hold the key until the leader's expiry entry reaches them.
    await waitFor('every replica to free the expired key', async () => {
      const spaces = await Promise.all([...cluster.nodes.keys()].map(async (id) => parseInfo(await cluster.client(id).info('keyspace')).db0));
      return spaces.every((space) => space?.startsWith('keys=1,expires=0,')) ? spaces : undefined;
    });
    expect(await client.get('exp:short')).toBeNull();
    expect(await client.get('exp:kept')).toBe('v');
    await cluster.waitForConvergence();
  });
});
