// INFO [section ...]: the node's state as Redis 7.0 formats it ("# Section" headers, `name:value`
// lines, CRLF line ends, a blank line between sections), plus a `raft` section whose field names
// follow RedisRaft's (`raft_role`, `raft_commit_index`, one `raft_nodeN` line per other member).
//
// Section selection follows Redis 7.0: no argument or `default` gives the default sections,
// `all` adds the ones Redis leaves out of the default, and `everything` adds module sections, which
// is where `raft` belongs (RedisRaft is a module); naming a section picks it alone. Sections are
// always written in Redis's fixed order, whatever order they were asked in, and an unknown name
// adds nothing. raftis has no `commandstats`, `errorstats` or `latencystats` sections (asking
// for them yields nothing, as for any unknown section): its per-command counts and latencies are
// on GET /metrics (command-stats.ts, metrics.ts), in Prometheus form.
//
// Redis answers INFO with verbatim text: a bulk string in RESP2, `=txt:` in RESP3.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REDIS_VERSION } from '../commands/table-redis.js';
import type { Role } from '../raft/index.js';
import { verbatimText } from '../resp/replies.js';
import type { Reply } from '../resp/reply.js';
import type { ClientRegistry } from './client-registry.js';
import { clusterNodeId, describeCluster, type MemberView } from './cluster-info.js';
import type { RaftNode } from './node.js';

export type InfoValue = string | number;

export interface InfoSection {
  /** The header as Redis writes it: "Server", "CPU", "Raft". */
  readonly title: string;
  readonly fields: readonly (readonly [string, InfoValue])[];
}

/** Every section raftis has, in the order Redis writes them. */
export const SECTION_NAMES = [
  'server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules', 'cluster', 'keyspace', 'raft',
] as const;
export type SectionName = (typeof SECTION_NAMES)[number];

/** Redis 7.0's default sections that raftis has (commandstats/latencystats are `all`-only there). */
const DEFAULT_SECTIONS: ReadonlySet<SectionName> = new Set(SECTION_NAMES.filter((name) => name !== 'raft'));

/**
 * The sections `INFO args...` writes, in Redis's order. `args` are lower-case section names or
 * `default`, `all`, `everything`; none means `default`.
 */
export function selectSections(args: readonly string[]): SectionName[] {
  const wanted = new Set<string>(args.length === 0 ? ['default'] : args);
  return SECTION_NAMES.filter((name) => wanted.has(name)
    || wanted.has('everything')
    || ((wanted.has('default') || wanted.has('all')) && DEFAULT_SECTIONS.has(name)));
}

/** Redis's genRedisInfoString layout: "# Title\r\n" then "name:value\r\n" lines; "\r\n" between sections. */
export function formatInfo(sections: readonly InfoSection[]): string {
  let text = '';
  sections.forEach((section, position) => {
    if (position > 0) text += '\r\n';
    text += `# ${section.title}\r\n`;
    for (const [name, value] of section.fields) text += `${name}:${value}\r\n`;
  });
  return text;
}

/** Redis's bytesToHuman: "919.20K", "6.26M", "200B". */
export function bytesToHuman(bytes: number): string {
  const units = ['K', 'M', 'G', 'T', 'P'];
  if (bytes < 1024) return `${bytes}B`;
  let scaled = bytes / 1024;
  for (const unit of units) {
    if (scaled < 1024 || unit === 'P') return `${scaled.toFixed(2)}${unit}`;
    scaled /= 1024;
  }
  throw new Error('unreachable');
}

/** raftis's own version, from its package.json (searched upward, so it works from src/ and dist/src/). */
export const RAFTIS_VERSION: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'raftis' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not here: look one level up.
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
})();

/** Redis makes a new run id at every start; so does each raftis process. */
const RUN_ID = randomBytes(20).toString('hex');

/** The largest `used_memory` this process has reported (Redis's used_memory_peak). */
let usedMemoryPeakBytes = 0;

/** RedisRaft's role names. */
export function raftRoleName(role: Role): string {
  switch (role) {
    case 'leader':
      return 'leader';
    case 'follower':
      return 'follower';
    case 'candidate':
      return 'candidate';
    case 'preCandidate':
      return 'pre-candidate';
    default: {
      const unhandled: never = role;
      throw new Error(`unhandled role ${String(unhandled)}`);
    }
  }
}

/** RedisRaft's `raft_state`: `up` while the node serves, `removed` once it was taken out of the cluster. */
export function raftStateName(node: RaftNode): string {
  return node.isRemoved ? 'removed' : 'up';
}

