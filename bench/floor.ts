// How close raftis is to the floor of its own design, and where that floor is against
// redis-server. Not a test.
//
//   npx tsx bench/floor.ts [--main <build>/dist/src/cli/main.js] [--rounds 4] [--tests set,get]
//                          [--pipelines 1,16] [--requests-p1 20000] [--requests-p16 100000] [--floor-sync-io]
//
// Three servers run for the whole session: redis-server (appendfsync always), the floor (three
// bench/floor-server.ts processes: a leader that fsyncs each batch and waits for one follower's
// fsync before answering a SET, and a round trip to a follower before answering a GET, with
// nothing else: no parsing, no state machine, no Raft) and a 3-node raftis cluster (fsync on,
// ReadIndex reads). Each round runs every workload of the redis-benchmark against the
// three in turn. Prints medians over the rounds as ratios to redis-server, and the CPU time per
// request of each server (the three processes together for the floor and raftis).
// --floor-sync-io makes the floor write and fdatasync with blocking calls on its event loop's
// thread instead of in libuv's thread pool (FLOOR_SYNC_IO in bench/floor-server.ts).
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildRaftis, command, freePorts, loadAverage, log, machineDescription, makeTempDir, median, redisBenchmarkArgs, REPO_ROOT, removeDir,
  runInterleaved, startCluster, startProcess, startRedis, stopCluster, stopProcess, waitFor, waitSettled, type BenchSample, type BenchTarget,
} from './compare-lib.js';

const { values: flags } = parseArgs({
  options: {
    main: { type: 'string' },
    rounds: { type: 'string', default: '4' },
    tests: { type: 'string', default: 'set,get' },
    pipelines: { type: 'string', default: '1,16' },
    'requests-p1': { type: 'string', default: '20000' },
    'requests-p16': { type: 'string', default: '100000' },
    'floor-sync-io': { type: 'boolean', default: false },
  },
});

async function startFloor(dir: string): Promise<{ port: number; stop: () => Promise<void>; pids: (number | undefined)[] }> {
  const [clientPort, followerA, followerB] = (await freePorts(3)) as [number, number, number];
  const script = path.join(REPO_ROOT, 'bench', 'floor-server.ts');
  const spawnRole = (name: string, args: readonly string[]): ReturnType<typeof startProcess> =>
    startProcess(process.execPath, ['--import', 'tsx', script, ...args], path.join(dir, `${name}.log`));
  const followers = [spawnRole('follower-a', ['follower', String(followerA), dir]), spawnRole('follower-b', ['follower', String(followerB), dir])];
  for (const port of [followerA, followerB]) {
    await waitFor(`the floor's follower on ${port} to listen`, 30_000, () => portOpen(port));
  }
  const leader = spawnRole('leader', ['leader', String(clientPort), String(followerA), String(followerB), dir]);
  await waitFor("the floor's leader to answer", 30_000, async () => ((await command(clientPort, ['SET', 'k', 'v'], 500).catch(() => undefined)) === 'OK' ? true : undefined));
  const processes = [leader, ...followers];
  return {
    port: clientPort,
    pids: processes.map((child) => child.pid),
    stop: async () => {
      await Promise.all(processes.map((child) => stopProcess(child, 'SIGKILL')));
    },
  };
}

/** True once something listens on `port`. */
async function portOpen(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

async function main(): Promise<void> {
  const scratch = await makeTempDir('raftis-floor-');
  const main = flags.main !== undefined ? path.resolve(flags.main) : await buildRaftis(path.join(scratch, 'build'));
  const redis = await startRedis(path.join(scratch, 'redis'));
  // The floor's processes inherit the environment.
  if (flags['floor-sync-io']) process.env['FLOOR_SYNC_IO'] = '1';
  const floor = await startFloor(path.join(scratch, 'floor'));
  const cluster = await startCluster({ main, dataDir: path.join(scratch, 'raftis') });
  const leader = await waitSettled(cluster);
  const targets: BenchTarget[] = [
    { name: 'redis-server', port: redis.port, pids: [redis.child.pid] },
    { name: 'floor', port: floor.port, pids: floor.pids },
    { name: 'raftis', port: leader.port, pids: cluster.nodes.map((node) => node.child.pid) },
  ];
  const tests = (flags.tests ?? 'set,get').split(',') as ('set' | 'get')[];
  const pipelines = (flags.pipelines ?? '1,16').split(',').map(Number);
  const loadBefore = loadAverage();
  const samplesOf = await runInterleaved({
    targets, tests, pipelines, rounds: Number(flags.rounds), warmupRequests: 20_000,
    requests: (pipeline) => Number(pipeline === 1 ? flags['requests-p1'] : flags['requests-p16']),
  });
  const lines = [
    `${machineDescription()}; load average ${loadBefore} before, ${loadAverage()} after. ${flags.rounds} rounds, medians.`,
    `redis-server ${redis.version} with appendfsync always; the floor's I/O ${flags['floor-sync-io'] ? 'blocking (--floor-sync-io)' : 'in the thread pool'}; `
      + `raftis ${main}, 3 nodes, fsync on, ReadIndex reads.`,
    '',
    '| workload | redis-server ops/s | floor ops/s | raftis ops/s | floor ÷ redis | raftis ÷ redis | raftis ÷ floor | p50 ms redis / floor / raftis | CPU µs/op redis / floor / raftis |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const pipeline of pipelines) {
    for (const test of tests) {
      const get = (name: string): BenchSample[] => samplesOf(test, pipeline, name);
      const ops = (name: string): number => median(get(name).map((s) => s.result.opsPerSec));
      const p50 = (name: string): string => median(get(name).map((s) => s.result.p50Ms)).toFixed(2);
      const cpu = (name: string): string => median(get(name).map((s) => s.cpuUsPerOp)).toFixed(1);
      const [r, f, x] = [ops('redis-server'), ops('floor'), ops('raftis')];
      lines.push(`| ${test.toUpperCase()} \`-P ${pipeline}\` | ${Math.round(r).toLocaleString('en-US')} | ${Math.round(f).toLocaleString('en-US')} `
        + `| ${Math.round(x).toLocaleString('en-US')} | ${(f / r).toFixed(2)}× | ${(x / r).toFixed(2)}× | ${(x / f).toFixed(2)}× `
        + `| ${p50('redis-server')} / ${p50('floor')} / ${p50('raftis')} | ${cpu('redis-server')} / ${cpu('floor')} / ${cpu('raftis')} |`);
    }
  }
  lines.push('', 'Each workload, against each server\'s port:', '');
  for (const pipeline of pipelines) {
    for (const test of tests) {
      const requests = Number(pipeline === 1 ? flags['requests-p1'] : flags['requests-p16']);
      lines.push(`    redis-benchmark ${redisBenchmarkArgs({ port: 0, tests: [test], requests, pipeline }).join(' ').replace('-p 0', '-p <port>')}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  await stopCluster(cluster);
  await floor.stop();
  await stopProcess(redis.child);
  await removeDir(scratch);
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
});
