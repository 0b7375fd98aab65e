// Removing the leader of a two-voter cluster, on real `raftis server` processes: the leader
// commits its own removal, tells the other voter the commit index and waits for its answer
// (Raft.leave), steps down and stops; the other voter, now alone in the membership, elects itself
// and takes writes. Before the leader sent that commit index, the other voter never learned that the removal had
// committed, campaigned under the old membership, which needs the removed node's vote, and the
// cluster stayed without a leader (found by the simulator, seed 202968). Every wait is a poll
// with a deadline.

import { expect, it } from 'vitest';
import { useCluster, waitFor } from './helpers/cluster.js';

const shared = useCluster({ nodes: 3 });

it('the last voter of a two-voter cluster whose leader was removed becomes leader and takes writes', async () => {
  const { cluster } = shared;
  const leader = shared.leader;
  const [follower, other] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
  const client = cluster.client(leader);
  expect(await client.call('CLUSTER', 'REMOVENODE', String(other))).toBe('OK');
  await waitFor(`removed node ${other} to stop`, () => (cluster.node(other).process?.exitCode !== null ? true : undefined), 20_000);
  expect(await client.set('two-voters', 'before')).toBe('OK');
  expect(Number((await cluster.infoRaft(leader)).raft_num_voting_nodes)).toBe(2);

  expect(await client.call('CLUSTER', 'REMOVENODE', String(leader))).toBe('OK');
  await waitFor(`removed leader ${leader} to stop`, () => (cluster.node(leader).process?.exitCode !== null ? true : undefined), 20_000);
  const info = await waitFor(`node ${follower} to lead alone`, async () => {
    const raft = await cluster.infoRaft(follower);
    return raft.raft_role === 'leader' ? raft : undefined;
  }, 20_000, 100);
  expect(Number(info.raft_num_voting_nodes)).toBe(1);
  const survivor = cluster.client(follower);
  expect(await survivor.get('two-voters')).toBe('before');
  expect(await survivor.set('one-voter', 'after')).toBe('OK');
  expect(await survivor.get('one-voter')).toBe('after');
});
