import { findLeader, makeTempDir, run, startCluster, stopProcess } from './compare-lib.js';
const dir = await makeTempDir('deopt-');
const cluster = await startCluster({ main: '/work/main/dist/src/cli/main.js', dataDir: dir, nodeFlags: () => ['--trace-opt', '--trace-deopt'] });
const leader = await findLeader(cluster);
await run('redis-benchmark', ['-p', String(leader.port), '-c', '50', '-d', '64', '-r', '100000', '-t', 'set', '-n', process.argv[2] ?? '800000', '-P', '16', '-q']);
for (const node of cluster.nodes) await stopProcess(node.child);
console.log(dir, 'leader', leader.id);
