// --follower-mode redirect: followers answer -MOVED <slot> <leader>, as Redis Cluster replicas
// do, and `redis-cli -c` follows it to the leader — before and after a failover (SIGKILL of the
// leader). Skipped with a message if redis-cli is not installed (CI installs redis-tools).
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from './helpers/cluster.js';

const HAVE_REDIS_CLI = spawnSync('redis-cli', ['--version']).status === 0;
if (!HAVE_REDIS_CLI) console.warn('redirect.test.ts skipped: redis-cli is not installed (apt-get install redis-tools)');

function redisCli(host: string, port: number, ...args: string[]): string {
  const result = spawnSync('redis-cli', ['-c', '-h', host, '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
  return `${result.stdout}${result.stderr}`.trim();
}

describe.skipIf(!HAVE_REDIS_CLI)('redirect mode with redis-cli -c', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, extraArgs: ['--follower-mode', 'redirect'] });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('a follower answers MOVED, and redis-cli -c follows it across a failover', async () => {
    const leader = await cluster.waitForLeader();
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const { host, port } = cluster.node(follower);
    const leaderNode = cluster.node(leader);
    await expect(cluster.client(follower, { maxRetriesPerRequest: 0 }).set('foo', '1'))
      .rejects.toThrow(`MOVED 12182 ${leaderNode.host}:${leaderNode.port}`);
    expect(redisCli(host, port, 'SET', 'foo', 'bar')).toBe('OK');
    expect(redisCli(host, port, 'GET', 'foo')).toBe('bar');
    await cluster.kill(leader);
    const survivors = [1, 2, 3].filter((id) => id !== leader);
    const next = await cluster.waitForLeader(survivors);
    const other = survivors.find((id) => id !== next)!;
    const otherNode = cluster.node(other);
    await waitFor('redis-cli -c to reach the new leader', () => (redisCli(otherNode.host, otherNode.port, 'SET', 'foo', 'baz') === 'OK' ? true : undefined));
    expect(redisCli(otherNode.host, otherNode.port, 'GET', 'foo')).toBe('baz');
  });
});

describe.skipIf(!HAVE_REDIS_CLI)('CLUSTER LEAVE sent to a follower in redirect mode', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, extraArgs: ['--follower-mode', 'redirect'] });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  // Regression: the follower answered -MOVED, redis-cli -c followed it to the leader, and the
  // leader removed itself. Membership commands are forwarded, naming the node they came to.
  it('removes that follower, not the leader', async () => {
    const leader = await cluster.waitForLeader();
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const { host, port } = cluster.node(follower);
    expect(redisCli(host, port, 'CLUSTER', 'LEAVE')).toBe('OK');
    await waitFor(`node ${follower} to stop`, () => (cluster.node(follower).process?.exitCode !== null ? true : undefined), 20_000);
    const info = await cluster.infoRaft(leader);
    expect(info.raft_role).toBe('leader');
    expect(Number(info.raft_num_voting_nodes)).toBe(2);
  });
});
