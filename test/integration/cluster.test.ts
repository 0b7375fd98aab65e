// A real 3-node raftis cluster (one process per node, each on its own loopback address) driven
// through ioredis, as a user's application would: election on start, writes on one node read
// on another, failover after SIGKILL with no acknowledged write lost, catch-up after restart,
// membership changes under load, leadership transfer and graceful shutdown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from './helpers/cluster.js';

describe('a 3-node cluster', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3 });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('elects a leader on start', async () => {
    const leader = await cluster.waitForLeader();
    expect([1, 2, 3]).toContain(leader);
  });

  it('a write on one node is read on every other', async () => {
    const leader = await cluster.waitForLeader();
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    expect(await cluster.client(follower).set('greeting', 'hello')).toBe('OK');
    for (const id of [1, 2, 3]) expect(await cluster.client(id).get('greeting')).toBe('hello');
  });

  it('survives SIGKILL of the leader without losing an acknowledged write, and the old leader catches up', async () => {
    const leader = await cluster.waitForLeader();
    const survivor = [1, 2, 3].find((id) => id !== leader)!;
    const client = cluster.client(survivor);
    const acknowledged: string[] = [];
    for (let k = 0; k < 50; k++) {
      await client.set(`before:${k}`, String(k));
      acknowledged.push(`before:${k}`);
    }
    await cluster.kill(leader);
    const others = [1, 2, 3].filter((id) => id !== leader);
    const next = await cluster.waitForLeader(others, 15_000);
    expect(next).not.toBe(leader);
    // Service continues: writes through the survivor succeed once the new leader is known.
    await waitFor('writes to succeed after failover', async () => (await client.set('after', '1').catch(() => undefined)) === 'OK');
    for (const key of acknowledged) expect(await client.get(key)).not.toBeNull();
    await cluster.restart(leader);
    await cluster.waitForConvergence([1, 2, 3], 20_000);
    expect(await cluster.client(leader).get('after')).toBe('1');
  });

  it('transfers leadership on CLUSTER FAILOVER', async () => {
    const leader = await cluster.waitForLeader();
    const target = [1, 2, 3].find((id) => id !== leader)!;
    expect(await cluster.client(leader).call('CLUSTER', 'FAILOVER', 'TO', String(target))).toBe('OK');
    expect(await cluster.waitForLeader()).toBe(target);
  });

  it('adds a 4th node under load, then removes a node', async () => {
    const leader = await cluster.waitForLeader();
    const writer = cluster.client(leader);
    let stop = false;
    let written = 0;
    const load = (async () => {
      while (!stop) {
        await writer.set(`load:${written}`, String(written));
        written++;
      }
    })();
    await cluster.join(4, leader);
    await waitFor('node 4 to become a voter', async () => {
      const info = await cluster.infoRaft(leader);
      return Number(info.raft_num_voting_nodes) === 4 || undefined;
    }, 30_000);
    stop = true;
    await load;
    expect(written).toBeGreaterThan(0);
    await cluster.waitForConvergence([1, 2, 3, 4], 20_000);
    expect(await cluster.client(4).get(`load:${written - 1}`)).toBe(String(written - 1));
    const removed = [1, 2, 3, 4].find((id) => id !== leader)!;
    expect(await writer.call('CLUSTER', 'REMOVENODE', String(removed))).toBe('OK');
    await waitFor(`removed node ${removed} to stop`, async () => (cluster.node(removed).process?.exitCode !== null ? true : undefined), 20_000);
    const info = await cluster.infoRaft(leader);
    expect(Number(info.raft_num_voting_nodes)).toBe(3);
  });

  it('a graceful shutdown of the leader fails no command beyond the transfer itself', async () => {
    const leader = await cluster.waitForLeader();
    const live = [...cluster.nodes.values()].filter((n) => n.process && n.process.exitCode === null).map((n) => n.id);
    const follower = live.find((id) => id !== leader)!;
    const client = cluster.client(follower);
    const failures: string[] = [];
    let ok = 0;
    let stop = false;
    const load = (async () => {
      for (let k = 0; !stop; k++) {
        try {
          await client.set(`graceful:${k}`, String(k));
          ok++;
        } catch (error) {
          failures.push(String(error));
        }
      }
    })();
    await waitFor('some writes before shutdown', () => (ok > 20 ? true : undefined));
    const code = await cluster.kill(leader, 'SIGTERM');
    const before = ok;
    await waitFor('writes to continue after the shutdown', () => (ok > before + 20 ? true : undefined), 15_000);
    stop = true;
    await load;
    expect(code).toBe(0);
    // A write in flight during the hand-over may be refused with TRYAGAIN; nothing else fails.
    expect(failures.filter((f) => !/TRYAGAIN|lost leadership|transferred/.test(f))).toEqual([]);
    expect(failures.length).toBeLessThanOrEqual(5);
  });
});
