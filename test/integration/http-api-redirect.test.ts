// Proves that a follower's HTTP JSON API forwards to the leader also under `--follower-mode
// redirect`, where the same follower answers RESP clients with -MOVED (checked first, so the test
// knows the mode is on). An HTTP client cannot follow a RESP redirect: before the fix every
// endpoint on a follower answered 500 {"error":"MOVED <slot> <host:port>"}. A real 3-node
// cluster, real HTTP requests to a follower's admin port; the follower's INFO raft_forwarded
// counter shows the requests went to the leader, and the leader's RESP reads show their effect.

import { describe, expect, it } from 'vitest';
import { useCluster, waitFor } from './helpers/cluster.js';

const shared = useCluster({ nodes: 3, extraArgs: ['--follower-mode', 'redirect'] });

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

async function http(id: number, method: string, route: string, body?: unknown): Promise<Answer> {
  const node = shared.cluster.node(id);
  const response = await fetch(`http://${node.host}:${node.httpPort}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe('the HTTP API on a follower in redirect mode', () => {
  it('forwards every endpoint to the leader, while RESP clients get MOVED', async () => {
    const { cluster, leader } = shared;
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    await waitFor(`node ${follower} to know the leader`, async () =>
      Number((await cluster.infoRaft(follower)).raft_leader_id) === leader || undefined, 15_000, 100);
    const leaderNode = cluster.node(leader);
    // The error is "MOVED <slot> <leader's client address>".
    await expect(cluster.client(follower, { maxRetriesPerRequest: 0 }).set('resp-key', '1'))
      .rejects.toThrow(new RegExp(`^MOVED \\d+ ${leaderNode.host.replaceAll('.', '\\.')}:${leaderNode.port}$`));

    const forwardedBefore = Number((await cluster.infoRaft(follower)).raft_forwarded);
    const steps: [method: string, route: string, body: unknown, expected: unknown][] = [
      ['POST', '/api/set', { key: 'user:1', value: 'Ada', ttl_ms: 600_000 }, { success: true }],
      ['GET', '/api/get?key=user:1', undefined, { value: 'Ada', found: true }],
      ['POST', '/api/batch', { set: { 'user:2': 'Grace', 'user:3': 'Edsger' }, delete: ['user:1'] }, { success: true }],
      ['GET', '/api/list?prefix=user:', undefined, { pairs: [{ key: 'user:2', value: 'Grace' }, { key: 'user:3', value: 'Edsger' }] }],
      ['DELETE', '/api/delete?key=user:2', undefined, { success: true }],
      ['GET', '/api/get?key=user:2', undefined, { found: false }],
    ];
    for (const [method, route, body, expected] of steps) {
      expect(await http(follower, method, route, body), `${method} ${route}`).toEqual({ status: 200, body: expected });
    }
    expect(Number((await cluster.infoRaft(follower)).raft_forwarded)).toBeGreaterThanOrEqual(forwardedBefore + steps.length);
    expect(await cluster.client(leader).mget('user:1', 'user:2', 'user:3')).toEqual([null, null, 'Edsger']);
  });
});
