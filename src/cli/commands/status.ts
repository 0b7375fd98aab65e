// `raftis status [-h host] [-p port]`: a table of the whole cluster, asked of any one node.
//
// The given node's `INFO raft` names every member (its own id, and a `raft_nodeN` line with the
// address of each other one); then every member is asked for its own `INFO raft`, all at once
// with a short timeout, and a member that does not answer in time is shown as `down`. If the
// leader knows members the given node did not list (the given node is behind on membership), they
// are asked too. Lag is the leader's view: its last log index minus the member's match index.
//
// An address can be reused: a member removed or moved away, and another raftis process (another
// node id, or a node of another cluster) listening there now. What answers at a member's address
// must report that member's id and the given node's cluster id; otherwise the row says `wrong-node`
// or `wrong-cluster`, a line under the table says what was found there, and its figures are not
// shown as the member's.
//
// Exit code: 0 when a leader is known, 1 when there is none or the given node cannot be reached.

import type { Argv, CommandModule } from 'yargs';
import type { Reply } from '../../resp/reply.js';
import { preamble, sendCommands } from './cli.js';

/** `name:value` lines of an INFO reply (headers and blank lines skipped). */
export function parseInfoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** A `raft_nodeN` value: `id=2,addr=127.0.0.1,port=7002,voting=yes,match_index=5,connection=connected`. */
export interface PeerLine {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly voting: boolean;
  /** -1 when the reporting node is not the leader (only the leader knows it). */
  readonly matchIndex: number;
  readonly connection: string;
}

export function parsePeerLine(value: string): PeerLine | undefined {
  const parts = new Map(value.split(',').map((part) => {
    const equals = part.indexOf('=');
    return [part.slice(0, equals), part.slice(equals + 1)] as const;
  }));
  const id = Number(parts.get('id'));
  const port = Number(parts.get('port'));
  if (!Number.isInteger(id) || id <= 0 || !Number.isInteger(port)) return undefined;
  return {
    id,
    host: parts.get('addr') ?? '',
    port,
    voting: parts.get('voting') === 'yes',
    matchIndex: Number(parts.get('match_index') ?? -1),
    connection: parts.get('connection') ?? 'unknown',
  };
}

/** What one node says of itself in INFO raft. */
export interface NodeReport {
  readonly id: number;
  /** `raft_cluster_id`; undefined when the node does not report one. */
  readonly clusterId?: string | undefined;
  readonly role: string;
  readonly state: string;
  readonly leaderId: number;
  readonly term: number;
  readonly logEntries: number;
  readonly lastIndex: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly voting: boolean;
  readonly peers: readonly PeerLine[];
}

export function parseRaftReport(text: string): NodeReport {
  const fields = parseInfoFields(text);
  const number = (name: string): number => {
    const value = Number(fields.get(name));
    if (!fields.has(name) || !Number.isFinite(value)) throw new Error(`INFO raft has no ${name}`);
    return value;
  };
  const peers: PeerLine[] = [];
  for (const [name, value] of fields) {
    if (!/^raft_node[0-9]+$/.test(name)) continue;
    const peer = parsePeerLine(value);
    if (peer) peers.push(peer);
  }
  return {
    id: number('raft_node_id'),
    clusterId: fields.get('raft_cluster_id'),
    role: fields.get('raft_role') ?? 'unknown',
    state: fields.get('raft_state') ?? 'unknown',
    leaderId: number('raft_leader_id'),
    term: number('raft_current_term'),
    logEntries: number('raft_log_entries'),
    lastIndex: number('raft_current_index'),
    commitIndex: number('raft_commit_index'),
    appliedIndex: number('raft_last_applied_index'),
    voting: fields.get('raft_is_voting') !== 'no',
    peers,
  };
}

export interface MemberStatus {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  /** Undefined when the member did not answer: it is shown as down. */
  readonly report: NodeReport | undefined;
  /** The reason it is down. */
  readonly failure?: string;
  /**
   * Another node answers at the member's address: a different id, or the same id in another
   * cluster. `report` is then undefined: its figures are not this member's.
   */
  readonly wrong?: { readonly kind: 'wrong-node' | 'wrong-cluster'; readonly id: number; readonly clusterId: string | undefined };
}

