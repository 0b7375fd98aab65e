// raftis against redis-server, in one run on one machine (issue 7). Not a test: the figures depend
// on the machine and on whatever else runs on it, which is why every raftis figure is given as a
// ratio to redis-server measured in the same run, workload by workload, interleaved.
//
//   npx tsx bench/compare.ts [--requests-p1 50000] [--requests-p16 500000] [--skip-follower]
//                            [--skip-raftis-bench] [--main dist/src/cli/main.js] [--dry-run]
//                            [--raftis-arg=--read-mode --raftis-arg=lease]   (extra server flags)
//   npm run bench:compare -- [same flags]
//
// It compiles src/ into a private directory (other people rebuild dist/ at any moment; --main
// uses an existing build instead), starts redis-server with appendonly yes, appendfsync always
// and no RDB saves, and three `raftis server` processes (fsync on, the default), all on free
// ports; then, for -P 1 and -P 16 and for SET then GET, runs redis-benchmark -c 50 -d 64
// -r 100000 (the issue's -t set,get as -t set and -t get, so that server CPU time can be charged
// to each) against redis-server, the raftis leader (found with INFO raft) and a follower (which
// proxies to the leader), and raftis bench with the same workload against redis-server and the
// leader. Server CPU time is read from /proc around every run. Each raftis run lasts several
// seconds (it was under two, at 20,000 and 100,000 requests, and swung with the machine by more
// than builds differ; a long run also includes the snapshots a steady load brings). The
// markdown table goes to stdout
// and into the bench:compare section of docs/performance.md; the chart to docs/bench-compare.svg.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildRaftis, cpuMs, exitedChildrenCpuMs, gitDescribe, info, loadAverage, log, machineDescription, makeTempDir, raftInfo,
  raftisBench, raftisBenchArgs, redisBenchmark, redisBenchmarkArgs, removeDir, REDIS_DURABLE_ARGS, REPO_ROOT,
  secondsSince, shellLine, startCluster, startRedis, stopCluster, stopProcess, waitSettled, type LoadResult, type RaftisNode,
} from './compare-lib.js';
import { renderMarkdown, renderSvg, writeSection, type Comparison, type Generator, type Workload } from './compare-report.js';

const { values: flags } = parseArgs({
  options: {
    'requests-p1': { type: 'string', default: '50000' },
    'requests-p16': { type: 'string', default: '500000' },
    'skip-follower': { type: 'boolean', default: false },
    'skip-raftis-bench': { type: 'boolean', default: false },
    main: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    /** Passed to every `raftis server`, e.g. --raftis-arg=--read-mode --raftis-arg=lease. */
    'raftis-arg': { type: 'string', multiple: true, default: [] },
  },
});

const PIPELINES = [1, 16] as const;
const WORKLOADS: readonly Workload[] = ['SET', 'GET'];
const CLIENTS = 50;

function requestsFor(pipeline: number): number {
  return Number(pipeline === 1 ? flags['requests-p1'] : flags['requests-p16']);
}

interface Measured {
  readonly result: LoadResult;
  /** CPU milliseconds used during the run by the target process, and by every raftis process. */
  readonly targetCpuMs: number;
  readonly clusterCpuMs: number;
  /** CPU milliseconds of the load generator (redis-benchmark, or raftis bench with its workers). */
  readonly generatorCpuMs: number;
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadAverage();
  const scratch = await makeTempDir('raftis-compare-');
  log(`scratch directory ${scratch}`);
  let mainJs = flags.main === undefined ? undefined : path.resolve(flags.main);
  if (mainJs === undefined) {
    log('building raftis (tsc) into the scratch directory');
    mainJs = await buildRaftis(path.join(scratch, 'build'));
  }
  const commit = await gitDescribe();
  const redis = await startRedis(path.join(scratch, 'redis'));
  log(`redis-server ${redis.version} on port ${redis.port}`);
  const cluster = await startCluster({ main: mainJs, dataDir: path.join(scratch, 'raftis'), serverArgs: flags['raftis-arg'] });
  const leader = await waitSettled(cluster);
  const follower = cluster.nodes.find((node) => node !== leader) as RaftisNode;
  const termBefore = (await raftInfo(leader)).get('raft_current_term');
  log(`raftis leader n${leader.id} on port ${leader.port}, follower n${follower.id} on port ${follower.port}`);
  const clusterPids = cluster.nodes.map((node) => node.child.pid);
  const clusterCpu = (): number => clusterPids.reduce<number>((sum, pid) => sum + cpuMs(pid), 0);

  const measure = async (targetPid: number | undefined, load: () => Promise<LoadResult>): Promise<Measured> => {
    const target0 = cpuMs(targetPid);
    const cluster0 = clusterCpu();
    const generator0 = exitedChildrenCpuMs();
    const result = await load();
    return {
      result, targetCpuMs: cpuMs(targetPid) - target0, clusterCpuMs: clusterCpu() - cluster0, generatorCpuMs: exitedChildrenCpuMs() - generator0,
    };
  };

  // Warm-up: JIT, connections, the first snapshot's worth of keys on both sides.
  log('warm-up');
  for (const port of [redis.port, leader.port]) {
    await redisBenchmark({ port, tests: ['set', 'get'], requests: 20_000, pipeline: 16 });
  }

