// `raftis bench` end to end, through its command-line entry (the same yargs command module that
// src/cli/main.ts registers) against real redis-server processes on free ports:
// - the memtier run of the brief (-n 200 -c 2 -t 1 --hide-histogram --json-out-file) prints
//   ALL STATS with its four rows, writes the JSON, and leaves in Redis exactly the keys that
//   memtier's key sequence for those flags names, with `data-size` values;
// - P:P with -n allkeys writes every key of the range once across threads and clients;
// - GET hits and misses are told apart (`$-1` is a miss) on a half-populated range;
// - --pipeline and --test-time bound the run as memtier's do;
// - --cluster-mode routes by CLUSTER SLOTS on a one-node Redis Cluster owning all 16384 slots,
//   and follows -MOVED from a fake seed node (written here) to that real node;
// - a refused connection ends the run with `error:` and exit code 1.
// Skipped, with a message, where redis-server is not installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../src/bench/cluster.js';
import { KeyGenerator, RatioCycle } from '../../src/bench/key-pattern.js';
import { parseKeyPattern } from '../../src/bench/options.js';
import { decodeResp } from '../../src/bench/resp-value.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BENCH_ENTRY = path.join(ROOT, 'src/bench/cli.ts');
const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0;
if (!HAVE_REDIS) console.warn('redis-server is not installed: skipping the bench integration tests (apt-get install redis-server)');

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

interface RedisProcess {
  readonly port: number;
  readonly child: ChildProcess;
  readonly dir: string;
}

/** Starts redis-server in the foreground and resolves once it accepts connections. */
async function startRedis(extraArgs: readonly string[] = []): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'raftis-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${log}`)));
  });
  return { port, child, dir };
}

function stopRedis(redis: RedisProcess | undefined): void {
  if (redis === undefined) return;
  redis.child.kill('SIGKILL');
  rmSync(redis.dir, { recursive: true, force: true });
}

interface BenchRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runBench(args: readonly string[]): Promise<BenchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BENCH_ENTRY, 'bench', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function tableRows(stdout: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.indexOf('ALL STATS');
  expect(start, stdout).toBeGreaterThan(-1);
  return lines.slice(start + 4, start + 8);
}

/** The SET keys memtier's sequence gives one client for these flags (same seed for every client). */
function expectedSetKeys(pattern: string, keyMaximum: number, requests: number, ratio: [number, number], clientIndex: number, clientCount: number): string[] {
  const keys = new KeyGenerator({ keyMinimum: 0, keyMaximum, keyPattern: parseKeyPattern(pattern), keyStddev: 0, keyMedian: 0 }, clientIndex, clientCount, 0);
  const cycle = new RatioCycle(ratio[0], ratio[1]);
  const result: string[] = [];
  for (let i = 0; i < requests; i++) {
    if (cycle.nextIsSet()) result.push(`memtier-${keys.nextSetKey()}`);
    else keys.nextGetKey();
  }
  return result;
}

