// Proves the operator's view of a real 3-node cluster (one `raftis server` process per node, on
// loopback addresses of their own, started by helpers/cluster.ts):
// - INFO raft on every node agrees on the leader, lists the two other members with their
//   addresses and connection state, and on the leader their match indexes catch up with its log;
//   INFO keyspace counts keys written through another node;
// - CLUSTER SLOTS / NODES / INFO / MYID / KEYSLOT from every node describe the same one-shard
//   cluster with the leader as master, so an ioredis Cluster client seeded with a follower sends
//   its commands to the leader, and `redis-cli -c` works (when redis-cli is installed);
// - the HTTP admin port: /health, /metrics and /api/stats of every node;
// - `raftis status` and `raftis cli` as processes: the table, redis-cli's reply formats, exit codes;
// - CONFIG SET changes a node's connection settings, as INFO shows;
// - INFO's field names are redis-server's own (compared with a real one, when installed).
// Every wait is a poll of a condition with a deadline.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendCommands } from '../../src/cli/commands/cli.js';
import { parseInfo, TestCluster, waitFor } from './helpers/cluster.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
const HAVE_REDIS_CLI = spawnSync('redis-cli', ['--version']).status === 0;
const HAVE_REDIS_SERVER = spawnSync('redis-server', ['--version']).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

let cluster: TestCluster;
let leaderId: number;
const ids = [1, 2, 3];

/**
 * The `raftis` entry to run. main.ts once it registers `status` and `cli`; until then a copy of
 * its yargs setup with just these two commands, so the command modules still run as processes.
 */
function raftisEntry(): string {
  if (/statusCommand/.test(fs.readFileSync(MAIN, 'utf8')) && /cliCommand/.test(fs.readFileSync(MAIN, 'utf8'))) return MAIN;
  // .mts: the directory is outside the package, where a .ts file would be read as CommonJS.
  const entry = path.join(cluster.dir, 'raftis-entry.mts');
  const module = (relative: string): string => JSON.stringify(path.join(ROOT, relative));
  fs.writeFileSync(entry, [
    `import yargs from ${module('node_modules/yargs/index.mjs')};`,
    `import { hideBin } from ${module('node_modules/yargs/helpers/helpers.mjs')};`,
    `import { cliCommand } from ${module('src/cli/commands/cli.ts')};`,
    `import { statusCommand } from ${module('src/cli/commands/status.ts')};`,
    "await yargs(hideBin(process.argv)).scriptName('raftis').command(statusCommand).command(cliCommand)",
    "  .demandCommand(1, 'name a command: see --help').strict().help().parseAsync();",
  ].join('\n'));
  return entry;
}

/** Runs `raftis <args>` as a process. */
function raftis(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', raftisEntry(), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('latin1'); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function http(id: number, route: string): Promise<Response> {
  const node = cluster.node(id);
  return fetch(`http://${node.host}:${node.httpPort}${route}`);
}

async function infoRaftOf(id: number): Promise<Record<string, string>> {
  return cluster.infoRaft(id);
}