export interface ClusterStatus {
  readonly members: readonly MemberStatus[];
  /** The member that reports itself leader (the highest term wins if two do, mid-election). */
  readonly leader: MemberStatus | undefined;
}

export interface StatusOptions {
  readonly password?: string | undefined;
  readonly timeoutMs: number;
}

function replyText(reply: Reply): string {
  if (reply.kind === 'bulk' || reply.kind === 'verbatim') return reply.value.toString('latin1');
  if (reply.kind === 'error') throw new Error(reply.value);
  throw new Error(`INFO answered with a ${reply.kind} reply`);
}

/** Asks one node for INFO raft. */
export async function askRaftReport(host: string, port: number, options: StatusOptions): Promise<NodeReport> {
  const setup = preamble({ password: options.password });
  const replies = await sendCommands(host, port, [...setup, ['INFO', 'raft']], options.timeoutMs);
  for (const reply of replies.slice(0, setup.length)) if (reply.kind === 'error') throw new Error(reply.value);
  return parseRaftReport(replyText(replies[setup.length] as Reply));
}

/** Whether `report` is the member `id` of cluster `clusterId`; if not, what answered instead. */
export function checkIdentity(id: number, clusterId: string | undefined, report: NodeReport): MemberStatus['wrong'] {
  if (report.id !== id) return { kind: 'wrong-node', id: report.id, clusterId: report.clusterId };
  if (clusterId !== undefined && report.clusterId !== clusterId) return { kind: 'wrong-cluster', id: report.id, clusterId: report.clusterId };
  return undefined;
}

async function askMember(id: number, host: string, port: number, clusterId: string | undefined, options: StatusOptions): Promise<MemberStatus> {
  try {
    const report = await askRaftReport(host, port, options);
    const wrong = checkIdentity(id, clusterId, report);
    if (wrong) return { id, host, port, report: undefined, wrong };
    return { id, host, port, report };
  } catch (error) {
    return { id, host, port, report: undefined, failure: (error as Error).message };
  }
}

function findLeader(members: readonly MemberStatus[]): MemberStatus | undefined {
  return members.filter((m) => m.report?.role === 'leader')
    .sort((a, b) => (b.report as NodeReport).term - (a.report as NodeReport).term)[0];
}

/** Builds the cluster's status through the node at host:port; throws when that node does not answer. */
export async function collectStatus(host: string, port: number, options: StatusOptions): Promise<ClusterStatus> {
  const seed = await askRaftReport(host, port, options);
  const members = new Map<number, MemberStatus>([[seed.id, { id: seed.id, host, port, report: seed }]]);
  const askAll = async (peers: readonly PeerLine[]): Promise<void> => {
    const fresh = peers.filter((peer) => !members.has(peer.id));
    for (const peer of fresh) members.set(peer.id, { id: peer.id, host: peer.host, port: peer.port, report: undefined });
    const answers = await Promise.all(fresh.map((peer) => askMember(peer.id, peer.host, peer.port, seed.clusterId, options)));
    for (const answer of answers) members.set(answer.id, answer);
  };
  await askAll(seed.peers);
  // The leader's membership is the one that counts; the given node may be behind it.
  const leader = findLeader([...members.values()]);
  if (leader?.report) await askAll(leader.report.peers);
  const sorted = [...members.values()].sort((a, b) => a.id - b.id);
  return { members: sorted, leader: findLeader(sorted) };
}

/** The member's lag behind the leader in entries, as the leader sees it; undefined when unknown. */
export function lagOf(member: MemberStatus, leader: MemberStatus | undefined): number | undefined {
  const leaderReport = leader?.report;
  if (!leaderReport) return undefined;
  if (member.id === leader.id) return 0;
  const line = leaderReport.peers.find((peer) => peer.id === member.id);
  if (!line || line.matchIndex < 0) return undefined;
  return Math.max(0, leaderReport.lastIndex - line.matchIndex);
}

const HEADERS = ['', 'ID', 'ADDRESS', 'ROLE', 'VOTER', 'TERM', 'LOG', 'LAST', 'COMMIT', 'APPLIED', 'LAG'] as const;

