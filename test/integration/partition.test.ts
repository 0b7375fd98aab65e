// A minority partition on real processes: one node of three is cut off from the others by
// nftables drop rules on its loopback address (each node has its own 127.a.b.<id> address and
// dials its peers from it). The isolated node can neither elect a leader nor commit a write; the
// majority keeps serving; after healing, the isolated node catches up and the digests agree.
// Needs root and nft (CI installs nftables and runs as root); otherwise it is skipped, saying so.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from './helpers/cluster.js';

function nftAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('nft', ['list', 'tables'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = nftAvailable();
if (!available) console.warn('partition.test.ts skipped: needs root and the nft command (apt-get install nftables)');

describe.skipIf(!available)('a minority partition', () => {
  let cluster: TestCluster;
  const table = `raftis_test_${process.pid}`;
  const nft = (script: string): void => {
    execFileSync('nft', ['-f', '-'], { input: script });
  };
  const heal = (): void => {
    try {
      execFileSync('nft', ['delete', 'table', 'inet', table], { stdio: 'ignore' });
    } catch {
      // not there: nothing to heal
    }
  };

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, extraArgs: ['--leader-wait-ms', '1500', '--command-timeout-ms', '3000'] });
  }, 60_000);

  afterAll(async () => {
    heal();
    await cluster?.close();
  });

  it('cannot elect or commit, while the majority serves; it catches up after healing', async () => {
    const leader = await cluster.waitForLeader();
    // Isolate a follower, so the majority keeps its leader.
    const isolated = [1, 2, 3].find((id) => id !== leader)!;
    const address = cluster.node(isolated).host;
    const others = [1, 2, 3].filter((id) => id !== isolated).map((id) => cluster.node(id).host).join(', ');
    nft(`table inet ${table} {
      chain output {
        type filter hook output priority 0; policy accept;
        ip saddr ${address} ip daddr { ${others} } drop
        ip saddr { ${others} } ip daddr ${address} drop
      }
    }`);
    try {
      const termBefore = Number((await cluster.infoRaft(isolated)).raft_current_term);
      // The isolated node cannot commit: a write through it fails, and is never applied anywhere.
      const isolatedClient = cluster.client(isolated, { maxRetriesPerRequest: 0 });
      await expect(isolatedClient.set('minority-write', 'x')).rejects.toThrow(/CLUSTERDOWN|TIMEOUT|lost|TRYAGAIN/);
      // Meanwhile the majority serves.
      const majority = cluster.client(leader);
      for (let k = 0; k < 20; k++) expect(await majority.set(`majority:${k}`, String(k))).toBe('OK');
      // Several election timeouts later the isolated node has not become leader, and PreVote kept
      // its term from rising.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const isolatedInfo = await cluster.infoRaft(isolated);
      expect(isolatedInfo.raft_role).not.toBe('leader');
      expect(Number(isolatedInfo.raft_current_term)).toBe(termBefore);
      expect(await majority.get('minority-write')).toBeNull();
    } finally {
      heal();
    }
    await cluster.waitForConvergence([1, 2, 3], 20_000);
    expect(await cluster.client(isolated, { readOnly: true }).get('majority:19')).toBe('19');
    expect(await cluster.client(leader).get('minority-write')).toBeNull();
    expect(await cluster.waitForLeader()).toBe(leader);
    await waitFor('the isolated node to follow the leader', async () =>
      (Number((await cluster.infoRaft(isolated)).raft_leader_id) === leader ? true : undefined));
  });
});
