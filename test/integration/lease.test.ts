// --read-mode lease on real processes: reads are served by the leader under its lease and still
// see every acknowledged write, including right after a failover (a new leader serves no lease
// read before it has committed its no-op and heard from a majority).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from './helpers/cluster.js';

describe('lease reads', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, extraArgs: ['--read-mode', 'lease'] });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('read every acknowledged write, before and after a failover', async () => {
    const leader = await cluster.waitForLeader();
    const client = cluster.client(leader);
    for (let k = 0; k < 50; k++) {
      expect(await client.incr('counter')).toBe(k + 1);
      expect(await client.get('counter')).toBe(String(k + 1));
    }
    await cluster.kill(leader);
    const survivors = [1, 2, 3].filter((id) => id !== leader);
    const next = await cluster.waitForLeader(survivors);
    const after = cluster.client(next);
    await waitFor('the new leader to serve', async () => (await after.get('counter').catch(() => undefined)) ?? undefined);
    expect(await after.get('counter')).toBe('50');
    expect(await after.incr('counter')).toBe(51);
    expect(await cluster.client(survivors.find((id) => id !== next)!).get('counter')).toBe('51');
  });
});
