// What the bench/compare* scripts share: a private build of raftis, starting redis-server and a
// local raftis cluster on free ports, asking them INFO, running redis-benchmark and raftis bench
// and parsing what they print, and reading a process's CPU time from /proc. Nothing here is
// timed or asserted; the scripts that use it decide what to measure.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { roundOrder } from './round-order.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function log(message: string): void {
  process.stderr.write(`[compare ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seconds since `start` (a performance.now() value), for log lines. */
export function secondsSince(startMs: number): string {
  return ((performance.now() - startMs) / 1000).toFixed(1);
}

// -------------------------------------------------------------------------------------------
// Child processes

/** Runs a command to completion; rejects on a non-zero exit, with its stderr. */
export function run(command: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}: ${stderr.trim().slice(-2000)}`));
    });
  });
}

/** Every process the scripts start, so that an error or Ctrl-C still stops them (by pid). */
const children = new Set<ChildProcess>();

export function startProcess(command: string, args: readonly string[], logFile: string): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    // The last 64 KiB is enough to say why a process died.
    output = (output + chunk.toString('utf8')).slice(-65536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => {
    children.delete(child);
    try {
      writeFileSync(logFile, output);
    } catch {
      // The directory may already be gone at the end of a run.
    }
  });
  children.add(child);
  return child;
}

/** Sends `signal` and waits for the process to exit (SIGKILL after `graceMs`). */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function killAllChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}
process.on('exit', killAllChildren);

// -------------------------------------------------------------------------------------------
// Ports and a private build

/** `count` distinct free TCP ports on 127.0.0.1 (free when asked; good enough on one machine). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * Compiles src/ into a directory of its own (not dist/, which other people rebuild at any
 * moment) and returns the path of its cli/main.js. The directory gets the package.json (ESM, and
 * the version INFO reports) and a link to node_modules, so the build runs as `node main.js`.
 */
export async function buildRaftis(outRoot: string): Promise<string> {
  mkdirSync(outRoot, { recursive: true });
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [tsc, '-p', path.join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', path.join(outRoot, 'dist')], { cwd: REPO_ROOT });
  copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(outRoot, 'package.json'));
  const modules = path.join(outRoot, 'node_modules');
  if (!existsSync(modules)) symlinkSync(path.join(REPO_ROOT, 'node_modules'), modules, 'dir');
  return path.join(outRoot, 'dist', 'src', 'cli', 'main.js');
}

export async function gitDescribe(): Promise<string> {
  try {
    const { stdout } = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT });
    const dirty = (await run('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT })).stdout.trim() !== '';
    return `${stdout.trim()}${dirty ? ' (src/ has uncommitted changes)' : ''}`;
  } catch {
    return 'unknown';
  }
}

export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

// -------------------------------------------------------------------------------------------
// A tiny RESP client: enough for PING, INFO, CLUSTER FAILOVER, DBSIZE

export type RespValue = string | number | null | RespValue[] | Error;

/** Sends one command and returns its reply (errors come back as Error values, not throws). */
export async function command(port: number, args: readonly string[], timeoutMs = 5000): Promise<RespValue> {
  const [reply] = await commands(port, [args], timeoutMs);
  return reply as RespValue;
}

/** Sends commands on one connection, in order, and returns their replies. */
export function commands(port: number, list: readonly (readonly string[])[], timeoutMs = 5000): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${list.map((args) => args[0]).join(', ')} from port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const replies: RespValue[] = [];
      let offset = 0;
      while (replies.length < list.length) {
        const parsed = parseReply(buffer, offset);
        if (parsed === undefined) return;
        replies.push(parsed.value);
        offset = parsed.next;
      }
      clearTimeout(timer);
      socket.destroy();
      resolve(replies);
    });
    socket.connect(port, '127.0.0.1', () => {
      let request = '';
      for (const args of list) {
        request += `*${args.length}\r\n`;
        for (const arg of args) request += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
      }
      socket.write(request);
    });
  });
}

