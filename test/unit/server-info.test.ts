// Proves the node's introspection replies without a cluster: INFO (section selection and order as
// Redis 7.0, CRLF lines, "# Title" headers, a bulk string in RESP2 and verbatim text in RESP3, the
// RedisRaft-style raft section with one line per other member), the Redis Cluster replies
// (CLUSTER SLOTS / SHARDS / NODES / INFO / MYID / KEYSLOT in the shapes Redis sends, checked
// down to the encoded bytes, with and without a leader), CONFIG GET/SET/RESETSTAT with Redis's
// exact error messages, and the admin HTTP port (/health, /metrics, /api/stats, routing errors,
// extra routes) over a real loopback socket. Last, that docs/operations.md explains every INFO raft
// field and every metric these produce, so a new field or metric cannot go undocumented. The node is a fake that holds a RaftStatus and the
// stats the real RaftNode exposes, cast through `unknown`; each test sets the state it needs.

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfState, NodeId, ProgressStatus, RaftStatus } from '../../src/raft/types.js';
import { encodeReply } from '../../src/resp/encoder.js';
import type { Reply } from '../../src/resp/reply.js';
import { startAdminHttp, type AdminHttp, type AdminRoute } from '../../src/server/admin-http.js';
import { ClientRegistry } from '../../src/server/client-registry.js';
import { clusterIntrospection, clusterNodeId } from '../../src/server/cluster-info.js';
import { configCommand, parseMemory } from '../../src/server/config-command.js';
import type { ClientView } from '../../src/server/executor.js';
import { bytesToHuman, formatInfo, infoReply, selectSections } from '../../src/server/info.js';
import type { MemberAddress } from '../../src/server/members.js';
import { createNodeMetrics } from '../../src/server/metrics.js';
import type { RaftNode } from '../../src/server/node.js';
import type { PeerStats } from '../../src/transport/transport.js';

// ---------------------------------------------------------------------------------------------
// A fake node.

interface FakeState {
  id: NodeId;
  role: RaftStatus['role'];
  term: number;
  leader: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  snapshotIndex: number;
  conf: ConfState;
  progress: ProgressStatus[];
  members: Map<NodeId, MemberAddress>;
  peerStates: Map<NodeId, PeerStats['state']>;
  diskFailure: string | undefined;
  removed: boolean;
  keyspace: { db: number; keys: number; expires: number; avgTtlMs: number }[];
}

function address(id: NodeId): MemberAddress {
  return { host: `127.0.0.${id}`, clientPort: 7000 + id, peerPort: 17000 + id };
}

/** A three-node cluster where node 1 leads in term 7, seen from node `id`. */
function threeNodes(id: NodeId, overrides: Partial<FakeState> = {}): FakeState {
  const leading = (overrides.role ?? (id === 1 ? 'leader' : 'follower')) === 'leader';
  return {
    id,
    role: id === 1 ? 'leader' : 'follower',
    term: 7,
    leader: 1,
    commit: 40,
    applied: 39,
    lastIndex: 42,
    snapshotIndex: 10,
    conf: { voters: [1, 2, 3], learners: [], removed: [] },
    progress: leading ? [
      { id: 1, match: 42, next: 43, state: 'replicate', voter: true, recentActive: true },
      { id: 2, match: 41, next: 42, state: 'replicate', voter: true, recentActive: true },
      { id: 3, match: 30, next: 31, state: 'probe', voter: true, recentActive: false },
    ] : [],
    members: new Map([[1, address(1)], [2, address(2)], [3, address(3)]]),
    peerStates: new Map([[1, 'connected'], [2, 'connected'], [3, 'backoff']]),
    diskFailure: undefined,
    removed: false,
    keyspace: [{ db: 0, keys: 5, expires: 2, avgTtlMs: 1500 }, { db: 3, keys: 1, expires: 0, avgTtlMs: 0 }],
    ...overrides,
  };
}

