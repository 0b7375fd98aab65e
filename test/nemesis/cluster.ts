// The nemesis's view of a real raftis cluster: one `raftis server` process per node, each bound to
// its own loopback address (127.a.b.<id>, a random subnet per run so concurrent runs never share
// an address or a firewall rule), with its data directory and log file under the run's output
// folder. Unlike test/integration/helpers/cluster.ts (which it borrows from), it can pause and
// resume processes, restart a node with the flags it was first started with, add nodes with
// fresh ids and remove members, and it answers "who is a member, who leads" from the nodes
// themselves rather than from what the harness asked for: a membership change whose reply was
// lost may still have happened.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';

import { ROOT } from './build.js';

/** Every node listens on the same ports; only its address differs. */
export const CLIENT_PORT = 7001;
export const PEER_PORT = 17001;
export const HTTP_PORT = 9001;

export type NodeState = 'running' | 'paused' | 'stopped' | 'removed';

export interface NemesisNode {
  readonly id: number;
  readonly host: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** Membership flags it was first started with (--peers ... or --join ...), reused on restart. */
  readonly membershipArgs: readonly string[];
  state: NodeState;
  process: ChildProcess | undefined;
  exited: Promise<void> | undefined;
}

export interface NemesisClusterOptions {
  /** The server's JavaScript entry (./build.ts). */
  readonly entry: string;
  readonly nodes: number;
  /** Where node data directories and logs go. */
  readonly dir: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly commandTimeoutMs: number;
  readonly leaderWaitMs: number;
  readonly snapshotEntries: number;
  /** How long a starting node may take to answer PING. */
  readonly startTimeoutMs: number;
  /** More `raftis server` flags, e.g. --read-mode lease. */
  readonly serverArgs: readonly string[];
}

export interface RaftInfo {
  readonly id: number;
  readonly role: string;
  readonly leaderId: number;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

/** Polls `fn` until it returns something other than undefined or false; throws past the deadline. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

/** Reads the members out of `INFO raft`: this node plus one `raft_nodeN` line per other member. */
export function raftInfoOf(fields: Record<string, string>): RaftInfo {
  const id = Number(fields.raft_node_id);
  const voters: number[] = [];
  const learners: number[] = [];
  if (fields.raft_is_voting === 'yes') voters.push(id);
  else learners.push(id);
  for (const [name, value] of Object.entries(fields)) {
    if (!/^raft_node\d+$/.test(name)) continue;
    const member = /id=(\d+),.*voting=(yes|no)/.exec(value);
    if (!member) continue;
    (member[2] === 'yes' ? voters : learners).push(Number(member[1]));
  }
  return {
    id,
    role: fields.raft_role ?? '',
    leaderId: Number(fields.raft_leader_id ?? -1),
    term: Number(fields.raft_current_term ?? 0),
    commitIndex: Number(fields.raft_commit_index ?? 0),
    appliedIndex: Number(fields.raft_last_applied_index ?? 0),
    voters: voters.sort((a, b) => a - b),
    learners: learners.sort((a, b) => a - b),
  };
}

export class NemesisCluster {
  readonly nodes = new Map<number, NemesisNode>();
  /** 127.a.b: node <id> listens on 127.a.b.<id>. */
  readonly subnet: string;
  private nextId: number;

  constructor(readonly options: NemesisClusterOptions) {
    this.subnet = `127.${randomInt(1, 251)}.${randomInt(1, 251)}`;
    this.nextId = options.nodes + 1;
    fs.mkdirSync(options.dir, { recursive: true });
  }

  /** Starts the initial members together and waits until each answers PING. */
  async start(): Promise<void> {
    const ids = Array.from({ length: this.options.nodes }, (_, at) => at + 1);
    const peers = ids.map((id) => `${id}@${this.hostOf(id)}:${CLIENT_PORT}`).join(',');
    for (const id of ids) this.define(id, ['--peers', peers]);
    await Promise.all(ids.map((id) => this.spawn(id)));
  }

  hostOf(id: number): string {
    return `${this.subnet}.${id}`;
  }

  node(id: number): NemesisNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Nodes the harness has not removed (they may be stopped or paused). */
  memberIds(): number[] {
    return [...this.nodes.values()].filter((node) => node.state !== 'removed').map((node) => node.id);
  }

  runningIds(): number[] {
    return [...this.nodes.values()].filter((node) => node.state === 'running').map((node) => node.id);
  }

  private define(id: number, membershipArgs: readonly string[]): NemesisNode {
    const node: NemesisNode = {
      id, host: this.hostOf(id), dataDir: path.join(this.options.dir, `n${id}`), logFile: path.join(this.options.dir, `n${id}.log`),
      membershipArgs, state: 'stopped', process: undefined, exited: undefined,
    };
    this.nodes.set(id, node);
    return node;
  }