function parseReply(buffer: Buffer, offset: number): { value: RespValue; next: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  switch (type) {
    case '+':
      return { value: line, next: lineEnd + 2 };
    case '-':
      return { value: new Error(line), next: lineEnd + 2 };
    case ':':
      return { value: Number(line), next: lineEnd + 2 };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: lineEnd + 2 };
      if (buffer.length < lineEnd + 2 + length + 2) return undefined;
      return { value: buffer.toString('utf8', lineEnd + 2, lineEnd + 2 + length), next: lineEnd + 4 + length };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: lineEnd + 2 };
      const items: RespValue[] = [];
      let next = lineEnd + 2;
      for (let k = 0; k < count; k++) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected reply type ${JSON.stringify(type)}`);
  }
}

/** INFO <section> as a map of field to value. */
export async function info(port: number, section: string): Promise<Map<string, string>> {
  const reply = await command(port, ['INFO', section]);
  if (typeof reply !== 'string') throw new Error(`INFO ${section} on port ${port}: ${String(reply)}`);
  const fields = new Map<string, string>();
  for (const line of reply.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

// -------------------------------------------------------------------------------------------
// redis-server

export interface RedisServer {
  readonly port: number;
  readonly child: ChildProcess;
  readonly version: string;
}

/** The redis-server the issue compares against: every write fsynced before it is answered. */
export const REDIS_DURABLE_ARGS = ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''] as const;

export async function startRedis(dir: string): Promise<RedisServer> {
  const [port] = (await freePorts(1)) as [number];
  mkdirSync(dir, { recursive: true });
  const child = startProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...REDIS_DURABLE_ARGS], path.join(dir, 'redis.log'));
  await waitFor('redis-server to answer PING', 10_000, async () => ((await command(port, ['PING'])) === 'PONG' ? true : undefined));
  const version = (await info(port, 'server')).get('redis_version') ?? '?';
  return { port, child, version };
}

// -------------------------------------------------------------------------------------------
// A raftis cluster of separate `raftis server` processes

export interface RaftisNode {
  readonly id: number;
  readonly port: number;
  readonly peerPort: number;
  readonly args: readonly string[];
  /** The admin HTTP port (/metrics), when the cluster was started with httpPorts. */
  readonly httpPort?: number;
  child: ChildProcess;
  startedAtMs: number;
}

export interface RaftisCluster {
  readonly main: string;
  readonly dataDir: string;
  readonly nodes: RaftisNode[];
}

export interface ClusterOptions {
  readonly main: string;
  readonly dataDir: string;
  readonly size?: number;
  /** Extra `node` flags for a node (e.g. --cpu-prof for the one to profile). */
  readonly nodeFlags?: (id: number) => readonly string[];
  /** Extra `raftis server` flags for every node. */
  readonly serverArgs?: readonly string[];
  /** Give every node an admin HTTP port (for /metrics); off by default. */
  readonly httpPorts?: boolean;
  /** `--log-level` of every node (its log is `<dataDir>/n<id>.log`); warn by default. */
  readonly logLevel?: string;
}

export async function startCluster(options: ClusterOptions): Promise<RaftisCluster> {
  const size = options.size ?? 3;
  const ports = await freePorts(size * (options.httpPorts === true ? 3 : 2));
  const peers = Array.from({ length: size }, (_, k) => `${k + 1}@127.0.0.1:${ports[k]}:${ports[size + k]}`).join(',');
  const nodes: RaftisNode[] = [];
  for (let id = 1; id <= size; id++) {
    const port = ports[id - 1] as number;
    const peerPort = ports[size + id - 1] as number;
    const httpPort = options.httpPorts === true ? ports[2 * size + id - 1] as number : undefined;
    const args = [
      ...(options.nodeFlags?.(id) ?? []), options.main, 'server', '--id', String(id), '--host', '127.0.0.1',
      '--port', String(port), '--peer-port', String(peerPort), '--http-port', String(httpPort ?? 0), '--peers', peers,
      '--data-dir', path.join(options.dataDir, `n${id}`), '--log-level', options.logLevel ?? 'warn', ...(options.serverArgs ?? []),
    ];
    nodes.push({ id, port, peerPort, httpPort, args, child: startNodeProcess(options.dataDir, id, args), startedAtMs: performance.now() });
  }
  const cluster = { main: options.main, dataDir: options.dataDir, nodes };
  await waitSettled(cluster);
  return cluster;
}

function startNodeProcess(dataDir: string, id: number, args: readonly string[]): ChildProcess {
  mkdirSync(dataDir, { recursive: true });
  return startProcess(process.execPath, args, path.join(dataDir, `n${id}.log`));
}

/** Starts a stopped node again with the arguments it had. */
export function restartNode(cluster: RaftisCluster, node: RaftisNode): void {
  node.startedAtMs = performance.now();
  node.child = startNodeProcess(cluster.dataDir, node.id, node.args);
}

export async function raftInfo(node: RaftisNode): Promise<Map<string, string>> {
  return info(node.port, 'raft');
}

/** The leader, once every node names the same one and a write through it has been applied. */
export async function waitSettled(cluster: RaftisCluster, timeoutMs = 60_000): Promise<RaftisNode> {
  return waitFor('one leader that every node follows, and a committed write', timeoutMs, async () => {
    const leaders = new Set<string>();
    for (const node of cluster.nodes) leaders.add((await raftInfo(node)).get('raft_leader_id') ?? '-1');
    const [only] = [...leaders];
    if (leaders.size !== 1 || only === undefined || only === '-1') return undefined;
    const leader = cluster.nodes.find((node) => String(node.id) === only);
    if (!leader) return undefined;
    const reply = await command(leader.port, ['SET', 'compare:settled', '1']);
    return reply === 'OK' ? leader : undefined;
  });
}

export async function findLeader(cluster: RaftisCluster): Promise<RaftisNode> {
  for (const node of cluster.nodes) {
    if ((await raftInfo(node)).get('raft_role') === 'leader') return node;
  }
  return waitSettled(cluster);
}

/** Makes `target` the leader (CLUSTER FAILOVER TO, sent to the current leader). */
export async function makeLeader(cluster: RaftisCluster, target: RaftisNode): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const leader = await waitSettled(cluster);
    if (leader === target) return;
    await command(leader.port, ['CLUSTER', 'FAILOVER', 'TO', String(target.id)], 10_000).catch(() => undefined);
    await sleep(500);
  }
  throw new Error(`node ${target.id} did not become the leader`);
}

export async function stopCluster(cluster: RaftisCluster): Promise<void> {
  await Promise.all(cluster.nodes.map((node) => stopProcess(node.child, 'SIGKILL')));
}

// -------------------------------------------------------------------------------------------
// CPU time of a process, from /proc (Linux)

const CLOCK_TICKS_PER_SECOND = 100;

/** user+system CPU milliseconds the process has used so far (0 if it is gone). */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]);
    const system = Number(fields[12]);
    return ((user + system) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * CPU milliseconds (user+system) of this process's children that have exited and been waited
 * for (cutime and cstime in /proc/self/stat): read around a load generator's run, its CPU.
 */
export function exitedChildrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// -------------------------------------------------------------------------------------------
// Load generators

export interface LoadResult {
  readonly opsPerSec: number;
  readonly avgMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly requests: number;
}

export interface RedisBenchmarkOptions {
  readonly port: number;
  readonly tests: readonly ('set' | 'get')[];
  readonly requests: number;
  readonly pipeline: number;
  readonly clients?: number;
  readonly dataSizeBytes?: number;
  readonly keyspace?: number;
}

/** The command line, as it is printed next to each figure. */
export function redisBenchmarkArgs(options: RedisBenchmarkOptions): string[] {
  return [
    '-p', String(options.port), '-c', String(options.clients ?? 50), '-d', String(options.dataSizeBytes ?? 64),
    '-r', String(options.keyspace ?? 100_000), '-t', options.tests.join(','), '-n', String(options.requests),
    '-P', String(options.pipeline), '--csv',
  ];
}

/** Runs redis-benchmark and returns one result per test, keyed by its lower-case name. */
export async function redisBenchmark(options: RedisBenchmarkOptions): Promise<Map<string, LoadResult>> {
  const { stdout } = await run('redis-benchmark', redisBenchmarkArgs(options), { timeoutMs: 30 * 60_000 });
  return parseRedisBenchmarkCsv(stdout, options.requests);
}

/**
 * redis-benchmark 7's --csv: a header line, then one line per test:
 * "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
 */
export function parseRedisBenchmarkCsv(text: string, requests: number): Map<string, LoadResult> {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('"'));
  const header = (lines.shift() ?? '').split(',').map((cell) => cell.replaceAll('"', ''));
  const column = (name: string): number => {
    const at = header.indexOf(name);
    if (at < 0) throw new Error(`redis-benchmark --csv has no "${name}" column: ${header.join(',')}`);
    return at;
  };
  const results = new Map<string, LoadResult>();
  for (const line of lines) {
    const cells = line.split(',').map((cell) => cell.replaceAll('"', ''));
    results.set((cells[column('test')] ?? '').toLowerCase(), {
      opsPerSec: Number(cells[column('rps')]),
      avgMs: Number(cells[column('avg_latency_ms')]),
      p50Ms: Number(cells[column('p50_latency_ms')]),
      p99Ms: Number(cells[column('p99_latency_ms')]),
      maxMs: Number(cells[column('max_latency_ms')]),
      requests,
    });
  }
  return results;
}

export interface RaftisBenchOptions {
  readonly main: string;
  readonly port: number;
  readonly kind: 'set' | 'get';
  readonly requestsPerClient: number;
  readonly pipeline: number;
  readonly clients?: number;
  readonly dataSizeBytes?: number;
  readonly keyspace?: number;
}

/** The workload redis-benchmark runs, in memtier's terms (one thread: see docs/benchmark.md). */
export function raftisBenchArgs(options: RaftisBenchOptions, jsonFile: string): string[] {
  return [
    options.main, 'bench', '-s', '127.0.0.1', '-p', String(options.port), '-t', '1', '-c', String(options.clients ?? 50),
    '-n', String(options.requestsPerClient), '-d', String(options.dataSizeBytes ?? 64), '--key-prefix', 'key:',
    '--key-minimum', '0', '--key-maximum', String((options.keyspace ?? 100_000) - 1), '--distinct-client-seed',
    '--ratio', options.kind === 'set' ? '1:0' : '0:1', '--pipeline', String(options.pipeline), '--hide-histogram',
    '--json-out-file', jsonFile,
  ];
}

export async function raftisBench(options: RaftisBenchOptions, scratchDir: string): Promise<LoadResult> {
  const jsonFile = path.join(scratchDir, `bench-${options.kind}-${options.port}-${options.pipeline}.json`);
  await run(process.execPath, raftisBenchArgs(options, jsonFile), { timeoutMs: 30 * 60_000 });
  const json = JSON.parse(await readFile(jsonFile, 'utf8')) as { 'ALL STATS': Record<string, Record<string, unknown>> };
  const row = json['ALL STATS'][options.kind === 'set' ? 'Sets' : 'Gets'] as Record<string, unknown>;
  const percentiles = row['Percentile Latencies'] as Record<string, number>;
  return {
    opsPerSec: Number(row['Ops/sec']),
    avgMs: Number(row['Average Latency']),
    p50Ms: Number(percentiles['p50.00']),
    p99Ms: Number(percentiles['p99.00']),
    maxMs: Number(row['Max Latency']),
    requests: Number(row.Count),
  };
}

/** A command line as a reader would type it (the built main.js shown as `raftis`). */
/** A server that interleaved runs load: its port, and the processes whose CPU time it costs. */
export interface BenchTarget {
  readonly name: string;
  readonly port: number;
  readonly pids: readonly (number | undefined)[];
  /**
   * Every process of the system under test (a raftis cluster's nodes), when that is more than
   * `pids`. On a CPU-bound machine their CPU time per request decides throughput, and it moves
   * far less with the other load than throughput does.
   */
  readonly systemPids?: readonly (number | undefined)[];
}

export interface BenchSample {
  readonly result: LoadResult;
  /** CPU time of the target's processes per request, µs. */
  readonly cpuUsPerOp: number;
  /** The same for `systemPids` (equal to cpuUsPerOp when the target has none). */
  readonly systemCpuUsPerOp: number;
}

export interface InterleavedOptions {
  readonly targets: readonly BenchTarget[];
  readonly tests: readonly ('set' | 'get')[];
  readonly pipelines: readonly number[];
  readonly rounds: number;
  readonly requests: (pipeline: number) => number;
  /** Requests of SET then GET at -P 16 sent to each target first (fills the keys GET reads, warms V8). */
  readonly warmupRequests: number;
}

/**
 * Runs every redis-benchmark workload against every target in turn, round after round, so the
 * machine's other load affects them alike (bench/compare-ab.ts, bench/floor.ts). Returns the
 * samples of one workload on one target.
 *
 * The first target (the reference, redis-server) always runs first; the others run in the
 * given order in odd rounds and in reverse order in even rounds. In a fixed order the target
 * that ran last was favoured: the same build measured 1.15× and then 0.81× of the other at
 * SET `-P 1`, depending on which one ran second (docs/performance.md, seventh session). Use an
 * even number of rounds so that each order runs as often.
 */
export async function runInterleaved(options: InterleavedOptions): Promise<(test: string, pipeline: number, target: string) => BenchSample[]> {
  const key = (test: string, pipeline: number, target: string): string => `${test.toUpperCase()} -P ${pipeline}|${target}`;
  const samples = new Map<string, BenchSample[]>();
  const cpuOf = (pids: readonly (number | undefined)[]): number => pids.reduce((sum: number, pid) => sum + cpuMs(pid), 0);
  for (const target of options.targets) {
    await redisBenchmark({ port: target.port, tests: ['set', 'get'], requests: options.warmupRequests, pipeline: 16 });
  }
  for (let round = 1; round <= options.rounds; round++) {
    for (const pipeline of options.pipelines) {
      const requests = options.requests(pipeline);
      for (const test of options.tests) {
        for (const target of roundOrder(options.targets, round)) {
          const systemPids = target.systemPids ?? target.pids;
          const cpu0 = cpuOf(target.pids);
          const systemCpu0 = cpuOf(systemPids);
          const result = (await redisBenchmark({ port: target.port, tests: [test], requests, pipeline })).get(test);
          if (!result) throw new Error(`no ${test} result`);
          const name = key(test, pipeline, target.name);
          const cpuUsPerOp = ((cpuOf(target.pids) - cpu0) * 1000) / requests;
          const systemCpuUsPerOp = ((cpuOf(systemPids) - systemCpu0) * 1000) / requests;
          samples.set(name, [...(samples.get(name) ?? []), { result, cpuUsPerOp, systemCpuUsPerOp }]);
          log(`round ${round} ${name}: ${Math.round(result.opsPerSec)}/s p50 ${result.p50Ms} ms, CPU ${systemCpuUsPerOp.toFixed(1)} µs/op`);
        }
      }
    }
  }
  return (test, pipeline, target) => samples.get(key(test, pipeline, target)) ?? [];
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function shellLine(command: string, args: readonly string[]): string {
  const quote = (arg: string): string => (arg === '' ? "''" : /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);
  return [command, ...args].map(quote).join(' ');
}

export function machineDescription(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  return `${cpus.length} × ${model}, Linux ${os.release()}, Node ${process.version}`;
}

export function loadAverage(): string {
  return os.loadavg().map((value) => value.toFixed(1)).join(' / ');
}

export function readText(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}