describe.skipIf(!HAVE_REDIS)('raftis bench against redis-server', () => {
  let redis: RedisProcess | undefined;
  let client: Redis;
  let workDir: string;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
    workDir = mkdtempSync(path.join(tmpdir(), 'raftis-bench-'));
  });

  afterAll(async () => {
    await client?.quit();
    stopRedis(redis);
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  });

  it('runs the memtier command line of the brief and leaves exactly the keys memtier would', async () => {
    await client.flushall();
    const jsonFile = path.join(workDir, 'run.json');
    const run = await runBench(['-s', '127.0.0.1', '-p', String(redis!.port), '-n', '200', '-c', '2', '-t', '1', '--hide-histogram', '--json-out-file', jsonFile]);
    expect(run.code, run.stderr).toBe(0);

    const rows = tableRows(run.stdout);
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual(['Sets', 'Gets', 'Waits', 'Totals']);
    expect(run.stdout).toContain('2         Connections per thread');
    expect(run.stdout).not.toContain('Request Latency Distribution');
    expect(run.stderr).toMatch(/\[RUN #1 100%, +\d+ secs\] +0 threads: +400 ops/);

    // Both clients share memtier's default seed, so both send this same sequence.
    const setKeys = expectedSetKeys('R:R', 10_000_000, 200, [1, 10], 0, 2);
    expect(setKeys).toHaveLength(19);
    expect(await client.dbsize()).toBe(new Set(setKeys).size);
    expect(await client.exists(...setKeys)).toBe(setKeys.length);
    expect(await client.get(setKeys[0]!)).toBe('x'.repeat(32));

    const json = JSON.parse(readFileSync(jsonFile, 'utf8'));
    const all = json['ALL STATS'];
    expect(all.Sets.Count).toBe(38);
    expect(all.Gets.Count).toBe(362);
    expect(all.Totals.Count).toBe(400);
    expect(all.Totals['Ops/sec']).toBeGreaterThan(0);
    expect(all.Totals['Percentile Latencies']['p99.00']).toBeGreaterThan(0);
    expect(all.Gets['Hits/sec'] + all.Gets['Misses/sec']).toBeCloseTo(all.Gets['Ops/sec'], 1);
    expect(json['run information']).toMatchObject({ Threads: 1, 'Connections per thread': 2, 'Requests per client': 200 });
  });

  it('writes every key of the range once with P:P and -n allkeys, across threads and clients', async () => {
    await client.flushall();
    const run = await runBench(['-p', String(redis!.port), '-n', 'allkeys', '--key-pattern', 'P:P', '--key-maximum', '99', '--ratio', '1:0', '-c', '2', '-t', '2', '-d', '8']);
    expect(run.code, run.stderr).toBe(0);
    expect(await client.dbsize()).toBe(100);
    const keys = Array.from({ length: 100 }, (_, i) => `memtier-${i}`);
    expect(await client.exists(...keys)).toBe(100);
    expect(run.stdout).toContain('Request Latency Distribution');
  });

  it('tells GET hits from misses and keeps --pipeline requests in flight', async () => {
    await client.flushall();
    const pipeline = client.pipeline();
    for (let i = 0; i < 100; i++) pipeline.set(`memtier-${i}`, 'v');
    await pipeline.exec();
    const jsonFile = path.join(workDir, 'gets.json');
    const run = await runBench(['-p', String(redis!.port), '--ratio', '0:1', '--key-pattern', 'S:S', '--key-maximum', '199', '-n', '400', '-c', '1', '-t', '1', '--pipeline', '16', '--hide-histogram', '--json-out-file', jsonFile]);
    expect(run.code, run.stderr).toBe(0);
    const gets = JSON.parse(readFileSync(jsonFile, 'utf8'))['ALL STATS'].Gets;
    // Keys 0..199 twice over: 0..99 hit, 100..199 miss.
    expect(gets.Count).toBe(400);
    expect(gets['Hits/sec']).toBeCloseTo(gets['Misses/sec'], 1);
    expect(gets['Hits/sec']).toBeGreaterThan(0);
  });

  it('runs for --test-time seconds', async () => {
    const jsonFile = path.join(workDir, 'timed.json');
    const started = Date.now();
    const run = await runBench(['-p', String(redis!.port), '--test-time', '1', '-c', '2', '-t', '1', '--hide-histogram', '--json-out-file', jsonFile]);
    expect(run.code, run.stderr).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    const json = JSON.parse(readFileSync(jsonFile, 'utf8'));
    expect(json['run information'].Seconds).toBe(1);
    expect(json['ALL STATS'].Runtime['Total duration']).toBeGreaterThanOrEqual(1_000);
    expect(json['ALL STATS'].Totals.Count).toBeGreaterThan(100);
  });

  it('reports a refused connection as an error with exit code 1', async () => {
    const run = await runBench(['-p', String(await freePort()), '-n', '10', '-c', '1', '-t', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/error: .*ECONNREFUSED/);
  });
});

/** A seed node that claims every slot and redirects every keyed command to `target`. */
function startRedirector(targetPort: number): Promise<{ server: net.Server; port: number; redirects: () => number }> {
  let redirects = 0;
  const server = net.createServer((socket) => {
    let input: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      input = Buffer.concat([input, chunk]);
      for (;;) {
        const decoded = decodeResp(input);
        if (decoded === undefined) break;
        input = input.subarray(decoded.sizeBytes);
        const args = (decoded.value as Buffer[]).map((arg) => arg.toString('latin1'));
        if (args[0]?.toUpperCase() === 'CLUSTER' && args[1]?.toUpperCase() === 'SLOTS') {
          const { port } = server.address() as net.AddressInfo;
          socket.write(`*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:${port}\r\n`);
        } else {
          redirects++;
          socket.write(`-MOVED ${keyHashSlot(args[1] ?? '')} 127.0.0.1:${targetPort}\r\n`);
        }
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, redirects: () => redirects }));
  });
}