function fakeNode(state: FakeState): RaftNode {
  const status = (): RaftStatus => ({
    id: state.id, group: 0, role: state.role, term: state.term, vote: state.leader, leader: state.leader,
    commit: state.commit, applied: state.applied, firstIndex: state.snapshotIndex + 1, lastIndex: state.lastIndex,
    snapshotIndex: state.snapshotIndex, confState: state.conf, transferee: 0, progress: state.role === 'leader' ? state.progress : [],
  });
  const fake = {
    options: {
      id: state.id, clusterId: 'test-cluster', host: address(state.id).host, clientPort: address(state.id).clientPort,
      peerPort: address(state.id).peerPort, dataDir: `/data/n${state.id}`, tickMs: 100, electionTicks: 10, fsync: 'always',
    },
    members: state.members,
    machine: {
      appliedIndex: state.applied,
      info: () => ({
        appliedIndex: state.applied, lastTimeMs: 0, keyspace: state.keyspace,
        keys: state.keyspace.reduce((sum, db) => sum + db.keys, 0), expires: state.keyspace.reduce((sum, db) => sum + db.expires, 0),
        memoryBytes: 4096, arenaBytesInUse: 3000, arenaBytesAllocated: 5000, keyTableBytesInUse: 700, keyTableBytesAllocated: 900, snapshotInProgress: false,
      }),
    },
    stats: { proposals: 11, reads: 12, readIndexRequests: 4, forwarded: 13, applied: 14, snapshotsTaken: 2, snapshotsInstalled: 1, elections: 3 },
    status,
    isLeader: () => state.role === 'leader',
    leaderAddress: () => {
      const found = state.leader === 0 ? undefined : state.members.get(state.leader);
      return found ? { id: state.leader, ...found } : undefined;
    },
    storageStats: () => ({
      fsyncCount: 99, fsyncAverageMicros: 1234.4, fsyncBuckets: [], fsyncTotalSeconds: 0.122, logSizeBytes: 8192, segmentCount: 2, firstIndex: state.snapshotIndex + 1,
      lastIndex: state.lastIndex, snapshotLastIndex: state.snapshotIndex, snapshotSizeBytes: 777, writeFailure: undefined, writeFailures: 0,
    }),
    transportStats: () => ({
      peers: [...state.peerStates].filter(([peer]) => peer !== state.id).map(([peer, peerState]): PeerStats => ({
        id: peer, address: { host: address(peer).host, port: address(peer).peerPort }, state: peerState, refusal: undefined,
        inbound: peerState === 'connected', queuedMessages: 0, queuedBytes: 10 * peer, socketBufferedBytes: 0,
        sent: 100 + peer, batches: 50, received: 200 + peer, dropped: peer,
      })),
      droppedUnroutable: 0, refusedConnections: 0, badFrameConnections: 0, snapshotsSent: 0, snapshotsReceived: 0, snapshotBufferedBytes: 0,
    }),
    get diskFailureReason() {
      return state.diskFailure;
    },
    get isRemoved() {
      return state.removed;
    },
  };
  return fake as unknown as RaftNode;
}

const CLIENT: ClientView = { id: 1, db: 0, protocol: 2, name: null, address: '127.0.0.1:5000' };

function args(...words: string[]): Buffer[] {
  return words.map((word) => Buffer.from(word, 'latin1'));
}

function text(reply: Reply): string {
  if (reply.kind !== 'bulk' && reply.kind !== 'verbatim') throw new Error(`expected text, got ${reply.kind}`);
  return reply.value.toString('latin1');
}

function resp2(reply: Reply): string {
  return encodeReply(reply, 2).toString('latin1');
}

function infoText(node: RaftNode, ...sections: string[]): string {
  return text(infoReply(node, new ClientRegistry(), sections));
}

function fieldsOf(info: string): Map<string, string> {
  return new Map(info.split('\r\n').filter((line) => line.includes(':') && !line.startsWith('#'))
    .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)] as const));
}

// ---------------------------------------------------------------------------------------------
// INFO