  /** Starts a node's process with the flags it was defined with and waits for PING. */
  async spawn(id: number): Promise<void> {
    const node = this.node(id);
    if (node.process) throw new Error(`node ${id} already has a process (${node.state})`);
    const o = this.options;
    const args = [
      o.entry, 'server', '--id', String(id), '--host', node.host, '--port', String(CLIENT_PORT),
      '--peer-port', String(PEER_PORT), '--http-port', String(HTTP_PORT), '--data-dir', node.dataDir,
      '--tick-ms', String(o.tickMs), '--election-ticks', String(o.electionTicks), '--command-timeout-ms', String(o.commandTimeoutMs),
      '--leader-wait-ms', String(o.leaderWaitMs), '--snapshot-entries', String(o.snapshotEntries), '--log-level', 'info',
      ...o.serverArgs, ...node.membershipArgs,
    ];
    const log = fs.openSync(node.logFile, 'a');
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    node.process = child;
    node.state = 'running';
    node.exited = new Promise((resolve) => child.once('exit', () => {
      if (node.process === child) {
        node.process = undefined;
        if (node.state !== 'removed') node.state = 'stopped';
      }
      resolve();
    }));
    await waitFor(`node ${id} to accept clients`, async () => {
      if (node.process !== child) throw new Error(`node ${id} exited while starting; see ${node.logFile}`);
      return (await this.ping(id)) || undefined;
    }, o.startTimeoutMs, 100);
  }

  /** A new node with a fresh id (ids are never reused) that joins through `via`. */
  async join(via: number): Promise<number> {
    const id = this.nextId++;
    if (id > 254) throw new Error('no addresses left in the subnet for a new node');
    this.define(id, ['--join', `${this.hostOf(via)}:${CLIENT_PORT}`]);
    await this.spawn(id);
    return id;
  }

  /** SIGKILL (or another signal) and wait for the process to go. A paused node is resumed first. */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(id);
    const child = node.process;
    if (!child) return;
    if (node.state === 'paused') child.kill('SIGCONT');
    child.kill(signal);
    await node.exited;
  }

  pause(id: number): void {
    const node = this.node(id);
    if (!node.process || node.state !== 'running') throw new Error(`node ${id} is ${node.state}, cannot pause it`);
    node.process.kill('SIGSTOP');
    node.state = 'paused';
  }

  resume(id: number): void {
    const node = this.node(id);
    if (!node.process || node.state !== 'paused') return;
    node.process.kill('SIGCONT');
    node.state = 'running';
  }

  /** The harness's note that the cluster removed this node; its process stops by itself. */
  markRemoved(id: number): void {
    this.node(id).state = 'removed';
  }

  /** Synchronous last resort for exit handlers: resume and kill every process we started. */
  killAllSync(): void {
    for (const node of this.nodes.values()) {
      try {
        node.process?.kill('SIGCONT');
        node.process?.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((id) => this.kill(id)));
  }

  /** A short-lived admin connection: no retries, no offline queue, bounded by `timeoutMs`. */
  async admin<T>(id: number, fn: (client: Redis) => Promise<T>, timeoutMs = 1000): Promise<T> {
    const client = new Redis({
      host: this.hostOf(id), port: CLIENT_PORT, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null,
      enableOfflineQueue: false, connectTimeout: timeoutMs, commandTimeout: timeoutMs, autoResendUnfulfilledCommands: false,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await fn(client);
    } finally {
      client.disconnect();
    }
  }

  async ping(id: number): Promise<boolean> {
    try {
      return (await this.admin(id, (client) => client.ping(), 500)) === 'PONG';
    } catch {
      return false;
    }
  }

  async raftInfo(id: number): Promise<RaftInfo> {
    return raftInfoOf(parseInfo(await this.admin(id, (client) => client.info('raft'))));
  }

  async digest(id: number): Promise<string> {
    return String(await this.admin(id, (client) => client.call('RAFT.DIGEST')));
  }

  /**
   * The leader as the running nodes see it right now: the one node that says it leads, with a
   * majority of its own voters agreeing. Undefined when there is none (an election, a
   * partition, a paused leader).
   */
  async currentLeader(): Promise<RaftInfo | undefined> {
    const infos = (await Promise.all(this.runningIds().map((id) => this.raftInfo(id).catch(() => undefined))))
      .filter((info): info is RaftInfo => info !== undefined);
    const leaders = infos.filter((info) => info.role === 'leader');
    // Two nodes may both say "leader" for different terms during a partition: take the newest.
    leaders.sort((a, b) => b.term - a.term);
    const leader = leaders[0];
    if (!leader) return undefined;
    const agreeing = infos.filter((info) => info.leaderId === leader.id && info.term === leader.term).length;
    return agreeing > leader.voters.length / 2 ? leader : undefined;
  }

  async waitForLeader(timeoutMs: number): Promise<RaftInfo> {
    return waitFor('a leader a majority follows', () => this.currentLeader(), timeoutMs, 100);
  }
}