function serverSection(node: RaftNode, nowMs: number): InfoSection {
  const uptimeSeconds = Math.floor(process.uptime());
  return {
    title: 'Server',
    fields: [
      ['redis_version', REDIS_VERSION],
      ['raftis_version', RAFTIS_VERSION],
      ['redis_git_sha1', '00000000'],
      ['redis_git_dirty', 0],
      ['redis_mode', 'cluster'],
      ['os', `${os.type()} ${os.release()} ${os.machine()}`],
      ['arch_bits', process.arch.endsWith('64') ? 64 : 32],
      ['multiplexing_api', 'libuv'],
      ['nodejs_version', process.versions.node],
      ['process_id', process.pid],
      ['process_supervised', 'no'],
      ['run_id', RUN_ID],
      ['tcp_port', node.options.clientPort],
      ['server_time_usec', nowMs * 1000],
      ['uptime_in_seconds', uptimeSeconds],
      ['uptime_in_days', Math.floor(uptimeSeconds / 86_400)],
      ['hz', Math.max(1, Math.round(1000 / node.options.tickMs))],
      ['executable', process.argv[1] ?? ''],
      ['config_file', ''],
    ],
  };
}

function clientsSection(node: RaftNode, registry: ClientRegistry, nowMs: number): InfoSection {
  let maxInputBytes = 0;
  let maxOutputBytes = 0;
  for (const client of registry.all()) {
    const description = client.describe(nowMs);
    maxInputBytes = Math.max(maxInputBytes, description.queryBufferBytes);
    maxOutputBytes = Math.max(maxOutputBytes, description.outputMemoryBytes);
  }
  const peerConnections = node.transportStats().peers
    .reduce((count, peer) => count + (peer.state === 'connected' ? 1 : 0) + (peer.inbound ? 1 : 0), 0);
  return {
    title: 'Clients',
    fields: [
      ['connected_clients', registry.size],
      ['cluster_connections', peerConnections],
      ['maxclients', registry.settings.maxclients],
      ['client_recent_max_input_buffer', maxInputBytes],
      ['client_recent_max_output_buffer', maxOutputBytes],
      ['blocked_clients', 0],
      ['tracking_clients', 0],
      ['clients_in_timeout_table', 0],
    ],
  };
}

function memorySection(node: RaftNode, nowMs: number): InfoSection {
  const usage = process.memoryUsage();
  // Redis's used_memory is what its allocator handed out; the closest in Node is the JS heap in
  // use plus memory held outside it (Buffers).
  const usedBytes = usage.heapUsed + usage.external;
  usedMemoryPeakBytes = Math.max(usedMemoryPeakBytes, usedBytes);
  const state = node.machine.info(nowMs);
  const datasetBytes = state.memoryBytes;
  const totalSystemBytes = os.totalmem();
  return {
    title: 'Memory',
    fields: [
      ['used_memory', usedBytes],
      ['used_memory_human', bytesToHuman(usedBytes)],
      ['used_memory_rss', usage.rss],
      ['used_memory_rss_human', bytesToHuman(usage.rss)],
      ['used_memory_peak', usedMemoryPeakBytes],
      ['used_memory_peak_human', bytesToHuman(usedMemoryPeakBytes)],
      ['used_memory_peak_perc', `${((usedBytes / usedMemoryPeakBytes) * 100).toFixed(2)}%`],
      ['used_memory_dataset', datasetBytes],
      ['used_memory_dataset_perc', `${(usedBytes === 0 ? 0 : (datasetBytes / usedBytes) * 100).toFixed(2)}%`],
      ['total_system_memory', totalSystemBytes],
      ['total_system_memory_human', bytesToHuman(totalSystemBytes)],
      ['maxmemory', 0],
      ['maxmemory_human', '0B'],
      ['maxmemory_policy', 'noeviction'],
      ['mem_fragmentation_ratio', (usage.rss / Math.max(1, usedBytes)).toFixed(2)],
      ['mem_allocator', 'v8'],
      // raftis's own (prefixed, as Redis has no such fields): used_memory's two parts, and of the
      // external one the value arenas (src/state/value-arena.ts): bytes of the records holding
      // values, and of the slabs they are cut from (freed records are kept for reuse); and the key
      // tables (src/state/key-table.ts): bytes of the keys' records and the slots' blocks in use,
      // and of the slabs and pools they come from.
      ['raftis_value_arena_used', state.arenaBytesInUse],
      ['raftis_value_arena_allocated', state.arenaBytesAllocated],
      ['raftis_key_table_used', state.keyTableBytesInUse],
      ['raftis_key_table_allocated', state.keyTableBytesAllocated],
      ['raftis_heap_used', usage.heapUsed],
      ['raftis_external_used', usage.external],
    ],
  };
}