beforeAll(async () => {
  cluster = await TestCluster.start({ nodes: 3 });
  leaderId = await cluster.waitForLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

const followers = (): number[] => ids.filter((id) => id !== leaderId);

/**
 * Waits until every node follows one leader, is connected to both peers and has committed and
 * applied the leader's first entry; sets leaderId and returns the nodes' INFO raft of that
 * moment. A test that asserts who leads calls it first, so an election under a loaded machine
 * (or a follower a heartbeat behind) shows up as a wait, not as a wrong answer.
 */
async function settled(): Promise<Map<number, Record<string, string>>> {
  const infos = await waitFor('every node to follow one leader, connected, with its first entry applied', async () => {
    const all = await Promise.all(ids.map(infoRaftOf));
    const leaders = new Set(all.map((info) => info.raft_leader_id));
    const ready = all.every((info) => Number(info.raft_last_applied_index) > 0 && Number(info.raft_commit_index) > 0
      && Object.entries(info).filter(([name]) => /^raft_node\d+$/.test(name)).every(([, value]) => value.endsWith('connection=connected')));
    return leaders.size === 1 && !leaders.has('-1') && ready ? new Map(all.map((info, at) => [ids[at] as number, info])) : undefined;
  });
  leaderId = Number(infos.get(1)?.raft_leader_id);
  return infos;
}

describe('INFO raft', () => {
  it('agrees on the leader on every node and lists the other members, connected, with their addresses', async () => {
    const infos = await settled();
    for (const id of ids) {
      const info = infos.get(id) as Record<string, string>;
      expect(info).toMatchObject({
        raft_node_id: String(id), raft_state: 'up', raft_role: id === leaderId ? 'leader' : 'follower',
        raft_leader_id: String(leaderId), raft_num_nodes: '3', raft_num_voting_nodes: '3', raft_is_voting: 'yes',
      });
      const others = ids.filter((other) => other !== id);
      expect([info.raft_node1, info.raft_node2].map((line) => line?.replace(/match_index=-?\d+/, 'match_index=M'))).toEqual(
        others.map((other) => `id=${other},addr=${cluster.node(other).host},port=7001,voting=yes,match_index=M,connection=connected`));
      expect(info.raft_node3).toBeUndefined();
      for (const field of ['raft_current_term', 'raft_commit_index', 'raft_last_applied_index', 'raft_log_entries', 'raft_fsync_count']) {
        expect(Number(info[field]), field).toBeGreaterThan(0);
      }
    }
  });

  it('shows on the leader each follower\'s match index reaching its last index after writes', async () => {
    await settled();
    const client = cluster.client(followers()[0] as number);
    for (let k = 0; k < 20; k++) await client.set(`match:${k}`, String(k));
    await waitFor('followers to match the leader\'s log', async () => {
      const info = await infoRaftOf(leaderId);
      const last = info.raft_current_index;
      return [info.raft_node1, info.raft_node2].every((line) => line?.includes(`match_index=${last},`)) || undefined;
    });
    const follower = await infoRaftOf(followers()[0] as number);
    expect(follower.raft_node1).toContain('match_index=-1');
  });

  it('counts keys written through another node in INFO keyspace, and writes Redis\'s sections', async () => {
    const client = cluster.client(leaderId);
    await client.flushall();
    await client.mset('ks:a', '1', 'ks:b', '2', 'ks:c', '3');
    await client.set('ks:ttl', 'x', 'EX', 1000);
    await client.select(2);
    await client.set('ks:other-db', 'y');
    for (const id of ids) {
      const keyspace = await waitFor(`node ${id} to apply the writes`, async () => {
        const info = parseInfo(await cluster.client(id).info('keyspace'));
        return info.db0?.startsWith('keys=4,expires=1,') && info.db2 === 'keys=1,expires=0,avg_ttl=0' ? info : undefined;
      });
      expect(Number(keyspace.db0?.split('avg_ttl=')[1])).toBeGreaterThan(900_000);
    }
    const everything = await cluster.client(followers()[0] as number).info('everything');
    expect(everything.match(/^# \w+/gm)).toEqual(['# Server', '# Clients', '# Memory', '# Persistence', '# Stats', '# Replication', '# CPU',
      '# Modules', '# Cluster', '# Keyspace', '# Raft']);
    const server = parseInfo(everything);
    expect(server.redis_version).toMatch(/^7\./);
    expect(server.tcp_port).toBe('7001');
    expect(server.role).toBe('slave');
    expect(server.master_host).toBe(cluster.node(leaderId).host);
  });
});

describe('INFO field names', () => {
  /** Fields raftis adds to Redis's sections. */
  const RAFTIS_ONLY = new Set(['raftis_version', 'nodejs_version', 'raftis_heap_used', 'raftis_external_used', 'raftis_value_arena_used', 'raftis_value_arena_allocated',
    'raftis_key_table_used', 'raftis_key_table_allocated']);

  it.skipIf(!HAVE_REDIS_SERVER)('are Redis 7\'s own in every section redis-server also writes (with appendonly, as raftis logs every write)', async () => {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(cluster.dir, 'redis-'));
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir], { stdio: 'ignore' });
    try {
      const reference = await waitFor('redis-server to answer INFO', async () => {
        const replies = await sendCommands('127.0.0.1', port, [['INFO', 'default']], 1000).catch(() => undefined);
        const reply = replies?.[0];
        return reply?.kind === 'bulk' ? reply.value.toString('latin1') : undefined;
      });
      const sectionsOf = (text: string): Map<string, Set<string>> => {
        const sections = new Map<string, Set<string>>();
        let current = new Set<string>();
        for (const line of text.split('\r\n')) {
          if (line.startsWith('# ')) sections.set(line.slice(2), current = new Set());
          else if (line.includes(':')) current.add(line.slice(0, line.indexOf(':')));
        }
        return sections;
      };
      const redisSections = sectionsOf(reference);
      // Replication is left out: a standalone master does not write a replica's fields.
      for (const id of [leaderId, followers()[0] as number]) {
        const ours = sectionsOf(await cluster.client(id).info('default'));
        expect([...ours.keys()].filter((title) => !redisSections.has(title))).toEqual([]);
        for (const [title, fields] of ours) {
          if (title === 'Replication' || title === 'Keyspace') continue;
          const foreign = [...fields].filter((field) => !RAFTIS_ONLY.has(field) && !redisSections.get(title)?.has(field));
          expect(foreign, `# ${title}`).toEqual([]);
        }
      }
    } finally {
      redis.kill('SIGKILL');
    }
  });
});

