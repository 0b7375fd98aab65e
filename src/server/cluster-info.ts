// The Redis Cluster introspection replies (CLUSTER SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT) for
// a raftis cluster, which is one shard: the Raft leader is the master of all 16384 slots and the
// other members are its replicas. Cluster clients (ioredis's Cluster, `redis-cli -c`) read these
// replies to find the master, so they find the leader and follow it after a failover with no code
// of ours. Learners (members still catching up) are shown as replicas flagged `nofailover` and,
// like a Redis replica that is still loading, are left out of CLUSTER SLOTS.
//
// When no leader is known the cluster answers as a failing Redis Cluster does: CLUSTER INFO says
// `cluster_state:fail`, and CLUSTER SLOTS and CLUSTER SHARDS name no master (empty arrays).
//
// Node ids are the 40-hex-digit names Redis Cluster uses, derived from the cluster id and the Raft
// node id (SHA-1 of both), so every member computes the same name for every other member and a
// name never changes across restarts.

import { createHash } from 'node:crypto';
import type { NodeId } from '../raft/index.js';
import type { PeerState } from '../transport/transport.js';
import { array, bulkText, error, integer, OK, verbatimText } from '../resp/replies.js';
import type { Reply } from '../resp/reply.js';
import type { ClientView } from './executor.js';
import type { MemberAddress } from './members.js';
import type { RaftNode } from './node.js';
import { keySlot, SLOT_COUNT } from './slots.js';

const LAST_SLOT = SLOT_COUNT - 1;

/** The Redis Cluster node name of Raft node `id` in cluster `clusterId`: 40 lower-case hex digits. */
export function clusterNodeId(clusterId: string, id: NodeId): string {
  return createHash('sha1').update(`raftis:${clusterId}:${id}`).digest('hex');
}

/** How this node's peer connection to a member stands ('self' for the node itself). */
export type MemberConnection = PeerState | 'unknown' | 'self';

/** One member of the Raft group as the introspection replies show it. */
export interface MemberView {
  readonly id: NodeId;
  /** Undefined when the address has not been learnt yet (it travels in the log). */
  readonly address: MemberAddress | undefined;
  readonly self: boolean;
  readonly leader: boolean;
  readonly voter: boolean;
  /** The leader's match index for this member; undefined unless this node is the leader. */
  readonly matchIndex: number | undefined;
  readonly connection: MemberConnection;
}

/** What the introspection replies need to know of the cluster, read from the node at one moment. */
export interface ClusterView {
  readonly clusterId: string;
  readonly selfId: NodeId;
  /** Undefined when no leader is known, or its address is not (a client could not reach it). */
  readonly leaderId: NodeId | undefined;
  readonly term: number;
  /** This node's applied index: what CLUSTER SHARDS reports as its replication offset. */
  readonly appliedIndex: number;
  /** Every voter and learner (and this node, even before it is a member), in id order. */
  readonly members: readonly MemberView[];
  /** Messages over the peer transport, as CLUSTER INFO's bus message counters. */
  readonly messagesSent: number;
  readonly messagesReceived: number;
}

/** Reads the cluster as this node sees it now. */
export function describeCluster(node: RaftNode): ClusterView {
  const status = node.status();
  const selfId = node.options.id;
  const peers = new Map(node.transportStats().peers.map((peer) => [peer.id, peer]));
  const progress = new Map(status.progress.map((p) => [p.id, p]));
  const voters = new Set(status.confState.voters);
  const ids = new Set<NodeId>([...status.confState.voters, ...status.confState.learners, selfId]);
  const leaderAddress = node.leaderAddress();
  const members: MemberView[] = [...ids].sort((a, b) => a - b).map((id) => {
    const self = id === selfId;
    const address = node.members.get(id)
      ?? (self ? { host: node.options.host, clientPort: node.options.clientPort, peerPort: node.options.peerPort } : undefined);
    return {
      id,
      address,
      self,
      leader: leaderAddress !== undefined && id === leaderAddress.id,
      voter: voters.has(id),
      matchIndex: status.role === 'leader' ? progress.get(id)?.match : undefined,
      connection: self ? 'self' : peers.get(id)?.state ?? 'unknown',
    };
  });
  let messagesSent = 0;
  let messagesReceived = 0;
  for (const peer of peers.values()) {
    messagesSent += peer.sent;
    messagesReceived += peer.received;
  }
  return {
    clusterId: node.options.clusterId,
    selfId,
    leaderId: leaderAddress?.id,
    term: status.term,
    appliedIndex: status.applied,
    members,
    messagesSent,
    messagesReceived,
  };
}

function isLinkUp(member: MemberView): boolean {
  return member.connection === 'self' || member.connection === 'connected';
}

/** CLUSTER SHARDS' `health` of a member: Redis says `loading` for a replica still syncing. */
function health(member: MemberView): 'online' | 'loading' | 'failed' {
  if (!isLinkUp(member)) return 'failed';
  return member.voter || member.leader ? 'online' : 'loading';
}

/** The replicas CLUSTER SLOTS lists: reachable voters other than the leader (Redis omits failed and loading replicas). */
function servingReplicas(view: ClusterView): MemberView[] {
  return view.members.filter((m) => !m.leader && m.address !== undefined && health(m) === 'online');
}

function leaderOf(view: ClusterView): (MemberView & { address: MemberAddress }) | undefined {
  const leader = view.members.find((m) => m.leader);
  return leader?.address ? (leader as MemberView & { address: MemberAddress }) : undefined;
}

/** One node of a CLUSTER SLOTS range: ip, port, name, and Redis 7's (here empty) metadata map. */
function slotNode(view: ClusterView, member: MemberView & { address: MemberAddress }): Reply {
  return array([
    bulkText(member.address.host),
    integer(member.address.clientPort),
    bulkText(clusterNodeId(view.clusterId, member.id)),
    { kind: 'map', value: [] },
  ]);
}

