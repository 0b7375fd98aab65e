// Proves that the operator's view follows failures of a real 3-node cluster (processes started by
// helpers/cluster.ts):
// - SIGKILL the leader: an ioredis Cluster client keeps serving once a new leader is elected
//   (it re-reads CLUSTER SLOTS from a survivor, which now names the new leader), no acknowledged
//   write is lost, CLUSTER NODES flags the dead node `fail?`, `raftis status` shows it `down`
//   with the new leader marked, and INFO raft on the leader shows its link is not connected;
// - kill a second node: the last one loses its leader, and then /health answers 503 with the
//   reason, CLUSTER INFO says `cluster_state:fail`, CLUSTER SLOTS and SHARDS are empty, and
//   `raftis status` exits 1 saying there is no leader.
// Every wait is a poll of a condition with a deadline.

import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../src/cli/commands/status.js';
import { parseInfo, TestCluster, waitFor } from './helpers/cluster.js';

let cluster: TestCluster;
let firstLeader: number;
let secondLeader: number;
const ids = [1, 2, 3];

async function status(id: number): Promise<{ code: number; out: string; err: string }> {
  const node = cluster.node(id);
  let out = '';
  let err = '';
  const code = await runStatus({ host: node.host, port: node.port, timeout: 1000 }, (text) => { out += text; }, (text) => { err += text; });
  return { code, out, err };
}

beforeAll(async () => {
  cluster = await TestCluster.start({ nodes: 3 });
  await cluster.waitForLeader();
  // Every replica has applied the leader's first entry, so the leader is settled before we kill it.
  await cluster.waitForConvergence();
  firstLeader = await cluster.waitForLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('after the leader is killed', () => {
  it('an ioredis Cluster client keeps serving through the new leader and loses no acknowledged write', async () => {
    const seed = cluster.node(ids.find((id) => id !== firstLeader) as number);
    const client = new Cluster([{ host: seed.host, port: seed.port }], {
      redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 500 }, slotsRefreshTimeout: 1000,
      // ioredis re-reads CLUSTER SLOTS only on MOVED, CLUSTERDOWN or a command cut by a closed
      // connection; a follower that proxies sends none of those, so ask it to re-read regularly.
      slotsRefreshInterval: 500,
    });
    client.on('error', () => undefined);
    try {
      const acknowledged = new Map<string, string>();
      for (let k = 0; k < 20; k++) {
        await client.set(`failover:${k}`, `v${k}`);
        acknowledged.set(`failover:${k}`, `v${k}`);
      }
      expect(client.nodes('master').map((node) => node.options.host)).toEqual([cluster.node(firstLeader).host]);

      await cluster.kill(firstLeader);
      const survivors = ids.filter((id) => id !== firstLeader);
      secondLeader = await cluster.waitForLeader(survivors);

      // The client finds the new leader by itself; a command may fail while it does.
      await waitFor('the cluster client to write through the new leader', async () => {
        try {
          return (await client.set('failover:after', 'yes')) === 'OK' || undefined;
        } catch {
          return undefined;
        }
      }, 20_000, 100);
      acknowledged.set('failover:after', 'yes');
      for (const [key, value] of acknowledged) expect(await client.get(key)).toBe(value);
      // Meanwhile a survivor may have proxied the write; the client's own slot map must still
      // come to name the new leader.
      await waitFor('the cluster client to map the slots to the new leader', () =>
        client.nodes('master').map((node) => node.options.host).join() === cluster.node(secondLeader).host || undefined, 10_000, 50);
    } finally {
      client.disconnect();
    }
  });

  it('CLUSTER SLOTS names the new leader and CLUSTER NODES flags the dead node', async () => {
    const survivors = ids.filter((id) => id !== firstLeader);
    for (const id of survivors) {
      const slots = await cluster.client(id).call('CLUSTER', 'SLOTS') as [number, number, unknown[], ...unknown[][]][];
      expect(slots).toHaveLength(1);
      expect(slots[0]?.[2].slice(0, 2)).toEqual([cluster.node(secondLeader).host, 7001]);
      // The dead node is not offered as a replica.
      expect(slots[0]?.slice(3).map((replica) => (replica as unknown[])[0])).toEqual(survivors.filter((s) => s !== secondLeader).map((s) => cluster.node(s).host));
      const dead = String(await cluster.client(id).call('CLUSTER', 'NODES')).split('\n').find((line) => line.includes(`${cluster.node(firstLeader).host}:7001`));
      expect(dead?.split(' ')[2]).toBe('slave,fail?');
      expect(dead?.split(' ')[7]).toBe('disconnected');
    }
    const info = parseInfo(String(await cluster.client(secondLeader).call('INFO', 'raft')));
    const line = Object.entries(info).find(([name, value]) => /^raft_node\d+$/.test(name) && value.startsWith(`id=${firstLeader},`))?.[1];
    expect(line).toMatch(/connection=(connecting|backoff|refused)$/);
  });

  it('raftis status shows the dead node down and the new leader marked', async () => {
    const { code, out, err } = await status(ids.find((id) => id !== firstLeader) as number);
    expect(err).toBe('');
    expect(code).toBe(0);
    const rows = out.split('\n').slice(1, 4).map((row) => row.trim().split(/\s+/));
    const byId = new Map(rows.map((row) => (row[0] === '*' ? [row[1], row] : [row[0], ['', ...row]])));
    expect(byId.get(String(firstLeader))?.[3]).toBe('down');
    expect(byId.get(String(secondLeader))?.slice(0, 4)).toEqual(['*', String(secondLeader), `${cluster.node(secondLeader).host}:7001`, 'leader']);
    expect(out).toContain('2 of 3 nodes answering');
  });
});

describe('after a majority is lost', () => {
  it('the last node reports no leader: /health 503, cluster_state:fail, empty SLOTS and SHARDS, status exits 1', async () => {
    const last = ids.find((id) => id !== firstLeader && id !== secondLeader) as number;
    await cluster.kill(secondLeader);
    const node = cluster.node(last);
    const health = await waitFor('the last node to lose its leader', async () => {
      const response = await fetch(`http://${node.host}:${node.httpPort}/health`);
      return response.status === 503 ? await response.json() as Record<string, unknown> : undefined;
    }, 20_000, 100);
    expect(health).toMatchObject({ status: 'unavailable', id: last, leader: null });
    expect(String(health.reason)).toMatch(/^no leader known \(this node is (follower|pre-candidate|candidate) in term \d+\)$/);

    const client = cluster.client(last);
    expect(parseInfo(String(await client.call('CLUSTER', 'INFO'))).cluster_state).toBe('fail');
    expect(await client.call('CLUSTER', 'SLOTS')).toEqual([]);
    expect(await client.call('CLUSTER', 'SHARDS')).toEqual([]);
    expect(parseInfo(String(await client.call('INFO', 'raft'))).raft_leader_id).toBe('-1');

    const { code, out } = await status(last);
    expect(code).toBe(1);
    expect(out).toContain('no leader; 1 of 3 nodes answering');
  });
});