describe('CLUSTER replies', () => {
  it('name the leader as master of every slot and the followers as replicas, from every node', async () => {
    await settled();
    const names = new Map<number, string>();
    for (const id of ids) names.set(id, String(await cluster.client(id).call('CLUSTER', 'MYID')));
    expect(new Set(names.values()).size).toBe(3);
    for (const name of names.values()) expect(name).toMatch(/^[0-9a-f]{40}$/);
    for (const id of ids) {
      const slots = await cluster.client(id).call('CLUSTER', 'SLOTS') as unknown[][];
      expect(slots).toHaveLength(1);
      const [first, last, master, ...replicas] = slots[0] as [number, number, unknown[], ...unknown[][]];
      expect([first, last]).toEqual([0, 16383]);
      expect(master.slice(0, 3)).toEqual([cluster.node(leaderId).host, 7001, names.get(leaderId)]);
      expect(replicas.map((replica) => replica.slice(0, 3))).toEqual(followers().map((f) => [cluster.node(f).host, 7001, names.get(f)]));

      const nodes = String(await cluster.client(id).call('CLUSTER', 'NODES')).trimEnd().split('\n').map((line) => line.split(' '));
      expect(nodes.map((fields) => [fields[0], fields[1], fields[2], fields[3], fields[7], fields[8]])).toEqual(ids.map((member) => [
        names.get(member), `${cluster.node(member).host}:7001@17001`,
        `${member === id ? 'myself,' : ''}${member === leaderId ? 'master' : 'slave'}`,
        member === leaderId ? '-' : names.get(leaderId), 'connected', member === leaderId ? '0-16383' : undefined,
      ]));
      const info = parseInfo(String(await cluster.client(id).call('CLUSTER', 'INFO')));
      expect(info).toMatchObject({ cluster_state: 'ok', cluster_known_nodes: '3', cluster_size: '1', cluster_slots_ok: '16384' });
      expect(await cluster.client(id).call('CLUSTER', 'KEYSLOT', 'foo')).toBe(12182);
    }
  });

  it('let an ioredis Cluster client seeded with a follower find the leader and serve reads and writes', async () => {
    await settled();
    const seed = cluster.node(followers()[0] as number);
    const client = new Cluster([{ host: seed.host, port: seed.port }], { redisOptions: { maxRetriesPerRequest: 1 }, slotsRefreshTimeout: 2000 });
    client.on('error', () => undefined);
    try {
      expect(await client.set('{user1000}.following', 'a')).toBe('OK');
      expect(await client.set('{user1000}.followers', 'b')).toBe('OK');
      expect(await client.mget('{user1000}.following', '{user1000}.followers')).toEqual(['a', 'b']);
      expect(await client.incr('cluster:counter')).toBe(1);
      const masters = client.nodes('master').map((node) => `${node.options.host}:${node.options.port}`);
      expect(masters).toEqual([`${cluster.node(leaderId).host}:7001`]);
      expect(client.nodes('slave').map((node) => node.options.host).sort()).toEqual(followers().map((f) => cluster.node(f).host).sort());
    } finally {
      client.disconnect();
    }
  });

  it.skipIf(!HAVE_REDIS_CLI)('let redis-cli -c write through a follower and read through another', () => {
    const [first, second] = followers().map((id) => cluster.node(id)) as [ReturnType<TestCluster['node']>, ReturnType<TestCluster['node']>];
    const set = spawnSync('redis-cli', ['-c', '-h', first.host, '-p', String(first.port), 'SET', 'cli:key', 'v1'], { encoding: 'utf8', timeout: 10_000 });
    expect(set.stdout.trim()).toBe('OK');
    const get = spawnSync('redis-cli', ['-c', '-h', second.host, '-p', String(second.port), 'GET', 'cli:key'], { encoding: 'utf8', timeout: 10_000 });
    expect(get.stdout.trim()).toBe('v1');
  });
});