/** CLUSTER SLOTS: `[[0, 16383, leader, replica...]]`, or an empty array when no leader is known. */
export function clusterSlots(view: ClusterView): Reply {
  const leader = leaderOf(view);
  if (!leader) return array([]);
  const replicas = servingReplicas(view) as (MemberView & { address: MemberAddress })[];
  return array([array([integer(0), integer(LAST_SLOT), slotNode(view, leader), ...replicas.map((r) => slotNode(view, r))])]);
}

/** CLUSTER SHARDS: one shard owning every slot, its nodes as Redis 7.0 describes them. */
export function clusterShards(view: ClusterView): Reply {
  const leader = leaderOf(view);
  if (!leader) return array([]);
  const nodes = [leader, ...view.members.filter((m) => !m.leader && m.address !== undefined)].map((member): Reply => {
    const address = member.address as MemberAddress;
    const offset = member.self ? view.appliedIndex : member.matchIndex ?? 0;
    return {
      kind: 'map',
      value: [
        [bulkText('id'), bulkText(clusterNodeId(view.clusterId, member.id))],
        [bulkText('port'), integer(address.clientPort)],
        [bulkText('ip'), bulkText(address.host)],
        [bulkText('endpoint'), bulkText(address.host)],
        [bulkText('role'), bulkText(member.leader ? 'master' : 'replica')],
        [bulkText('replication-offset'), integer(offset)],
        [bulkText('health'), bulkText(health(member))],
      ],
    };
  });
  return array([{
    kind: 'map',
    value: [
      [bulkText('slots'), array([integer(0), integer(LAST_SLOT)])],
      [bulkText('nodes'), array(nodes)],
    ],
  }]);
}

/**
 * CLUSTER NODES: one line per member, ended by "\n" as Redis ends them:
 * `<name> <ip>:<port>@<bus-port> <flags> <master-name|-> <ping-sent> <pong-recv> <epoch> <link-state> [<slots>]`.
 * Without a leader every member shows as a master without slots. A member whose peer link is
 * down is flagged `fail?` (Redis's "possibly failing").
 */
export function clusterNodes(view: ClusterView, nowMs: number): string {
  const leaderName = view.leaderId !== undefined ? clusterNodeId(view.clusterId, view.leaderId) : undefined;
  let text = '';
  for (const member of view.members) {
    if (!member.address) continue;
    const flags: string[] = [];
    if (member.self) flags.push('myself');
    const isMaster = member.leader || leaderName === undefined;
    flags.push(isMaster ? 'master' : 'slave');
    if (!isLinkUp(member)) flags.push('fail?');
    if (!isMaster && !member.voter) flags.push('nofailover');
    const master = isMaster ? '-' : leaderName;
    const pongMs = isLinkUp(member) ? nowMs : 0;
    const link = isLinkUp(member) ? 'connected' : 'disconnected';
    const slots = member.leader ? ` 0-${LAST_SLOT}` : '';
    const { host, clientPort, peerPort } = member.address;
    text += `${clusterNodeId(view.clusterId, member.id)} ${host}:${clientPort}@${peerPort} ${flags.join(',')} ${master} 0 ${pongMs}`
      + ` ${view.term} ${link}${slots}\n`;
  }
  return text;
}

/** CLUSTER INFO: Redis 7.0's fields, CRLF line ends. The cluster epoch is the Raft term. */
export function clusterInfo(view: ClusterView): string {
  const serving = leaderOf(view) !== undefined;
  const known = view.members.filter((m) => m.address !== undefined).length;
  const fields: [string, string | number][] = [
    ['cluster_state', serving ? 'ok' : 'fail'],
    ['cluster_slots_assigned', SLOT_COUNT],
    ['cluster_slots_ok', serving ? SLOT_COUNT : 0],
    ['cluster_slots_pfail', 0],
    ['cluster_slots_fail', serving ? 0 : SLOT_COUNT],
    ['cluster_known_nodes', known],
    ['cluster_size', serving ? 1 : 0],
    ['cluster_current_epoch', view.term],
    ['cluster_my_epoch', view.term],
    ['cluster_stats_messages_sent', view.messagesSent],
    ['cluster_stats_messages_received', view.messagesReceived],
    ['total_cluster_links_buffer_limit_exceeded', 0],
  ];
  return fields.map(([name, value]) => `${name}:${value}\r\n`).join('');
}

/**
 * Answers the CLUSTER subcommands that describe the cluster, plus READONLY and READWRITE (which
 * the connection layer normally answers itself). Returns undefined for anything else, so the
 * caller can answer membership commands or report the subcommand as unsupported.
 */
export function clusterIntrospection(node: RaftNode, _client: ClientView, name: string, argv: readonly Buffer[]): Reply | undefined {
  switch (name) {
    case 'cluster|slots':
      return clusterSlots(describeCluster(node));
    case 'cluster|shards':
      return clusterShards(describeCluster(node));
    case 'cluster|nodes':
      // Redis sends both CLUSTER NODES and CLUSTER INFO as verbatim text (a bulk string in RESP2).
      return verbatimText(clusterNodes(describeCluster(node), Date.now()));
    case 'cluster|info':
      return verbatimText(clusterInfo(describeCluster(node)));
    case 'cluster|myid':
      return bulkText(clusterNodeId(node.options.clusterId, node.options.id));
    case 'cluster|keyslot': {
      const key = argv[2];
      if (key === undefined) return error("ERR wrong number of arguments for 'cluster|keyslot' command");
      return integer(keySlot(key));
    }
    case 'readonly':
    case 'readwrite':
      return OK;
    default:
      return undefined;
  }
}
