// What a node writes to disk for the commit index (src/raft/durability.ts, RaftNode.persist), on
// real `raftis server` processes:
//   - a write costs each node one fsync: the Ready that only moves the commit index (on the
//     leader once a follower acknowledged, on a follower once the leader's next message says so)
//     writes nothing. Before, each of those was a WAL write and an fsync of its own, so one
//     client's sequential SETs cost every node two fsyncs each;
//   - that commit index is still written when a node stops gracefully, so a node restarted
//     alone, with no leader to tell it the commit index, serves everything it had applied.
// Every wait is a poll with a deadline.

import { describe, expect, it } from 'vitest';
import { useCluster, waitFor, type TestCluster } from './helpers/cluster.js';

const IDS = [1, 2, 3];
const shared = useCluster({ nodes: 3 });
const live = (): TestCluster => shared.cluster;

async function fsyncCount(id: number): Promise<number> {
  const node = live().node(id);
  const response = await fetch(`http://${node.host}:${node.httpPort}/metrics`);
  expect(response.status).toBe(200);
  const line = (await response.text()).split('\n').find((text) => text.startsWith('raftis_fsync_total '));
  expect(line).toBeDefined();
  return Number(line!.slice('raftis_fsync_total '.length));
}

describe('the commit index on disk', () => {
  it('costs no fsync of its own: one client\'s sequential writes take one fsync per write on every node', async () => {
    const writes = 30;
    const client = live().client(shared.leader);
    expect(await client.set('durable:warm', '0')).toBe('OK');
    await live().waitForConvergence(IDS);
    const before = await Promise.all(IDS.map((id) => fsyncCount(id)));
    for (let at = 0; at < writes; at++) expect(await client.set(`durable:k${at}`, String(at))).toBe('OK');
    // Every node has applied the last write, so every commit index it learned has been through a Ready.
    await live().waitForConvergence(IDS);
    const after = await Promise.all(IDS.map((id) => fsyncCount(id)));
    for (const [at, id] of IDS.entries()) {
      const fsyncs = after[at]! - before[at]!;
      // Each write is an entry the leader makes durable on its own (the next one is sent only
      // after it is acknowledged); a follower that lags may make two durable with one fsync...
      expect(fsyncs, `node ${id}`).toBeGreaterThanOrEqual(id === shared.leader ? writes : writes / 2);
      // ...and nothing else: writing each new commit index took a second fsync per write (60 here).
      expect(fsyncs, `node ${id}`).toBeLessThanOrEqual(writes + 3);
    }
  });

  it('is written at a graceful stop: each node restarted alone serves every write it had applied', async () => {
    const client = live().client(shared.leader);
    for (let at = 0; at < 5; at++) expect(await client.set('durable:last', `v${at}`)).toBe('OK');
    await live().waitForConvergence(IDS);
    const applied = Number((await live().infoRaft(shared.leader)).raft_last_applied_index);
    expect(applied).toBeGreaterThan(0);
    // Followers first, so that no leadership transfer appends an entry that would carry the
    // commit index to disk anyway; the leader, alone, last.
    for (const id of [...IDS.filter((other) => other !== shared.leader), shared.leader]) expect(await live().kill(id, 'SIGTERM'), `node ${id}'s exit code`).toBe(0);
    for (const id of IDS) {
      await live().restart(id);
      const info = await waitFor(`node ${id} to apply what it had applied before the stop`, async () => {
        const raft = await live().infoRaft(id);
        return Number(raft.raft_last_applied_index) >= applied ? raft : undefined;
      }, 15_000, 100);
      expect(info.raft_leader_id, `node ${id} is alone: no leader`).toBe('-1');
      const local = live().client(id);
      expect(await local.call('READONLY')).toBe('OK');
      expect(await local.get('durable:last')).toBe('v4');
      expect(await local.get('durable:k29')).toBe('29');
      expect(await live().kill(id, 'SIGTERM'), `node ${id}'s exit code`).toBe(0);
    }
  });

  it('goes to disk with the next entries: after SIGKILL, a node restarted alone lacks at most the last write', async () => {
    await Promise.all(IDS.map((id) => live().restart(id)));
    const now = await live().waitForLeader();
    const client = live().client(now);
    const writes = 10;
    for (let at = 0; at < writes; at++) expect(await client.set(`durable:after-restart:${at}`, String(at))).toBe('OK');
    await live().waitForConvergence(IDS);
    for (const id of IDS) await live().kill(id, 'SIGKILL');
    const follower = IDS.find((id) => id !== now)!;
    await live().restart(follower);
    const local = live().client(follower);
    expect(await local.call('READONLY')).toBe('OK');
    // Each write's commit index reached the disk with the entry after it (the core hands a hard
    // state out once, when it changes), so only the last write may be missing until a leader
    // says it is committed. Had the unwritten commit index not gone with the next write, none of
    // them would be here.
    for (let at = 0; at < writes - 1; at++) expect(await local.get(`durable:after-restart:${at}`), `write ${at}`).toBe(String(at));
    expect((await live().infoRaft(follower)).raft_leader_id).toBe('-1');
  });
});