  const comparisons: Comparison[] = [];
  for (const pipeline of PIPELINES) {
    const requests = requestsFor(pipeline);
    for (const workload of WORKLOADS) {
      const test = workload === 'SET' ? 'set' : 'get';
      const rb = (port: number) => async () => {
        const results = await redisBenchmark({ port, tests: [test], requests, pipeline });
        const result = results.get(test);
        if (!result) throw new Error(`redis-benchmark printed no ${test} result for port ${port}`);
        return result;
      };
      const t0 = performance.now();
      const onRedis = await measure(redis.child.pid, rb(redis.port));
      const onLeader = await measure(leader.child.pid, rb(leader.port));
      const onFollower = flags['skip-follower'] ? undefined : await measure(follower.child.pid, rb(follower.port));
      comparisons.push(comparison(workload, pipeline, 'redis-benchmark', requests, onRedis, onLeader, onFollower,
        shellLine('redis-benchmark', redisBenchmarkArgs({ port: 0, tests: [test], requests, pipeline })).replace('-p 0', '-p <port>')));
      log(`redis-benchmark ${workload} -P ${pipeline}: redis ${Math.round(onRedis.result.opsPerSec)}/s, leader ${Math.round(onLeader.result.opsPerSec)}/s`
        + `${onFollower ? `, follower ${Math.round(onFollower.result.opsPerSec)}/s` : ''} (${secondsSince(t0)} s)`);
    }
  }
  if (!flags['skip-raftis-bench']) {
    for (const pipeline of PIPELINES) {
      const requestsPerClient = Math.max(1, Math.round(requestsFor(pipeline) / CLIENTS));
      for (const workload of WORKLOADS) {
        const kind = workload === 'SET' ? 'set' : 'get';
        const bench = (port: number) => () => raftisBench({ main: mainJs, port, kind, requestsPerClient, pipeline }, scratch);
        const t0 = performance.now();
        const onRedis = await measure(redis.child.pid, bench(redis.port));
        const onLeader = await measure(leader.child.pid, bench(leader.port));
        const line = shellLine('raftis', raftisBenchArgs({ main: 'MAIN', port: 0, kind, requestsPerClient, pipeline }, 'run.json').slice(1))
          .replace('-p 0', '-p <port>');
        comparisons.push(comparison(workload, pipeline, 'raftis bench', requestsPerClient * CLIENTS, onRedis, onLeader, undefined, line));
        log(`raftis bench ${workload} --pipeline ${pipeline}: redis ${Math.round(onRedis.result.opsPerSec)}/s, leader ${Math.round(onLeader.result.opsPerSec)}/s (${secondsSince(t0)} s)`);
      }
    }
  }

  const raft = await raftInfo(leader);
  const termAfter = raft.get('raft_current_term');
  if (termAfter !== termBefore) log(`WARNING: the term changed during the run (${termBefore} → ${termAfter}): an election happened`);
  const aof = await info(redis.port, 'persistence');
  const run = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    commit,
    machine: machineDescription(),
    cores: os.cpus().length,
    redisVersion: redis.version,
    loadBefore,
    loadAfter: loadAverage(),
    durationSeconds: (performance.now() - started) / 1000,
    compareCommand: `npx tsx bench/compare.ts${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    leaderFsyncs: { count: Number(raft.get('raft_fsync_count') ?? 0), averageMicros: Number(raft.get('raft_fsync_avg_microseconds') ?? 0) },
    serverFlags: flags['raftis-arg'],
    redisAof: `\`${REDIS_DURABLE_ARGS.map((arg) => (arg === '' ? "''" : arg)).join(' ')}\` (aof_enabled:${aof.get('aof_enabled') ?? '?'})`,
  };
  const markdown = renderMarkdown(run, comparisons) + (termAfter !== termBefore ? `\n\nAn election happened during this run (term ${termBefore} → ${termAfter}).` : '');
  process.stdout.write(`${markdown}\n`);
  if (!flags['dry-run']) {
    writeSection(path.join(REPO_ROOT, 'docs', 'performance.md'), 'bench:compare', markdown, '## raftis against redis-server (bench/compare.ts)');
    writeFileSync(path.join(REPO_ROOT, 'docs', 'bench-compare.svg'), renderSvg(run, comparisons));
    log('wrote docs/performance.md (section bench:compare) and docs/bench-compare.svg');
  }
  await stopCluster(cluster);
  await stopProcess(redis.child);
  if (!flags.keep) await removeDir(scratch);
  else log(`kept ${scratch}`);
}

function comparison(
  workload: Workload, pipeline: number, generator: Generator, requests: number,
  onRedis: Measured, onLeader: Measured, onFollower: Measured | undefined, commandLine: string,
): Comparison {
  const perOp = (cpu: number): number => (cpu * 1000) / requests;
  return {
    workload,
    pipeline,
    generator,
    redis: onRedis.result,
    leader: onLeader.result,
    follower: onFollower?.result,
    redisCpuUsPerOp: perOp(onRedis.targetCpuMs),
    leaderCpuUsPerOp: perOp(onLeader.targetCpuMs),
    clusterCpuUsPerOp: perOp(onLeader.clusterCpuMs),
    redisGeneratorCpuUsPerOp: perOp(onRedis.generatorCpuMs),
    leaderGeneratorCpuUsPerOp: perOp(onLeader.generatorCpuMs),
    commandLine,
  };
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
});
