// Proves the HTTP JSON API (issue 8) end to end on a real 3-node cluster (helpers/cluster.ts),
// over real HTTP to each node's admin port: a value set through one node's API is read through
// another's at once (reads are linearizable, and a follower forwards to the leader, which its
// INFO raft_forwarded counter shows); listing by prefix; delete; a batch is one log entry and its
// keys appear together (a RESP client polling them with MGET never sees part of a batch); a TTL
// is applied (PTTL through RESP) and the key expires; bad input is 400, a body over 1 MiB is 413,
// and once two of the three nodes are gone the survivor (the old leader, then a follower) answers
// 503 after the leader wait (--leader-wait-ms 500 keeps that quick). Every wait is a poll of a
// condition with a deadline.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from './helpers/cluster.js';

const LEADER_WAIT_MS = 500;
const ids = [1, 2, 3];
let cluster: TestCluster;
let leader: number;
let followers: number[];

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function http(id: number, method: string, route: string, body?: unknown): Promise<Answer> {
  const node = cluster.node(id);
  const response = await fetch(`http://${node.host}:${node.httpPort}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  expect(response.headers.get('content-type')).toBe('application/json');
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

function query(values: Record<string, string>): string {
  return new URLSearchParams(values).toString();
}

async function raftInfo(id: number, field: string): Promise<number> {
  return Number((await cluster.infoRaft(id))[field]);
}

beforeAll(async () => {
  cluster = await TestCluster.start({ nodes: 3, extraArgs: ['--leader-wait-ms', String(LEADER_WAIT_MS)] });
  leader = await cluster.waitForLeader();
  await cluster.waitForConvergence();
  followers = ids.filter((id) => id !== leader);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('the API on every node', () => {
  it('a value set through a follower is read through the other follower and the leader at once', async () => {
    const [first, second] = followers as [number, number];
    const forwardedBefore = await raftInfo(first, 'raft_forwarded');
    expect(await http(first, 'POST', '/api/set', { key: 'user:1', value: 'Ada ✓' })).toEqual({ status: 200, body: { success: true } });
    expect(await raftInfo(first, 'raft_forwarded')).toBeGreaterThan(forwardedBefore);
    for (const id of [second, leader]) {
      expect(await http(id, 'GET', `/api/get?${query({ key: 'user:1' })}`)).toEqual({ status: 200, body: { value: 'Ada ✓', found: true } });
    }
    expect(await http(second, 'GET', `/api/get?${query({ key: 'user:none' })}`)).toEqual({ status: 200, body: { found: false } });
    // What the API wrote is what RESP reads.
    expect(await cluster.client(leader).get('user:1')).toBe('Ada ✓');
  });

  it('lists by prefix, and deletes', async () => {
    const [first, second] = followers as [number, number];
    for (const [key, value] of [['user:2', 'Grace'], ['user:3', 'Edsger'], ['users', 'no colon'], ['group:1', 'g']]) {
      expect((await http(first, 'POST', '/api/set', { key, value })).status).toBe(200);
    }
    expect(await http(second, 'GET', `/api/list?${query({ prefix: 'user:' })}`)).toEqual({ status: 200, body: { pairs: [
      { key: 'user:1', value: 'Ada ✓' }, { key: 'user:2', value: 'Grace' }, { key: 'user:3', value: 'Edsger' },
    ] } });
    expect(await http(second, 'DELETE', `/api/delete?${query({ key: 'user:2' })}`)).toEqual({ status: 200, body: { success: true } });
    expect(await http(leader, 'GET', `/api/get?${query({ key: 'user:2' })}`)).toEqual({ status: 200, body: { found: false } });
    expect(await http(first, 'GET', `/api/list?${query({ prefix: 'user:' })}`)).toEqual({ status: 200, body: { pairs: [
      { key: 'user:1', value: 'Ada ✓' }, { key: 'user:3', value: 'Edsger' },
    ] } });
  });

  it('a batch is one log entry', async () => {
    // The cluster is idle: nothing else is proposed between the two readings.
    const before = await raftInfo(leader, 'raft_current_index');
    const sets = Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`one-entry:${k}`, `v${k}`]));
    expect(await http(followers[0] as number, 'POST', '/api/batch', { set: sets, delete: ['user:1', 'user:3', 'nothing'] }))
      .toEqual({ status: 200, body: { success: true } });
    expect(await raftInfo(leader, 'raft_current_index')).toBe(before + 1);
    expect(await cluster.client(leader).mget('user:1', 'user:3', 'one-entry:0', 'one-entry:9')).toEqual([null, null, 'v0', 'v9']);
  });

  it('a batch\'s keys appear together: a RESP reader never sees part of one', async () => {
    const keys = Array.from({ length: 8 }, (_, k) => `atomic:${k}`);
    const reader = cluster.client(leader);
    const generations = 30;
    let done = false;
    const observed: (string | null)[][] = [];
    const reading = (async () => {
      while (!done) observed.push(await reader.mget(...keys));
    })();
    try {
      for (let generation = 1; generation <= generations; generation++) {
        // Alternate nodes: batches through followers are forwarded, through the leader are local.
        const via = ids[generation % ids.length] as number;
        const answer = await http(via, 'POST', '/api/batch', {
          set: Object.fromEntries(keys.slice(generation % 2).map((key) => [key, `g${generation}`])),
          // Odd generations delete the first key instead of setting it: it must vanish together.
          delete: generation % 2 === 1 ? [keys[0]] : [],
        });
        expect(answer, `batch ${generation} via node ${via}`).toEqual({ status: 200, body: { success: true } });
      }
    } finally {
      done = true;
      await reading;
    }
    observed.push(await reader.mget(...keys));
    const torn = observed.filter((values) => {
      const generation = new Set(values.slice(1));
      if (generation.size !== 1) return true;
      const [only] = generation;
      if (only === null) return values[0] !== null;
      const odd = Number(only!.slice(1)) % 2 === 1;
      return odd ? values[0] !== null : values[0] !== only;
    });
    expect(torn.slice(0, 5)).toEqual([]);
    expect(observed.at(-1)).toEqual(keys.map(() => `g${generations}`));
    // The reader overlapped the writes (else this proves nothing).
    expect(new Set(observed.map((values) => values[1])).size).toBeGreaterThan(2);
  });

  it('ttl_ms sets an expiry: the key is there, then gone', async () => {
    const via = followers[1] as number;
    expect(await http(via, 'POST', '/api/set', { key: 'session', value: 's', ttl_ms: 1500 })).toEqual({ status: 200, body: { success: true } });
    const pttl = await cluster.client(leader).pttl('session');
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1500);
    expect(await http(via, 'GET', `/api/get?${query({ key: 'session' })}`)).toEqual({ status: 200, body: { value: 's', found: true } });
    await waitFor('the key to expire', async () =>
      (await http(via, 'GET', `/api/get?${query({ key: 'session' })}`)).body.found === false || undefined, 10_000, 100);
    expect(await http(leader, 'GET', `/api/list?${query({ prefix: 'session' })}`)).toEqual({ status: 200, body: { pairs: [] } });
  });

  it('bad input is 400 with a JSON error, a body over 1 MiB is 413', async () => {
    const via = followers[0] as number;
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', '/api/set', '{"key": "k", "value": ', /not valid JSON/],
      ['POST', '/api/set', { key: 'k' }, /missing field "value"/],
      ['POST', '/api/set', { key: 'k', value: 7 }, /"value" must be a string/],
      ['POST', '/api/set', { key: 'k', value: 'v', ttl_ms: -5 }, /"ttl_ms" must be a positive integer/],
      ['GET', '/api/get', undefined, /missing query parameter "key"/],
      ['POST', '/api/batch', { set: { k: 'v' }, delete: ['k'] }, /both set and deleted/],
    ];
    for (const [method, route, body, message] of cases) {
      const answer = await http(via, method, route, body);
      expect(answer.status, `${method} ${route} ${JSON.stringify(body)}`).toBe(400);
      expect(String(answer.body.error)).toMatch(message);
    }
    const huge = JSON.stringify({ key: 'big', value: 'x'.repeat(1024 * 1024) });
    const answer = await http(via, 'POST', '/api/set', huge);
    expect(answer.status).toBe(413);
    expect(String(answer.body.error)).toMatch(/over 1048576 bytes/);
    expect(await http(leader, 'GET', `/api/get?${query({ key: 'big' })}`)).toEqual({ status: 200, body: { found: false } });
  });
});

describe('without a majority', () => {
  /** Waits until `survivor` knows no leader, then expects 503 from every endpoint after the wait. */
  async function expectUnavailable(survivor: number): Promise<void> {
    const node = cluster.node(survivor);
    await waitFor(`node ${survivor} to know no leader`, async () =>
      (await fetch(`http://${node.host}:${node.httpPort}/health`)).status === 503 || undefined, 15_000, 100);
    for (const [method, route, body] of [
      ['POST', '/api/set', { key: 'k', value: 'v' }], ['GET', `/api/get?${query({ key: 'k' })}`, undefined],
      ['GET', '/api/list', undefined], ['DELETE', `/api/delete?${query({ key: 'k' })}`, undefined], ['POST', '/api/batch', { set: { k: 'v' } }],
    ] as const) {
      const started = Date.now();
      const answer = await http(survivor, method, route, body);
      expect(answer.status, `${method} ${route} on node ${survivor}`).toBe(503);
      expect(String(answer.body.error)).toMatch(/^CLUSTERDOWN/);
      // It waited for a leader before giving up (the wait is checked on ticks: allow one early).
      expect(Date.now() - started).toBeGreaterThanOrEqual(LEADER_WAIT_MS - 100);
    }
  }

  it('a leader left alone steps down, then answers 503 after the leader wait', async () => {
    // The leader must notice it lost its quorum (CheckQuorum) and step down.
    for (const id of followers) await cluster.kill(id);
    await expectUnavailable(leader);
  });

  it('a follower left alone answers 503 after the leader wait', async () => {
    await Promise.all(followers.map((id) => cluster.restart(id)));
    const current = await cluster.waitForLeader();
    const survivor = ids.find((id) => id !== current) as number;
    for (const id of ids.filter((id) => id !== survivor)) await cluster.kill(id);
    await expectUnavailable(survivor);
  });
});
