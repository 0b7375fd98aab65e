// The HTTP JSON API checks the password a node has (`--requirepass`, or CONFIG SET requirepass),
// as RESP's AUTH does: found in the issue 8 audit, where with --requirepass secret the API read and
// wrote keys without any password. A real 3-node cluster started with --requirepass, real HTTP
// requests to a follower (forwarded to the leader) and to the leader; RESP reads with the password
// show what was written and what was not.

import { describe, expect, it } from 'vitest';
import { useCluster, waitFor } from './helpers/cluster.js';

const PASSWORD = 'open sesame';
const shared = useCluster({ nodes: 3, password: PASSWORD });

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly challenge: string | null;
}

async function http(id: number, method: string, route: string, authorization: string | undefined, body?: unknown): Promise<Answer> {
  const node = shared.cluster.node(id);
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(`http://${node.host}:${node.httpPort}${route}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), challenge: response.headers.get('www-authenticate') };
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('the HTTP API with --requirepass', () => {
  it('refuses requests without the password (401, nothing written) and serves those with it', async () => {
    const { cluster, leader } = shared;
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    const resp = cluster.client(leader);
    await waitFor(`node ${follower} to know the leader`, async () =>
      Number((await cluster.infoRaft(follower)).raft_leader_id) === leader || undefined, 15_000, 100);

    const refused: [string | undefined, string][] = [
      [undefined, 'NOAUTH Authentication required: send the password as "Authorization: Bearer <password>" or Basic auth'],
      ['Bearer wrong', 'WRONGPASS invalid username-password pair or user is disabled.'],
      [basic('default', 'wrong'), 'WRONGPASS invalid username-password pair or user is disabled.'],
      [basic('alice', PASSWORD), 'WRONGPASS invalid username-password pair or user is disabled.'],
      ['Digest abc', 'NOAUTH the Authorization header must be "Bearer <password>" or Basic'],
    ];
    for (const [authorization, error] of refused) {
      for (const id of [follower, leader]) {
        const answer = await http(id, 'POST', '/api/set', authorization, { key: 'k', value: 'stolen' });
        expect(answer, `${authorization} on node ${id}`).toEqual({ status: 401, body: { error }, challenge: 'Basic realm="raftis", charset="UTF-8"' });
        expect((await http(id, 'GET', '/api/get?key=k', authorization)).status).toBe(401);
      }
    }
    expect(await resp.exists('k')).toBe(0);

    expect((await http(follower, 'POST', '/api/set', `Bearer ${PASSWORD}`, { key: 'k', value: 'v1' })).body).toEqual({ success: true });
    expect((await http(leader, 'GET', '/api/get?key=k', basic('default', PASSWORD))).body).toEqual({ value: 'v1', found: true });
    // curl -u :password sends an empty user name: the default user, as AUTH <password> is.
    expect((await http(follower, 'GET', '/api/get?key=k', basic('', PASSWORD))).body).toEqual({ value: 'v1', found: true });
    expect(await resp.get('k')).toBe('v1');
  });

  it('follows CONFIG SET requirepass at once, and is open again without a password', async () => {
    const { cluster, leader } = shared;
    const resp = cluster.client(leader);
    try {
      await resp.config('SET', 'requirepass', '');
      expect(await http(leader, 'POST', '/api/set', undefined, { key: 'open', value: '1' })).toEqual({ status: 200, body: { success: true }, challenge: null });
      await resp.config('SET', 'requirepass', 'other');
      expect((await http(leader, 'GET', '/api/get?key=open', `Bearer ${PASSWORD}`)).status).toBe(401);
      expect((await http(leader, 'GET', '/api/get?key=open', 'Bearer other')).body).toEqual({ value: '1', found: true });
    } finally {
      await resp.config('SET', 'requirepass', PASSWORD);
    }
  });
});