describe('INFO', () => {
  it('lays out sections as Redis does: "# Title", CRLF lines, a blank line between sections, CRLF at the end', () => {
    const formatted = formatInfo([
      { title: 'Server', fields: [['redis_version', '7.0.15'], ['tcp_port', 7001]] },
      { title: 'Modules', fields: [] },
      { title: 'Keyspace', fields: [['db0', 'keys=1,expires=0,avg_ttl=0']] },
    ]);
    expect(formatted).toBe('# Server\r\nredis_version:7.0.15\r\ntcp_port:7001\r\n\r\n# Modules\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n');
  });

  it.each([
    [[], ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules', 'cluster', 'keyspace']],
    [['default'], ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules', 'cluster', 'keyspace']],
    [['all'], ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules', 'cluster', 'keyspace']],
    [['everything'], ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules', 'cluster', 'keyspace', 'raft']],
    [['raft'], ['raft']],
    [['keyspace', 'server'], ['server', 'keyspace']],
    [['default', 'raft'], ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules', 'cluster', 'keyspace', 'raft']],
    [['nosuch'], []],
    [['commandstats'], []],
  ])('INFO %j writes the sections %j in Redis order', (given, expected) => {
    expect(selectSections(given)).toEqual(expected);
  });

  it('writes only the requested sections, in order, every line ending in CRLF', () => {
    const info = infoText(fakeNode(threeNodes(2)), 'keyspace', 'server');
    expect(info.startsWith('# Server\r\n')).toBe(true);
    expect(info.endsWith('\r\n')).toBe(true);
    expect(info.match(/^# .*$/gm)).toEqual(['# Server', '# Keyspace']);
    // No bare LF: every LF is preceded by CR.
    expect(info.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const fields = fieldsOf(info);
    expect(fields.get('redis_version')).toMatch(/^7\.\d+\.\d+$/);
    expect(fields.get('raftis_version')).toMatch(/^\d+\.\d+\.\d+/);
    expect(fields.get('tcp_port')).toBe('7002');
    expect(fields.get('run_id')).toMatch(/^[0-9a-f]{40}$/);
    expect(fields.get('db0')).toBe('keys=5,expires=2,avg_ttl=1500');
    expect(fields.get('db3')).toBe('keys=1,expires=0,avg_ttl=0');
  });

  it('reports used_memory\'s parts and the value arenas in # Memory, prefixed as raftis\'s own', () => {
    const fields = fieldsOf(infoText(fakeNode(threeNodes(1)), 'memory'));
    expect(fields.get('raftis_value_arena_used')).toBe('3000');
    expect(fields.get('raftis_value_arena_allocated')).toBe('5000');
    expect(fields.get('raftis_key_table_used')).toBe('700');
    expect(fields.get('raftis_key_table_allocated')).toBe('900');
    const heap = Number(fields.get('raftis_heap_used'));
    const external = Number(fields.get('raftis_external_used'));
    expect(heap).toBeGreaterThan(0);
    expect(external).toBeGreaterThan(0);
    expect(Number(fields.get('used_memory'))).toBe(heap + external);
  });

  it('answers an unknown section with an empty string, as Redis does', () => {
    expect(resp2(infoReply(fakeNode(threeNodes(1)), new ClientRegistry(), ['nosuch']))).toBe('$0\r\n\r\n');
  });

  it('is a bulk string in RESP2 and verbatim txt in RESP3, as Redis 7.0 sends it', () => {
    const reply = infoReply(fakeNode(threeNodes(1)), new ClientRegistry(), ['cluster']);
    expect(resp2(reply)).toBe('$30\r\n# Cluster\r\ncluster_enabled:1\r\n\r\n');
    expect(encodeReply(reply, 3).toString('latin1')).toBe('=34\r\ntxt:# Cluster\r\ncluster_enabled:1\r\n\r\n');
  });

  it('writes the raft section with RedisRaft field names, on the leader', () => {
    const fields = fieldsOf(infoText(fakeNode(threeNodes(1, { conf: { voters: [1, 2], learners: [3], removed: [] } })), 'raft'));
    expect(Object.fromEntries(fields)).toMatchObject({
      raft_node_id: '1',
      raft_state: 'up',
      raft_role: 'leader',
      raft_is_voting: 'yes',
      raft_leader_id: '1',
      raft_current_term: '7',
      raft_num_nodes: '3',
      raft_num_voting_nodes: '2',
      raft_node1: 'id=2,addr=127.0.0.2,port=7002,voting=yes,match_index=41,connection=connected',
      raft_node2: 'id=3,addr=127.0.0.3,port=7003,voting=no,match_index=30,connection=backoff',
      raft_log_entries: '32',
      raft_current_index: '42',
      raft_commit_index: '40',
      raft_last_applied_index: '39',
      raft_snapshot_last_idx: '10',
      raft_snapshot_size: '777',
      raft_fsync_count: '99',
      raft_fsync_avg_microseconds: '1234',
    });
    expect(fields.has('raft_node3')).toBe(false);
    expect(fields.has('raft_disk_failure')).toBe(false);
  });

  it('writes match_index=-1 on a follower, raft_leader_id=-1 without a leader, RedisRaft role names, and the disk failure when set', () => {
    const fields = fieldsOf(infoText(fakeNode(threeNodes(3, {
      role: 'preCandidate', leader: 0, diskFailure: 'ENOSPC: no space left on device',
    })), 'raft'));
    expect(fields.get('raft_role')).toBe('pre-candidate');
    expect(fields.get('raft_leader_id')).toBe('-1');
    expect(fields.get('raft_node1')).toBe('id=1,addr=127.0.0.1,port=7001,voting=yes,match_index=-1,connection=connected');
    expect(fields.get('raft_disk_failure')).toBe('ENOSPC: no space left on device');
  });

  it('reports the replication role as Redis does: master with its replicas on the leader, slave with its master elsewhere', () => {
    const leader = fieldsOf(infoText(fakeNode(threeNodes(1)), 'replication'));
    expect(leader.get('role')).toBe('master');
    expect(leader.get('connected_slaves')).toBe('1');
    expect(leader.get('slave0')).toBe('ip=127.0.0.2,port=7002,state=online,offset=41,lag=0');
    expect(leader.get('slave1')).toBe('ip=127.0.0.3,port=7003,state=offline,offset=30,lag=0');
    const follower = fieldsOf(infoText(fakeNode(threeNodes(2)), 'replication'));
    expect(follower.get('role')).toBe('slave');
    expect(follower.get('master_host')).toBe('127.0.0.1');
    expect(follower.get('master_port')).toBe('7001');
    expect(follower.get('master_link_status')).toBe('up');
  });

  it('counts clients and commands from the registry, and CONFIG RESETSTAT zeroes them', () => {
    const registry = new ClientRegistry({ maxclients: 77 });
    registry.stats.commandsProcessed = 5;
    registry.stats.connectionsReceived = 3;
    const node = fakeNode(threeNodes(1));
    const before = fieldsOf(text(infoReply(node, registry, ['clients', 'stats'])));
    expect(before.get('maxclients')).toBe('77');
    expect(before.get('connected_clients')).toBe('0');
    expect(before.get('total_commands_processed')).toBe('5');
    expect(before.get('total_connections_received')).toBe('3');
    expect(configCommand(node, registry, 'config|resetstat', args('CONFIG', 'RESETSTAT'))).toEqual({ kind: 'simple', value: 'OK' });
    const after = fieldsOf(text(infoReply(node, registry, ['stats'])));
    expect(after.get('total_commands_processed')).toBe('0');
    expect(after.get('total_connections_received')).toBe('0');
  });

  it.each([[0, '0B'], [200, '200B'], [1023, '1023B'], [1024, '1.00K'], [941256, '919.20K'], [6565888, '6.26M'], [25276514304, '23.54G']])(
    'formats %d bytes as %s, as Redis bytesToHuman does', (bytes, human) => {
      expect(bytesToHuman(bytes)).toBe(human);
    });
});

// ---------------------------------------------------------------------------------------------
// CLUSTER

function cluster(node: RaftNode, ...words: string[]): Reply {
  const reply = clusterIntrospection(node, CLIENT, `cluster|${(words[0] as string).toLowerCase()}`, args('CLUSTER', ...words));
  if (!reply) throw new Error(`CLUSTER ${words.join(' ')} was not handled`);
  return reply;
}

describe('CLUSTER', () => {
  const name = (id: NodeId): string => clusterNodeId('test-cluster', id);

  it('names nodes with 40 hex digits, the same on every member, different per node and per cluster', () => {
    expect(name(1)).toMatch(/^[0-9a-f]{40}$/);
    expect(name(1)).toBe(clusterNodeId('test-cluster', 1));
    expect(new Set([name(1), name(2), name(3), clusterNodeId('other', 1)]).size).toBe(4);
    expect(text(cluster(fakeNode(threeNodes(2)), 'MYID'))).toBe(name(2));
  });

  it('SLOTS: the leader owns 0-16383 with the reachable voters as replicas, encoded as Redis 7.0 encodes it', () => {
    // Node 3's link is down: like a failed Redis replica it is left out.
    const reply = cluster(fakeNode(threeNodes(2)), 'SLOTS');
    const nodeBytes = (id: NodeId): string => `*4\r\n$9\r\n127.0.0.${id}\r\n:${7000 + id}\r\n$40\r\n${name(id)}\r\n*0\r\n`;
    expect(resp2(reply)).toBe(`*1\r\n*4\r\n:0\r\n:16383\r\n${nodeBytes(1)}${nodeBytes(2)}`);
    const all = cluster(fakeNode(threeNodes(2, { peerStates: new Map([[1, 'connected'], [3, 'connected']]) })), 'SLOTS');
    expect(resp2(all)).toBe(`*1\r\n*5\r\n:0\r\n:16383\r\n${nodeBytes(1)}${nodeBytes(2)}${nodeBytes(3)}`);
  });

  it('SLOTS leaves learners out (like replicas still loading) and is empty with no leader', () => {
    const learner = threeNodes(1, { conf: { voters: [1, 2], learners: [3], removed: [] }, peerStates: new Map([[2, 'connected'], [3, 'connected']]) });
    const reply = cluster(fakeNode(learner), 'SLOTS');
    expect(reply.kind === 'array' && reply.value[0]?.kind === 'array' && reply.value[0].value.length).toBe(4);
    expect(resp2(cluster(fakeNode(threeNodes(2, { leader: 0, role: 'candidate' })), 'SLOTS'))).toBe('*0\r\n');
  });

  it('SHARDS: one shard of every slot, each node a map of Redis 7.0 fields (flat in RESP2)', () => {
    const reply = cluster(fakeNode(threeNodes(1, { conf: { voters: [1, 2], learners: [3], removed: [] }, peerStates: new Map([[2, 'connected'], [3, 'connected']]) })), 'SHARDS');
    const nodeBytes = (id: NodeId, role: string, offset: number, health: string): string => `*14\r\n$2\r\nid\r\n$40\r\n${name(id)}\r\n`
      + `$4\r\nport\r\n:${7000 + id}\r\n$2\r\nip\r\n$9\r\n127.0.0.${id}\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.${id}\r\n`
      + `$4\r\nrole\r\n$${role.length}\r\n${role}\r\n$18\r\nreplication-offset\r\n:${offset}\r\n$6\r\nhealth\r\n$${health.length}\r\n${health}\r\n`;
    expect(resp2(reply)).toBe('*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*3\r\n'
      + nodeBytes(1, 'master', 39, 'online') + nodeBytes(2, 'replica', 41, 'online') + nodeBytes(3, 'replica', 30, 'loading'));
    expect(resp2(cluster(fakeNode(threeNodes(2, { leader: 0 })), 'SHARDS'))).toBe('*0\r\n');
  });

  it('NODES: one line per member in Redis\'s format, "\\n" ended, myself and the master marked', () => {
    const lines = text(cluster(fakeNode(threeNodes(2)), 'NODES')).split('\n');
    expect(lines.pop()).toBe('');
    const fields = lines.map((line) => line.split(' '));
    expect(fields.map((f) => f.slice(0, 4).concat(f.slice(5, 6).map((pong) => (pong === '0' ? 'no-pong' : 'pong')), f.slice(6)))).toEqual([
      [name(1), '127.0.0.1:7001@17001', 'master', '-', 'pong', '7', 'connected', '0-16383'],
      [name(2), '127.0.0.2:7002@17002', 'myself,slave', name(1), 'pong', '7', 'connected'],
      [name(3), '127.0.0.3:7003@17003', 'slave,fail?', name(1), 'no-pong', '7', 'disconnected'],
    ]);
    expect(fields.every((f) => f[4] === '0')).toBe(true);
  });

  it('NODES without a leader shows every member as a master with no slots; learners are nofailover replicas', () => {
    const noLeader = text(cluster(fakeNode(threeNodes(2, { leader: 0, role: 'candidate' })), 'NODES'));
    expect(noLeader).not.toContain('0-16383');
    expect(noLeader.split('\n').filter(Boolean).map((line) => line.split(' ')[2])).toEqual(['master', 'myself,master', 'master,fail?']);
    const learner = text(cluster(fakeNode(threeNodes(1, { conf: { voters: [1, 2], learners: [3], removed: [] } })), 'NODES'));
    expect(learner.split('\n')[2]?.split(' ')[2]).toBe('slave,fail?,nofailover');
  });

  it('INFO: Redis 7.0 field names, CRLF lines; ok with a leader, fail without one', () => {
    const ok = text(cluster(fakeNode(threeNodes(2)), 'INFO'));
    expect(ok.endsWith('\r\n')).toBe(true);
    expect(ok.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(Object.fromEntries(fieldsOf(ok))).toMatchObject({
      cluster_state: 'ok', cluster_slots_assigned: '16384', cluster_slots_ok: '16384', cluster_slots_fail: '0',
      cluster_known_nodes: '3', cluster_size: '1', cluster_current_epoch: '7', cluster_my_epoch: '7',
      cluster_stats_messages_sent: String(101 + 103), cluster_stats_messages_received: String(201 + 203),
    });
    const fail = fieldsOf(text(cluster(fakeNode(threeNodes(2, { leader: 0 })), 'INFO')));
    expect(fail.get('cluster_state')).toBe('fail');
    expect(fail.get('cluster_slots_ok')).toBe('0');
    expect(fail.get('cluster_size')).toBe('0');
  });

  // Values from redis-server 7.0.15's CLUSTER KEYSLOT (test/integration/ops-redis.test.ts checks many more against it).
  it.each([
    ['foo', 12182], ['bar', 5061], ['hello', 866], ['', 0], ['{user1000}.following', 3443], ['{user1000}.followers', 3443],
    ['{}', 15257], ['{}foo', 9500], ['foo{}{bar}', 8363], ['foo{{bar}}zap', 4015], ['foo{bar}{zap}', 5061],
  ])('KEYSLOT %j is %d', (key, slot) => {
    expect(cluster(fakeNode(threeNodes(1)), 'KEYSLOT', key)).toEqual({ kind: 'integer', value: slot });
  });

  it('answers READONLY and READWRITE with OK and leaves other subcommands to the caller', () => {
    const node = fakeNode(threeNodes(1));
    expect(clusterIntrospection(node, CLIENT, 'readonly', args('READONLY'))).toEqual({ kind: 'simple', value: 'OK' });
    expect(clusterIntrospection(node, CLIENT, 'readwrite', args('READWRITE'))).toEqual({ kind: 'simple', value: 'OK' });
    expect(clusterIntrospection(node, CLIENT, 'cluster|addnode', args('CLUSTER', 'ADDNODE', '4', 'h', '1'))).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// CONFIG

describe('CONFIG', () => {
  const node = fakeNode(threeNodes(1));
  const config = (registry: ClientRegistry, ...words: string[]): Reply =>
    configCommand(node, registry, `config|${(words[0] as string).toLowerCase()}`, args('CONFIG', ...words));
  const pairs = (reply: Reply): string[] => {
    if (reply.kind !== 'map') throw new Error(`expected a map, got ${reply.kind}`);
    return reply.value.flatMap(([key, value]) => [text(key), text(value)]);
  };

  it('GET matches several case-insensitive glob patterns and lists each setting once', () => {
    const registry = new ClientRegistry();
    expect(pairs(config(registry, 'GET', 'maxclients', 'MAXCLIENTS', 'requirepass'))).toEqual(['requirepass', '', 'maxclients', '10000']);
    expect(pairs(config(registry, 'GET', '*bulk*', 'client-query*'))).toEqual(['proto-max-bulk-len', '536870912', 'client-query-buffer-limit', '1073741824']);
    expect(pairs(config(registry, 'GET', 'appendonly', 'save', 'databases', 'port', 'appendfsync', 'dir')))
      .toEqual(['port', '7001', 'dir', '/data/n1', 'databases', '16', 'appendonly', 'yes', 'appendfsync', 'always', 'save', '']);
    expect(pairs(config(registry, 'GET', 'nosuch'))).toEqual([]);
    // A plain name is answered as spelled; a glob with the setting's own name (redis-server 7.0.15 does both).
    expect(pairs(config(registry, 'GET', 'MaxClients', 'MAX?LIENTS'))).toEqual(['MaxClients', '10000']);
    expect(pairs(config(registry, 'GET', 'MAX?LIENTS'))).toEqual(['maxclients', '10000']);
    // RESP2 flattens the map into name, value pairs as Redis does.
    expect(resp2(config(registry, 'GET', 'maxclients'))).toBe('*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n');
  });

  it('SET changes the connection settings in the registry, several at once, with memory units', () => {
    const registry = new ClientRegistry();
    expect(config(registry, 'SET', 'maxclients', '50', 'proto-max-bulk-len', '2mb', 'client-query-buffer-limit', '1gb', 'requirepass', 's3cret'))
      .toEqual({ kind: 'simple', value: 'OK' });
    expect(registry.settings).toMatchObject({ maxclients: 50, protoMaxBulkLenBytes: 2 * 1024 * 1024, clientQueryBufferLimitBytes: 1024 ** 3, requirepass: 's3cret' });
    expect(config(registry, 'SET', 'requirepass', '')).toEqual({ kind: 'simple', value: 'OK' });
    expect(registry.settings.requirepass).toBeNull();
  });

  // Every message here is what redis-server 7.0.15 answered to the same command.
  it.each([
    [['SET', 'foo', 'bar'], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"],
    [['SET', 'maxclients', 'abc'], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"],
    [['SET', 'maxclients', '12x'], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"],
    [['SET', 'maxclients', '0'], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"],
    [['SET', 'maxclients', '5000000000'], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"],
    [['SET', 'MAXCLIENTS', '-1'], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"],
    [['SET', 'databases', '3'], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"],
    [['SET', 'maxclients', '100', 'maxclients', '200'], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - duplicate parameter"],
    [['SET', 'maxclients', '100', 'requirepass'], 'ERR syntax error'],
    [['SET', 'proto-max-bulk-len', '10'], "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"],
    [['SET', 'proto-max-bulk-len', 'abc'], "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be a memory value"],
    // Names are checked before values: the unknown name wins over the earlier bad value.
    [['SET', 'maxclients', 'abc', 'foo', 'bar'], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"],
    [['REWRITE'], 'ERR The server is running without a config file'],
  ])('CONFIG %j fails with %j and changes nothing', (words, message) => {
    const registry = new ClientRegistry();
    const before = { ...registry.settings };
    expect(config(registry, ...words)).toEqual({ kind: 'error', value: message });
    expect(registry.settings).toEqual(before);
  });

  it('refuses settings raftis fixes with the reason', () => {
    expect(config(new ClientRegistry(), 'SET', 'appendonly', 'no'))
      .toEqual({ kind: 'error', value: "ERR CONFIG SET failed (possibly related to argument 'appendonly') - raftis does not support changing it" });
  });

  it.each([['1', 1n], ['1k', 1000n], ['1KB', 1024n], ['3m', 3_000_000n], ['3mb', 3n * 1024n ** 2n], ['2gb', 2n * 1024n ** 3n], ['1.5mb', undefined], ['-1', undefined], ['', undefined]])(
    'reads the memory value %j as %s', (value, bytes) => {
      expect(parseMemory(value)).toBe(bytes);
    });
});

// ---------------------------------------------------------------------------------------------
// The admin HTTP port

describe('admin HTTP', () => {
  let admin: AdminHttp | undefined;
  afterEach(async () => {
    await admin?.close();
    admin = undefined;
  });

  async function get(path: string, init: RequestInit = {}): Promise<{ status: number; type: string | null; body: string; allow: string | null }> {
    const response = await fetch(`http://127.0.0.1:${admin?.port}${path}`, init);
    return { status: response.status, type: response.headers.get('content-type'), body: await response.text(), allow: response.headers.get('allow') };
  }

  it('GET /health is 200 with a known leader and 503 with the reason otherwise', async () => {
    const state = threeNodes(2);
    admin = await startAdminHttp(fakeNode(state), '127.0.0.1', 0);
    const ok = await get('/health');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ status: 'ok', id: 2, role: 'follower', term: 7, leader: 1 });
    state.leader = 0;
    state.role = 'candidate';
    const down = await get('/health');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toMatchObject({ status: 'unavailable', reason: 'no leader known (this node is candidate in term 7)', leader: null });
    state.leader = 1;
    state.diskFailure = 'EIO: i/o error';
    expect(JSON.parse((await get('/health')).body).reason).toBe('writes are refused: the disk failed (EIO: i/o error)');
    state.diskFailure = undefined;
    state.removed = true;
    expect((await get('/health')).status).toBe(503);
  });

  it('GET /metrics exposes the node in Prometheus format, from a registry of its own', async () => {
    admin = await startAdminHttp(fakeNode(threeNodes(1)), '127.0.0.1', 0);
    const other = await startAdminHttp(fakeNode(threeNodes(2)), '127.0.0.1', 0);
    try {
      const metrics = await get('/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.type).toContain('text/plain');
      const lines = metrics.body.split('\n');
      for (const expected of [
        'raftis_raft_role{role="leader"} 1', 'raftis_raft_role{role="follower"} 0', 'raftis_raft_is_leader 1', 'raftis_raft_term 7',
        'raftis_raft_commit_index 40', 'raftis_raft_applied_index 39', 'raftis_raft_last_index 42', 'raftis_raft_log_entries 32',
        'raftis_raft_members{kind="voter"} 3', 'raftis_raft_peer_lag_entries{peer="2"} 1', 'raftis_raft_peer_lag_entries{peer="3"} 12',
        'raftis_raft_peer_match_index{peer="3"} 30', 'raftis_peer_connected{peer="2"} 1', 'raftis_peer_connected{peer="3"} 0',
        'raftis_proposals_total 11', 'raftis_reads_total 12', 'raftis_read_index_requests_total 4', 'raftis_forwarded_total 13', 'raftis_fsync_total 99',
        'raftis_fsync_avg_microseconds 1234.4', 'raftis_wal_size_bytes 8192', 'raftis_keys 6', 'raftis_peer_messages_dropped_total{peer="3"} 3',
      ]) expect(lines).toContain(expected);
      expect(metrics.body).toContain('process_cpu_user_seconds_total');
      // A follower has no per-peer lag; the two registries do not mix.
      const follower = (await fetch(`http://127.0.0.1:${other.port}/metrics`).then((r) => r.text())).split('\n');
      expect(follower).toContain('raftis_raft_is_leader 0');
      expect(follower.filter((line) => line.startsWith('raftis_raft_peer_lag_entries{'))).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('GET /api/stats is JSON with state, leader, term, commit index, log length and members', async () => {
    admin = await startAdminHttp(fakeNode(threeNodes(1)), '127.0.0.1', 0);
    const stats = await get('/api/stats');
    expect(stats.type).toBe('application/json');
    const body = JSON.parse(stats.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      id: 1, state: 'leader', raft_state: 'up', term: 7, commit_index: 40, applied_index: 39, last_index: 42, log_length: 32,
      leader: { id: 1, host: '127.0.0.1', client_port: 7001, peer_port: 17001 },
    });
    expect(body.members).toEqual([
      { id: 1, host: '127.0.0.1', client_port: 7001, peer_port: 17001, voter: true, self: true, leader: true, match_index: 42, lag: 0, connection: 'self' },
      { id: 2, host: '127.0.0.2', client_port: 7002, peer_port: 17002, voter: true, self: false, leader: false, match_index: 41, lag: 1, connection: 'connected' },
      { id: 3, host: '127.0.0.3', client_port: 7003, peer_port: 17003, voter: true, self: false, leader: false, match_index: 30, lag: 12, connection: 'backoff' },
    ]);
  });

  it('answers 404 for unknown paths and 405 with Allow for a wrong method; extra routes get the body', async () => {
    const echo: AdminRoute = (request) => ({ status: 201, body: { got: request.body.toString(), q: request.url.searchParams.get('q') } });
    admin = await startAdminHttp(fakeNode(threeNodes(1)), '127.0.0.1', 0, new Map([['POST /api/echo', echo]]));
    expect((await get('/nope')).status).toBe(404);
    const wrong = await get('/health', { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.allow).toBe('GET');
    const posted = await get('/api/echo?q=1', { method: 'POST', body: 'hello' });
    expect(posted.status).toBe(201);
    expect(JSON.parse(posted.body)).toEqual({ got: 'hello', q: '1' });
    const huge = await get('/api/echo', { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body)).toEqual({ error: 'request body over 1048576 bytes' });
  });
});

// ---------------------------------------------------------------------------------------------
// docs/operations.md

describe('docs/operations.md', () => {
  const operations = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');

  /** The page's text from the heading `from` up to the heading `to`. */
  function section(from: string, to: string): string {
    const start = operations.indexOf(from);
    const end = operations.indexOf(to, start + 1);
    expect(start, `heading ${from}`).toBeGreaterThanOrEqual(0);
    expect(end, `heading ${to} after ${from}`).toBeGreaterThan(start);
    return operations.slice(start, end);
  }

  it('explains every INFO raft field (the raft section of a leader with a failed disk, which has them all)', () => {
    const table = section('### `INFO raft`', '### HTTP');
    const info = infoText(fakeNode(threeNodes(1, { diskFailure: 'EIO: i/o error' })), 'raft');
    // raft_node1, raft_node2, ... are documented once, as raft_nodeN.
    const names = [...new Set([...fieldsOf(info).keys()].map((name) => name.replace(/^raft_node\d+$/, 'raft_nodeN')))];
    expect(names).toContain('raft_disk_failure');
    expect(names).toContain('raft_nodeN');
    expect(names.filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });

  it('explains every metric GET /metrics exposes, apart from prom-client\'s process_* and nodejs_*', async () => {
    const table = section('### HTTP', '### What to alert on');
    expect(table).toContain('`process_*`, `nodejs_*`');
    const metrics = createNodeMetrics(fakeNode(threeNodes(1)), { commandStats: new ClientRegistry().commandStats });
    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    const own = names.filter((name) => !name.startsWith('process_') && !name.startsWith('nodejs_'));
    expect(own).toContain('raftis_commands_total');
    expect(own).toContain('raftis_command_duration_seconds');
    expect(own.length).toBeGreaterThan(30);
    // Each is written in backquotes, alone or with its labels: `raftis_keys` or `raftis_raft_role{role}`.
    expect(own.filter((name) => !new RegExp(`\`${name}[\`{]`).test(table))).toEqual([]);
  });
});
