// Starts real raftis clusters for integration tests: one `raftis server` process per node, each
// on its own loopback address (127.a.b.<id>, a random subnet per cluster so test files running
// in parallel never collide), with its own data directory and log file. Everything waits for
// conditions with deadlines; nothing sleeps for a fixed time.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

export interface NodeHandle {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly peerPort: number;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  process: ChildProcess | undefined;
  exited: Promise<number | null> | undefined;
}

export interface ClusterOptions {
  readonly nodes: number;
  readonly extraArgs?: readonly string[];
  readonly tickMs?: number;
  /** The nodes' requirepass: passed on their command lines and used by every helper client. */
  readonly password?: string;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
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

export class TestCluster {
  readonly nodes = new Map<number, NodeHandle>();
  readonly dir: string;
  readonly subnet: string;
  private readonly clients: Redis[] = [];

  private constructor(readonly options: ClusterOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftis-test-'));
    this.subnet = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  }

  static async start(options: ClusterOptions): Promise<TestCluster> {
    const cluster = new TestCluster(options);
    for (let id = 1; id <= options.nodes; id++) cluster.define(id);
    try {
      await Promise.all([...cluster.nodes.keys()].map((id) => cluster.spawn(id, cluster.peerArgs())));
    } catch (error) {
      // Nobody else holds this cluster yet: stop the nodes that did start, or they outlive the
      // test run (three nodes whose PING never answered ran on for two hours once).
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  private define(id: number): NodeHandle {
    const node: NodeHandle = {
      id, host: `${this.subnet}.${id}`, port: 7001, peerPort: 17001, httpPort: 9001,
      dataDir: path.join(this.dir, `n${id}`), logFile: path.join(this.dir, `n${id}.log`), process: undefined, exited: undefined,
    };
    this.nodes.set(id, node);
    return node;
  }

  private peerArgs(): string[] {
    const peers = [...this.nodes.values()].map((n) => `${n.id}@${n.host}:${n.port}`).join(',');
    return ['--peers', peers];
  }

  node(id: number): NodeHandle {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /**
   * Starts (or restarts) a node's process and waits until its client port answers PING (unless
   * `waitForClients` is false: a node expected to stop on its own may stop before it answers).
   */
  async spawn(id: number, membership: readonly string[], waitForClients = true): Promise<void> {
    const node = this.node(id);
    const tickMs = this.options.tickMs ?? 50;
    const args = [
      '--import', 'tsx', MAIN, 'server', '--id', String(id), '--host', node.host, '--port', String(node.port),
      '--peer-port', String(node.peerPort), '--http-port', String(node.httpPort), '--data-dir', node.dataDir,
      '--tick-ms', String(tickMs), '--election-ticks', '10', '--log-level', 'info', ...membership, ...(this.options.extraArgs ?? []),
      ...(this.options.password !== undefined ? ['--requirepass', this.options.password] : []),
    ];
    const log = fs.openSync(node.logFile, 'a');
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    node.process = child;
    node.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    if (!waitForClients) return;
    await waitFor(`node ${id} to accept clients`, async () => (await this.ping(id)) || undefined, 30_000, 100);
  }

  async restart(id: number): Promise<void> {
    await this.spawn(id, []);
  }

  /** Starts a new node that joins through an existing member. */
  async join(id: number, via: number): Promise<NodeHandle> {
    const node = this.define(id);
    const viaNode = this.node(via);
    await this.spawn(id, ['--join', `${viaNode.host}:${viaNode.port}`]);
    return node;
  }

  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const node = this.node(id);
    if (!node.process || node.process.exitCode !== null) return node.process?.exitCode ?? null;
    node.process.kill(signal);
    const code = await node.exited;
    node.process = undefined;
    return code ?? null;
  }

  signal(id: number, signal: NodeJS.Signals): void {
    this.node(id).process?.kill(signal);
  }

  private async ping(id: number): Promise<boolean> {
    const node = this.node(id);
    const client = new Redis({ host: node.host, port: node.port, password: this.options.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  }

  /** A client connected to one node (closed by close()). */
  client(id: number, options: Record<string, unknown> = {}): Redis {
    const node = this.node(id);
    const client = new Redis({ host: node.host, port: node.port, password: this.options.password, maxRetriesPerRequest: 1, ...options });
    client.on('error', () => undefined);
    this.clients.push(client);
    return client;
  }

  async infoRaft(id: number): Promise<Record<string, string>> {
    const node = this.node(id);
    const client = new Redis({ host: node.host, port: node.port, password: this.options.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500, commandTimeout: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return parseInfo(await client.info('raft'));
    } finally {
      client.disconnect();
    }
  }

  /** Waits until exactly one live node reports itself leader and the others follow it. */
  async waitForLeader(among: readonly number[] = [...this.nodes.keys()], timeoutMs = 15_000): Promise<number> {
    return waitFor('a leader', async () => {
      const infos = await Promise.all(among.map((id) => this.infoRaft(id).catch(() => undefined)));
      const leaders = infos.filter((info) => info?.raft_role === 'leader').map((info) => Number(info!.raft_node_id));
      if (leaders.length !== 1) return undefined;
      const leader = leaders[0] as number;
      const agreeing = infos.filter((info) => info && Number(info.raft_leader_id) === leader).length;
      return agreeing > among.length / 2 ? leader : undefined;
    }, timeoutMs, 100);
  }

  async digest(id: number): Promise<string> {
    return String(await this.client(id).call('RAFT.DIGEST'));
  }

  /** Waits until every given node reports the same applied index and keyspace digest. */
  async waitForConvergence(ids: readonly number[] = [...this.nodes.keys()], timeoutMs = 15_000): Promise<string> {
    return waitFor('replicas to converge', async () => {
      const digests = await Promise.all(ids.map((id) => this.digest(id)));
      return digests.every((d) => d === digests[0]) ? digests[0] : undefined;
    }, timeoutMs, 100);
  }

  logs(id: number): string {
    try {
      return fs.readFileSync(this.node(id).logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.disconnect();
    await Promise.all([...this.nodes.keys()].map((id) => this.kill(id).catch(() => undefined)));
    if (!process.env.RAFTIS_KEEP_TEST_DIRS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A cluster shared by one test file's tests, and the leader it elected first. */
export interface SharedCluster {
  readonly cluster: TestCluster;
  readonly leader: number;
}

/** Starts a cluster before the file's tests (waiting for a leader) and closes it after them. */
export function useCluster(options: ClusterOptions): SharedCluster {
  let cluster: TestCluster | undefined;
  let leader: number | undefined;
  beforeAll(async () => {
    cluster = await TestCluster.start(options);
    leader = await cluster.waitForLeader();
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });
  return {
    get cluster(): TestCluster {
      if (!cluster) throw new Error('the shared cluster is not started yet (use it inside tests)');
      return cluster;
    },
    get leader(): number {
      if (leader === undefined) throw new Error('the shared cluster has no leader yet (use it inside tests)');
      return leader;
    },
  };
}
