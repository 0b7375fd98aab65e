// A node removed from the cluster and then restarted with its old data directory must find out
// that it was removed and stop, with a log line saying so, rather than sit without a leader
// forever. Real `raftis server` processes (helpers/cluster.ts):
// - node 4 joined with --join, was stopped, removed while down (CLUSTER REMOVENODE), then
//   restarted with its data directory and --join still in its settings;
// - node 5 joined with --join, was removed while running (it stops), then restarted.
// Before the fix neither stopped: a node that joined learns the members' addresses only when they
// dial it, and after a restart nobody dials a removed node, so it never heard the refusals.
// Every wait is a poll or a promise with a deadline.

import { describe, expect, it } from 'vitest';
import { useCluster, waitFor } from './helpers/cluster.js';

const shared = useCluster({ nodes: 3 });

/** Resolves with the node's exit code, or rejects once `timeoutMs` passed with it still running. */
async function exitOf(id: number, timeoutMs: number): Promise<number | null> {
  const node = shared.cluster.node(id);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      node.exited as Promise<number | null>,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`node ${id} still running after ${timeoutMs} ms; its log ends:\n${shared.cluster.logs(id).split('\n').slice(-8).join('\n')}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Joins node `id` through the leader and waits until every member is connected to it and it votes. */
async function joinAndSettle(id: number): Promise<number> {
  const leader = await shared.cluster.waitForLeader([1, 2, 3]);
  await shared.cluster.join(id, leader);
  await waitFor(`node ${id} to be a voter connected to every member`, async () => {
    const info = await shared.cluster.infoRaft(id);
    const peers = Object.entries(info).filter(([name]) => /^raft_node\d+$/.test(name)).map(([, value]) => value);
    return info.raft_is_voting === 'yes' && peers.length === 3 && peers.every((line) => line.endsWith('connection=connected')) || undefined;
  }, 30_000);
  await shared.cluster.waitForConvergence([1, 2, 3, id], 20_000);
  return leader;
}

describe('a removed node restarted with its old data directory', () => {
  it('stops when it was removed while it was down (it had joined with --join)', async () => {
    const leader = await joinAndSettle(4);
    await shared.cluster.kill(4, 'SIGTERM');
    expect(await shared.cluster.client(leader).call('CLUSTER', 'REMOVENODE', '4')).toBe('OK');
    expect(await shared.cluster.client(leader).set('after-removal', '1')).toBe('OK');

    const via = shared.cluster.node(leader);
    await shared.cluster.spawn(4, ['--join', `${via.host}:${via.port}`], false);
    const code = await exitOf(4, 20_000);
    expect(shared.cluster.logs(4)).toMatch(/the cluster refuses this node as removed; stopping/);
    expect(code).toBe(0);
    // The cluster carries on without it.
    expect(await shared.cluster.client(leader).set('after-restart', '1')).toBe('OK');
  });

  it('stops again when restarted after it was removed while running (and stopped then)', async () => {
    const leader = await joinAndSettle(5);
    expect(await shared.cluster.client(leader).call('CLUSTER', 'REMOVENODE', '5')).toBe('OK');
    expect(await exitOf(5, 20_000)).toBe(0);
    const before = shared.cluster.logs(5).length;

    const via = shared.cluster.node(leader);
    await shared.cluster.spawn(5, ['--join', `${via.host}:${via.port}`], false);
    const code = await exitOf(5, 20_000);
    expect(shared.cluster.logs(5).slice(before)).toMatch(/removed from the cluster; stopping|refuses this node as removed; stopping/);
    expect(code).toBe(0);
  });
});