function persistenceSection(node: RaftNode, nowMs: number): InfoSection {
  const status = node.status();
  const storage = node.storageStats();
  const failed = node.diskFailureReason !== undefined;
  // The Raft log is raftis's append-only file (every write, fsynced before it is acknowledged
  // unless --fsync never) and its snapshots are the RDB saves that let the log be compacted.
  return {
    title: 'Persistence',
    fields: [
      ['loading', 0],
      ['async_loading', 0],
      ['rdb_changes_since_last_save', Math.max(0, status.applied - status.snapshotIndex)],
      ['rdb_bgsave_in_progress', node.machine.info(nowMs).snapshotInProgress ? 1 : 0],
      ['rdb_saves', node.stats.snapshotsTaken],
      ['rdb_last_bgsave_status', 'ok'],
      ['aof_enabled', 1],
      ['aof_rewrite_in_progress', 0],
      ['aof_rewrite_scheduled', 0],
      ['aof_last_bgrewrite_status', 'ok'],
      ['aof_last_write_status', failed ? 'err' : 'ok'],
      ['aof_current_size', storage.logSizeBytes],
    ],
  };
}

function statsSection(registry: ClientRegistry): InfoSection {
  return {
    title: 'Stats',
    fields: [
      ['total_connections_received', registry.stats.connectionsReceived],
      ['total_commands_processed', registry.stats.commandsProcessed],
      ['rejected_connections', registry.stats.connectionsRejected],
      ['evicted_keys', 0],
      ['pubsub_channels', 0],
      ['pubsub_patterns', 0],
    ],
  };
}

function replicationSection(node: RaftNode, members: readonly MemberView[]): InfoSection {
  const status = node.status();
  const replid = clusterNodeId(node.options.clusterId, 0);
  if (status.role === 'leader') {
    const replicas = members.filter((m) => !m.self && m.address !== undefined);
    const fields: [string, InfoValue][] = [
      ['role', 'master'],
      ['connected_slaves', replicas.filter((m) => m.connection === 'connected').length],
    ];
    replicas.forEach((replica, position) => {
      const address = replica.address as NonNullable<MemberView['address']>;
      const state = replica.connection === 'connected' ? (replica.voter ? 'online' : 'wait_bgsave') : 'offline';
      fields.push([`slave${position}`, `ip=${address.host},port=${address.clientPort},state=${state},offset=${replica.matchIndex ?? 0},lag=0`]);
    });
    fields.push(['master_failover_state', status.transferee !== 0 ? 'failover-in-progress' : 'no-failover'],
      ['master_replid', replid], ['master_repl_offset', status.lastIndex]);
    return { title: 'Replication', fields };
  }
  const leader = node.leaderAddress();
  const leaderMember = members.find((m) => m.leader);
  const linkUp = leaderMember !== undefined && leaderMember.connection === 'connected';
  return {
    title: 'Replication',
    fields: [
      ['role', 'slave'],
      ['master_host', leader?.host ?? ''],
      ['master_port', leader?.clientPort ?? 0],
      ['master_link_status', linkUp ? 'up' : 'down'],
      ['master_sync_in_progress', 0],
      ['slave_read_repl_offset', status.lastIndex],
      ['slave_repl_offset', status.applied],
      ['slave_priority', 100],
      ['slave_read_only', 1],
      ['replica_announced', 1],
      ['connected_slaves', 0],
      ['master_failover_state', 'no-failover'],
      ['master_replid', replid],
      ['master_repl_offset', status.applied],
    ],
  };
}

function cpuSection(): InfoSection {
  const usage = process.cpuUsage();
  const seconds = (micros: number): string => (micros / 1e6).toFixed(6);
  return {
    title: 'CPU',
    fields: [
      ['used_cpu_sys', seconds(usage.system)],
      ['used_cpu_user', seconds(usage.user)],
      ['used_cpu_sys_children', '0.000000'],
      ['used_cpu_user_children', '0.000000'],
    ],
  };
}

function keyspaceSection(node: RaftNode, nowMs: number): InfoSection {
  return {
    title: 'Keyspace',
    fields: node.machine.info(nowMs).keyspace
      .map((db) => [`db${db.db}`, `keys=${db.keys},expires=${db.expires},avg_ttl=${db.avgTtlMs}`] as const),
  };
}