describe.skipIf(!HAVE_REDIS)('raftis bench --cluster-mode against a one-node Redis Cluster', () => {
  let redis: RedisProcess | undefined;
  let client: Redis;
  let workDir: string;

  beforeAll(async () => {
    // The cluster bus listens on its own free port; a single master then takes all 16384 slots.
    redis = await startRedis(['--cluster-enabled', 'yes', '--cluster-port', String(await freePort()), '--cluster-config-file', 'nodes.conf']);
    client = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
    await client.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    const deadline = Date.now() + 20_000;
    while (!String(await client.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error('the one-node cluster never reached cluster_state:ok');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    workDir = mkdtempSync(path.join(tmpdir(), 'raftis-bench-cluster-'));
  });

  afterAll(async () => {
    await client?.quit();
    stopRedis(redis);
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  });

  it('routes by CLUSTER SLOTS and prints the MOVED/sec and ASK/sec columns', async () => {
    await client.flushall();
    const jsonFile = path.join(workDir, 'cluster.json');
    const run = await runBench(['-p', String(redis!.port), '--cluster-mode', '-n', 'allkeys', '--key-pattern', 'P:P', '--key-maximum', '49', '--ratio', '1:0', '-c', '2', '-t', '1', '--hide-histogram', '--json-out-file', jsonFile]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Type +Ops\/sec +Hits\/sec +Misses\/sec +MOVED\/sec +ASK\/sec +Avg\. Latency/);
    expect(await client.dbsize()).toBe(50);
    const sets = JSON.parse(readFileSync(jsonFile, 'utf8'))['ALL STATS'].Sets;
    expect(sets.Count).toBe(50);
    expect(sets['MOVED/sec']).toBe(0);
  });

  it('follows -MOVED from a seed that is not the master, and learns the real map from it', async () => {
    await client.flushall();
    const redirector = await startRedirector(redis!.port);
    try {
      const jsonFile = path.join(workDir, 'moved.json');
      const run = await runBench(['-p', String(redirector.port), '--cluster-mode', '-n', '200', '--key-pattern', 'S:S', '--key-maximum', '199', '--ratio', '1:0', '-c', '2', '-t', '1', '--pipeline', '4', '--hide-histogram', '--json-out-file', jsonFile]);
      expect(run.code, run.stderr).toBe(0);
      // Every key reached the real master, each once per client sequence.
      expect(await client.dbsize()).toBe(200);
      const sets = JSON.parse(readFileSync(jsonFile, 'utf8'))['ALL STATS'].Sets;
      expect(sets.Count).toBe(400);
      expect(sets['MOVED/sec']).toBeGreaterThan(0);
      // Redirects stop once the real master's CLUSTER SLOTS replaces the seed's claim.
      expect(redirector.redirects()).toBeGreaterThan(0);
      expect(redirector.redirects()).toBeLessThan(100);
    } finally {
      redirector.server.close();
    }
  });
});