describe('the HTTP admin port', () => {
  it('reports every node healthy, with the same leader', async () => {
    await settled();
    for (const id of ids) {
      const response = await http(id, '/health');
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'ok', id, leader: leaderId });
    }
  });

  it('serves Prometheus metrics: role, term, indexes, members, per-peer lag on the leader', async () => {
    await settled();
    const leader = (await (await http(leaderId, '/metrics')).text()).split('\n');
    expect(leader).toContain('raftis_raft_is_leader 1');
    expect(leader).toContain('raftis_raft_role{role="leader"} 1');
    expect(leader).toContain('raftis_raft_members{kind="voter"} 3');
    expect(leader.filter((line) => line.startsWith('raftis_raft_peer_lag_entries{')).map((line) => line.split(' ')[0]).sort())
      .toEqual(followers().map((f) => `raftis_raft_peer_lag_entries{peer="${f}"}`));
    const term = leader.find((line) => line.startsWith('raftis_raft_term '));
    expect(Number(term?.split(' ')[1])).toBeGreaterThan(0);
    expect(Number(leader.find((line) => line.startsWith('raftis_proposals_total '))?.split(' ')[1])).toBeGreaterThan(0);
    const follower = (await (await http(followers()[0] as number, '/metrics')).text()).split('\n');
    expect(follower).toContain('raftis_raft_is_leader 0');
    expect(follower).toContain(`raftis_raft_leader_id ${leaderId}`);
  });

  it('serves /api/stats as JSON with state, leader, term, commit index, log length and members', async () => {
    await settled();
    for (const id of ids) {
      const stats = await (await http(id, '/api/stats')).json() as Record<string, unknown> & { members: { id: number }[]; leader: { id: number } };
      expect(stats).toMatchObject({ id, state: id === leaderId ? 'leader' : 'follower', raft_state: 'up' });
      expect(stats.leader.id).toBe(leaderId);
      expect(stats.members.map((member) => member.id)).toEqual(ids);
      expect(Number(stats.commit_index)).toBeGreaterThan(0);
      expect(Number(stats.log_length)).toBeGreaterThan(0);
    }
  });
});