/** RedisRaft's `connection` words for a peer link. */
function connectionName(member: MemberView): string {
  return member.connection === 'self' ? 'connected' : member.connection;
}

function raftSection(node: RaftNode, members: readonly MemberView[]): InfoSection {
  const status = node.status();
  const storage = node.storageStats();
  const leader = node.leaderAddress();
  const fields: [string, InfoValue][] = [
    ['raft_node_id', node.options.id],
    ['raft_cluster_id', node.options.clusterId],
    ['raft_state', raftStateName(node)],
    ['raft_role', raftRoleName(status.role)],
    ['raft_is_voting', status.confState.voters.includes(node.options.id) ? 'yes' : 'no'],
    // RedisRaft writes -1 when no leader is known.
    ['raft_leader_id', leader?.id ?? -1],
    ['raft_current_term', status.term],
    ['raft_num_nodes', status.confState.voters.length + status.confState.learners.length],
    ['raft_num_voting_nodes', status.confState.voters.length],
  ];
  // One line per other member, numbered from 1 in id order as RedisRaft numbers them.
  // match_index is the leader's view of the member; other nodes do not know it and write -1.
  members.filter((m) => !m.self).forEach((member, position) => {
    fields.push([`raft_node${position + 1}`, `id=${member.id},addr=${member.address?.host ?? ''},port=${member.address?.clientPort ?? 0}`
      + `,voting=${member.voter ? 'yes' : 'no'},match_index=${member.matchIndex ?? -1},connection=${connectionName(member)}`]);
  });
  fields.push(
    ['raft_log_entries', Math.max(0, status.lastIndex - status.snapshotIndex)],
    ['raft_current_index', status.lastIndex],
    ['raft_commit_index', status.commit],
    ['raft_last_applied_index', status.applied],
    ['raft_file_size', storage.logSizeBytes],
    ['raft_log_segments', storage.segmentCount],
    ['raft_snapshot_last_idx', storage.snapshotLastIndex],
    ['raft_snapshot_size', storage.snapshotSizeBytes],
    ['raft_snapshots_taken', node.stats.snapshotsTaken],
    ['raft_snapshots_installed', node.stats.snapshotsInstalled],
    ['raft_fsync_count', storage.fsyncCount],
    ['raft_fsync_avg_microseconds', Math.round(storage.fsyncAverageMicros)],
    ['raft_proposals', node.stats.proposals],
    ['raft_reads', node.stats.reads],
    ['raft_read_index_requests', node.stats.readIndexRequests],
    ['raft_forwarded', node.stats.forwarded],
    ['raft_applied_entries', node.stats.applied],
    ['raft_elections_won', node.stats.elections],
  );
  const diskFailure = node.diskFailureReason;
  if (diskFailure !== undefined) fields.push(['raft_disk_failure', diskFailure.replace(/[\r\n]/g, ' ')]);
  return { title: 'Raft', fields };
}

/** Builds the named sections from the node's state at `nowMs`. */
export function infoSections(node: RaftNode, registry: ClientRegistry, names: readonly SectionName[], nowMs: number): InfoSection[] {
  const members = names.includes('raft') || names.includes('replication') ? describeCluster(node).members : [];
  return names.map((name): InfoSection => {
    switch (name) {
      case 'server':
        return serverSection(node, nowMs);
      case 'clients':
        return clientsSection(node, registry, nowMs);
      case 'memory':
        return memorySection(node, nowMs);
      case 'persistence':
        return persistenceSection(node, nowMs);
      case 'stats':
        return statsSection(registry);
      case 'replication':
        return replicationSection(node, members);
      case 'cpu':
        return cpuSection();
      case 'modules':
        return { title: 'Modules', fields: [] };
      case 'cluster':
        return { title: 'Cluster', fields: [['cluster_enabled', 1]] };
      case 'keyspace':
        return keyspaceSection(node, nowMs);
      case 'raft':
        return raftSection(node, members);
      default: {
        const unhandled: never = name;
        throw new Error(`unhandled INFO section ${String(unhandled)}`);
      }
    }
  });
}

/** INFO [section ...]: `sections` are the arguments, lower-cased. */
export function infoReply(node: RaftNode, registry: ClientRegistry, sections: readonly string[]): Reply {
  return verbatimText(formatInfo(infoSections(node, registry, selectSections(sections), Date.now())));
}