/**
 * The table `raftis status` prints: one row per member, the leader marked `*`. LOG is the number
 * of entries in the node's log since its last snapshot, LAST its last log index.
 */
export function formatStatusTable(status: ClusterStatus): string {
  const rows: string[][] = status.members.map((member) => {
    const report = member.report;
    const lag = lagOf(member, status.leader);
    const marker = status.leader?.id === member.id ? '*' : '';
    const address = `${member.host}:${member.port}`;
    if (!report) return [marker, String(member.id), address, member.wrong?.kind ?? 'down', '-', '-', '-', '-', '-', '-', lag === undefined ? '-' : String(lag)];
    return [
      marker, String(member.id), address, report.state === 'up' ? report.role : `${report.role} (${report.state})`,
      report.voting ? 'yes' : 'no', String(report.term), String(report.logEntries), String(report.lastIndex),
      String(report.commitIndex), String(report.appliedIndex), lag === undefined ? '-' : String(lag),
    ];
  });
  const table = [[...HEADERS], ...rows];
  // The marker column keeps its width without a leader, so tables line up from one run to the next.
  const widths = HEADERS.map((_, column) => Math.max(column === 0 ? 1 : 0, ...table.map((row) => (row[column] as string).length)));
  const lines = table.map((row) => row.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ').trimEnd());
  const up = status.members.filter((m) => m.report).length;
  const leader = status.leader;
  const summary = leader?.report
    ? `leader: node ${leader.id} at ${leader.host}:${leader.port}, term ${leader.report.term}; ${up} of ${status.members.length} nodes answering`
    : `no leader; ${up} of ${status.members.length} nodes answering`;
  const notes = status.members.filter((member) => member.wrong).map((member) => `${describeWrong(member)}\n`).join('');
  return `${lines.join('\n')}\n\n${notes}${summary}\n`;
}

/** `node 3: wrong node: found id 5 at 127.0.0.1:7003`, for the lines under the table. */
export function describeWrong(member: MemberStatus): string {
  const wrong = member.wrong;
  if (!wrong) return '';
  const at = `${member.host}:${member.port}`;
  const cluster = wrong.clusterId === undefined ? 'no cluster id' : `cluster ${JSON.stringify(wrong.clusterId)}`;
  return wrong.kind === 'wrong-node'
    ? `node ${member.id}: wrong node: found id ${wrong.id} (${cluster}) at ${at}`
    : `node ${member.id}: wrong cluster: found node ${wrong.id} of ${cluster} at ${at}`;
}

interface StatusArgs {
  host: string;
  port: number;
  pass?: string;
  timeout: number;
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'print a table of the cluster (roles, terms, log indexes, lag), asked of any node',
  builder: (yargs: Argv) =>
    yargs
      // `-h` is the host, as in redis-cli: yargs's help is `--help` only.
      .option('host', { alias: 'h', type: 'string', default: '127.0.0.1', describe: 'address of any node' })
      .option('port', { alias: 'p', type: 'number', default: 7001, describe: 'its client port' })
      .option('pass', { alias: 'a', type: 'string', describe: 'password (AUTH) for nodes started with --requirepass' })
      .option('timeout', { type: 'number', default: 1000, describe: 'milliseconds each node has to answer before it is shown as down' }) as unknown as Argv<StatusArgs>,
  handler: async (argv) => {
    process.exitCode = await runStatus(argv);
  },
};

/** Runs `raftis status`; resolves with the exit code. */
export async function runStatus(args: { host: string; port: number; pass?: string | undefined; timeout: number },
  out: (text: string) => void = (text) => process.stdout.write(text),
  err: (text: string) => void = (text) => process.stderr.write(text)): Promise<number> {
  let status: ClusterStatus;
  try {
    status = await collectStatus(args.host, args.port, { password: args.pass, timeoutMs: args.timeout });
  } catch (error) {
    err(`raftis status: cannot read INFO raft from ${args.host}:${args.port}: ${(error as Error).message}\n`);
    return 1;
  }
  out(formatStatusTable(status));
  return status.leader ? 0 : 1;
}