describe('raftis status and raftis cli', () => {
  it('raftis status prints the cluster from any node, the leader marked', async () => {
    await settled();
    for (const id of ids) {
      const node = cluster.node(id);
      const { code, stdout, stderr } = await raftis('status', '-h', node.host, '-p', String(node.port));
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const rows = stdout.split('\n').slice(1, 4).map((row) => row.trim().split(/\s+/));
      expect(rows.map((row) => (row[0] === '*' ? row.slice(1, 4) : row.slice(0, 3)))).toEqual(ids.map((member) =>
        [String(member), `${cluster.node(member).host}:7001`, member === leaderId ? 'leader' : 'follower']));
      expect(rows.filter((row) => row[0] === '*').map((row) => row[1])).toEqual([String(leaderId)]);
      expect(stdout).toContain(`leader: node ${leaderId} at ${cluster.node(leaderId).host}:7001`);
      expect(stdout).toContain('3 of 3 nodes answering');
    }
  });

  it('raftis cli prints replies as redis-cli does and exits 1 on an error reply', async () => {
    await settled();
    const node = cluster.node(followers()[1] as number);
    const cli = (...words: string[]): ReturnType<typeof raftis> => raftis('cli', '-h', node.host, '-p', String(node.port), ...words);
    expect(await cli('SET', 'cli:x', 'a"b')).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await cli('GET', 'cli:x')).toMatchObject({ code: 0, stdout: '"a\\"b"\n' });
    expect(await cli('GET', 'cli:missing')).toMatchObject({ code: 0, stdout: '(nil)\n' });
    expect(await cli('SET', 'cli:n', '-1')).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await cli('INCR', 'cli:n')).toMatchObject({ code: 0, stdout: '(integer) 0\n' });
    expect(await cli('INCR', 'cli:x')).toMatchObject({ code: 1, stdout: '(error) ERR value is not an integer or out of range\n' });
    expect(await cli('MGET', 'cli:x', 'cli:missing')).toMatchObject({ code: 0, stdout: '1) "a\\"b"\n2) (nil)\n' });
    const slots = await cli('CLUSTER', 'SLOTS');
    expect(slots.stdout.split('\n').slice(0, 4)).toEqual(['1) 1) (integer) 0', '   2) (integer) 16383', `   3) 1) "${cluster.node(leaderId).host}"`, '      2) (integer) 7001']);
    const info = await cli('INFO', 'raft');
    expect(info.code).toBe(0);
    expect(info.stdout.startsWith(`# Raft\r\nraft_node_id:${node.id}\r\n`)).toBe(true);
    // Words after the options are the command's, kept as typed; `--` ends the options explicitly.
    expect(await cli('ECHO', '010')).toMatchObject({ code: 0, stdout: '"010"\n' });
    expect(await cli('--', 'ECHO', '-h')).toMatchObject({ code: 0, stdout: '"-h"\n' });
    expect(await cli('NOSUCHCOMMAND')).toMatchObject({ code: 1, stdout: "(error) ERR unknown command 'NOSUCHCOMMAND', with args beginning with: \n" });
    const unreachable = await raftis('cli', '-h', node.host, '-p', '1', 'PING');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`Could not connect to raftis at ${node.host}:1`);
  });
});

describe('CONFIG', () => {
  it('changes one node\'s connection settings, as CONFIG GET and INFO show', async () => {
    const id = followers()[0] as number;
    const client = cluster.client(id);
    expect(await client.call('CONFIG', 'SET', 'maxclients', '123')).toBe('OK');
    expect(await client.call('CONFIG', 'GET', 'maxclients', 'appendonly')).toEqual(['maxclients', '123', 'appendonly', 'yes']);
    expect(parseInfo(await client.info('clients')).maxclients).toBe('123');
    await expect(client.call('CONFIG', 'SET', 'databases', '4')).rejects.toThrow("can't set immutable config");
    // A node's settings are its own: the leader still has the default.
    expect(await cluster.client(leaderId).call('CONFIG', 'GET', 'maxclients')).toEqual(['maxclients', '10000']);
  });
});
