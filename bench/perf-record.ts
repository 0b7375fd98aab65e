// Records one raftis node with Linux `perf` while redis-benchmark loads the cluster. Not a test.
//
//   npx tsx bench/perf-record.ts [--main dist/src/cli/main.js] [--test set|get] [--pipeline 1|16]
//                                [--role leader|follower] [--seconds 4] [--warmup 20000] [--out /tmp/perf.data]
//   perf report -i <out> --no-children --sort dso -g none      (kernel / V8 / JIT'd JS split)
//   perf report -i <out> --children --sort sym -g none         (inclusive time by function)
//
// Unlike `node --cpu-prof` (bench/compare-profile.ts), which samples the main thread's JS stack in
// wall-clock time, perf samples CPU time of every thread of the process, kernel included: a
// thread preempted inside a syscall is not counted, and the GC's helper threads and the thread
// pool are. Every node runs with --perf-basic-prof so that JIT'd functions have names. The load
// is `redis-benchmark -c 50 -d 64 -r 100000` against the leader (a warm-up of 20,000 requests
// first), and perf records the chosen node for the given seconds in the middle of the run.
// Needs perf and permission to attach (root, or kernel.perf_event_paranoid <= 1).
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { findLeader, log, makeTempDir, removeDir, REPO_ROOT, run, startCluster, stopProcess } from './compare-lib.js';

const { values: flags } = parseArgs({
  options: {
    main: { type: 'string', default: `${REPO_ROOT}/dist/src/cli/main.js` },
    test: { type: 'string', default: 'set' },
    pipeline: { type: 'string', default: '1' },
    role: { type: 'string', default: 'leader' },
    seconds: { type: 'string', default: '4' },
    // Requests before the recorded run; V8's optimizing compiler still takes ~10% of a node's CPU
    // a few seconds into a run, so a steady-state profile wants a few hundred thousand.
    warmup: { type: 'string', default: '20000' },
    out: { type: 'string' },
  },
});
const out = flags.out ?? `/tmp/perf-${flags.role}-${flags.test}-P${flags.pipeline}.data`;
const dir = await makeTempDir('perf-record-');
const cluster = await startCluster({ main: flags.main, dataDir: dir, nodeFlags: () => ['--perf-basic-prof'] });
try {
  const leader = await findLeader(cluster);
  const target = flags.role === 'leader' ? leader : cluster.nodes.find((node) => node.id !== leader.id)!;
  const load = (requests: number): Promise<{ stdout: string }> => run('redis-benchmark', ['-p', String(leader.port), '-c', '50', '-d', '64',
    '-r', '100000', '-t', flags.test, '-n', String(requests), '-P', flags.pipeline, '-q']);
  await load(Number(flags.warmup));
  // Enough requests to outlast the recording on an idle machine (about 4x what a quiet run needs).
  const bench = load(flags.pipeline === '1' ? 80_000 : 400_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const perf = spawn('perf', ['record', '-F', '2000', '-g', '-p', String(target.child.pid), '-o', out, '--', 'sleep', flags.seconds], { stdio: 'inherit' });
  await new Promise((resolve) => perf.on('exit', resolve));
  const result = await bench;
  log(`${result.stdout.trim().split('\r').at(-1) ?? ''}`);
  log(`recorded node ${target.id} (${flags.role}) into ${out}`);
} finally {
  for (const node of cluster.nodes) await stopProcess(node.child);
  await removeDir(dir);
}
