// Two raftis builds against each other (and against redis-server), interleaved round by round
// in one run, so a change to the hot path gets a before/after figure that the machine's other
// load affects alike. Not a test.
//
//   npx tsx bench/compare-ab.ts --a <before>/dist/src/cli/main.js --b <after>/dist/src/cli/main.js
//                               [--rounds 4] [--tests set,get] [--pipelines 1,16]
//                               [--requests-p1 10000] [--requests-p16 50000] [--follower]
//                               [--a-arg=--read-mode --a-arg=lease] [--b-arg=...]   (server flags)
//                               [--a-node-arg=--max-semi-space-size=64] [--b-node-arg=...]   (node flags)
//
// A build is any compiled tree with its package.json and node_modules beside dist/ (see
// buildRaftis in compare-lib.ts; `npx tsc -p tsconfig.build.json --outDir X/dist` on a copy of
// the repository, plus package.json and a node_modules link, makes one). Both clusters (3 nodes
// each, fsync on) and redis-server (appendfsync always) run for the whole session; each round
// runs every workload against redis-server, then A's leader and B's leader in turn, A first in
// odd rounds and B first in even ones (the one that ran second was favoured by up to 20%; see
// runInterleaved). Prints medians over the rounds, each raftis figure also as a ratio to
// redis-server's median.
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  loadAverage, log, makeTempDir, median, removeDir, runInterleaved, startCluster, startRedis, stopCluster, stopProcess, waitSettled,
  type BenchSample, type BenchTarget, type RaftisNode,
} from './compare-lib.js';

const { values: flags } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    rounds: { type: 'string', default: '4' },
    tests: { type: 'string', default: 'set,get' },
    pipelines: { type: 'string', default: '1,16' },
    'requests-p1': { type: 'string', default: '10000' },
    'requests-p16': { type: 'string', default: '50000' },
    follower: { type: 'boolean', default: false },
    /** Extra `raftis server` flags for A's or B's nodes (repeat the option for each word). */
    'a-arg': { type: 'string', multiple: true, default: [] },
    'b-arg': { type: 'string', multiple: true, default: [] },
    /** Extra `node` flags for A's or B's nodes. */
    'a-node-arg': { type: 'string', multiple: true, default: [] },
    'b-node-arg': { type: 'string', multiple: true, default: [] },
  },
});

async function main(): Promise<void> {
  if (flags.a === undefined || flags.b === undefined) throw new Error('give --a and --b (two built main.js files, or one twice with --a-arg/--b-arg)');
  const builds = { A: path.resolve(flags.a), B: path.resolve(flags.b) };
  const scratch = await makeTempDir('raftis-ab-');
  const redis = await startRedis(path.join(scratch, 'redis'));
  const clusterA = await startCluster({ main: builds.A, dataDir: path.join(scratch, 'a'), serverArgs: flags['a-arg'], nodeFlags: () => flags['a-node-arg'] });
  const clusterB = await startCluster({ main: builds.B, dataDir: path.join(scratch, 'b'), serverArgs: flags['b-arg'], nodeFlags: () => flags['b-node-arg'] });
  const pick = async (cluster: typeof clusterA): Promise<RaftisNode> => {
    const leader = await waitSettled(cluster);
    return flags.follower ? (cluster.nodes.find((node) => node !== leader) as RaftisNode) : leader;
  };
  const targets: BenchTarget[] = [
    { name: 'redis-server', port: redis.port, pids: [redis.child.pid] },
    { name: 'A', ...await pick(clusterA).then((node) => ({ port: node.port, pids: [node.child.pid] })), systemPids: clusterA.nodes.map((node) => node.child.pid) },
    { name: 'B', ...await pick(clusterB).then((node) => ({ port: node.port, pids: [node.child.pid] })), systemPids: clusterB.nodes.map((node) => node.child.pid) },
  ];
  const tests = (flags.tests ?? 'set,get').split(',') as ('set' | 'get')[];
  const pipelines = (flags.pipelines ?? '1,16').split(',').map(Number);
  const loadBefore = loadAverage();
  const samplesOf = await runInterleaved({
    targets, tests, pipelines, rounds: Number(flags.rounds), warmupRequests: 10_000,
    requests: (pipeline) => Number(pipeline === 1 ? flags['requests-p1'] : flags['requests-p16']),
  });
  const lines = [
    `A = ${[...flags['a-node-arg'], builds.A, ...flags['a-arg']].join(' ')}`,
    `B = ${[...flags['b-node-arg'], builds.B, ...flags['b-arg']].join(' ')}`,
    `${flags.rounds} rounds, medians; ${flags.follower ? 'sent to a follower (proxied)' : 'sent to the leader'}; load average ${loadBefore} before, ${loadAverage()} after.`,
    '',
    '| workload | redis ops/s | A ops/s | B ops/s | A ÷ redis | B ÷ redis | B ÷ A | p50 ms redis / A / B | p99 ms redis / A / B | server CPU µs/op A / B | CPU of the 3 nodes µs/op A / B (B ÷ A) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const pipeline of pipelines) {
    for (const test of tests) {
      const get = (name: string): BenchSample[] => samplesOf(test, pipeline, name);
      const ops = (name: string): number => median(get(name).map((s) => s.result.opsPerSec));
      const p = (name: string, which: 'p50Ms' | 'p99Ms'): string => median(get(name).map((s) => s.result[which])).toFixed(1);
      const cpu = (name: string): string => median(get(name).map((s) => s.cpuUsPerOp)).toFixed(1);
      const systemCpu = (name: string): number => median(get(name).map((s) => s.systemCpuUsPerOp));
      const [r, a, b] = [ops('redis-server'), ops('A'), ops('B')];
      lines.push(`| ${test.toUpperCase()} \`-P ${pipeline}\` | ${Math.round(r)} | ${Math.round(a)} | ${Math.round(b)} | ${(a / r).toFixed(2)}× | ${(b / r).toFixed(2)}× `
        + `| ${(b / a).toFixed(2)}× | ${p('redis-server', 'p50Ms')} / ${p('A', 'p50Ms')} / ${p('B', 'p50Ms')} `
        + `| ${p('redis-server', 'p99Ms')} / ${p('A', 'p99Ms')} / ${p('B', 'p99Ms')} | ${cpu('A')} / ${cpu('B')} `
        + `| ${systemCpu('A').toFixed(1)} / ${systemCpu('B').toFixed(1)} (${(systemCpu('B') / systemCpu('A')).toFixed(2)}×) |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  await stopCluster(clusterA);
  await stopCluster(clusterB);
  await stopProcess(redis.child);
  await removeDir(scratch);
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
});
