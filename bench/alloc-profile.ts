// What each raftis node allocates per request under redis-benchmark, and where. Not a test.
//
//   npx tsx bench/alloc-profile.ts [--test set|get] [--pipeline 16] [--seconds 3] [--top 12] [--main dist/src/cli/main.js]
//
// Allocation is what the garbage collector's time follows (each scavenge copies what is still
// alive; the more is allocated, the more scavenges). Starts a 3-node cluster whose nodes preload
// bench/alloc-sample-preload.mjs, runs `redis-benchmark -c 50 -d 64 -r 100000 -t <test> -P
// <pipeline>` against the leader (a warm-up first), and samples every node's allocations for the
// given seconds in the middle of the run with V8's sampling heap profiler, collected objects
// included. Prints, per node, the bytes sampled per request and the allocation sites (function
// and its two callers) with the largest shares.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { findLeader, log, makeTempDir, removeDir, REPO_ROOT, run, sleep, startCluster, stopProcess, waitFor } from './compare-lib.js';

const { values: flags } = parseArgs({
  options: {
    main: { type: 'string', default: `${REPO_ROOT}/dist/src/cli/main.js` },
    test: { type: 'string', default: 'set' },
    pipeline: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '3' },
    top: { type: 'string', default: '12' },
  },
});

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

/** Bytes sampled by allocation site: a function and its two callers. */
function sites(head: ProfileNode): { total: number; bySite: Map<string, number> } {
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (node: ProfileNode, stack: readonly string[]): void => {
    const frame = node.callFrame;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(dist\/)?(src|node:)/, '$2').replace(/^file:\/\//, '')}:${frame.lineNumber + 1}`;
    const here = [name, ...stack].slice(0, 3);
    if (node.selfSize > 0) {
      total += node.selfSize;
      const site = here.join(' < ');
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(head, []);
  return { total, bySite };
}

const dir = await makeTempDir('alloc-profile-');
process.env.RAFTIS_ALLOC_PROFILE_DIR = dir;
const preload = pathToFileURL(path.join(REPO_ROOT, 'bench', 'alloc-sample-preload.mjs')).href;
const cluster = await startCluster({ main: flags.main, dataDir: dir, nodeFlags: () => ['--import', preload] });
try {
  const leader = await findLeader(cluster);
  const args = (requests: number): string[] => ['-p', String(leader.port), '-c', '50', '-d', '64', '-r', '100000', '-t', flags.test,
    '-n', String(requests), '-P', flags.pipeline, '-q'];
  await run('redis-benchmark', args(flags.pipeline === '1' ? 20_000 : 200_000));
  // Enough requests to outlast the sampling on an idle machine.
  const bench = run('redis-benchmark', args(flags.pipeline === '1' ? 100_000 : 1_000_000));
  await sleep(1000);
  const countOf = (text: string): number => Number(/total_commands_processed:(\d+)/.exec(text)?.[1] ?? Number.NaN);
  const startCount = countOf((await run('redis-cli', ['-p', String(leader.port), 'INFO', 'stats'])).stdout);
  for (const node of cluster.nodes) node.child.kill('SIGUSR2');
  await sleep(Number(flags.seconds) * 1000);
  for (const node of cluster.nodes) node.child.kill('SIGUSR2');
  const endCount = countOf((await run('redis-cli', ['-p', String(leader.port), 'INFO', 'stats'])).stdout);
  const result = await bench;
  log(result.stdout.trim().split('\r').at(-1) ?? '');
  const requests = endCount - startCount;
  log(`${requests} requests served by the leader while sampling (${flags.seconds} s)`);
  for (const node of cluster.nodes) {
    // The node writes its profile when the second signal's stopSampling answers; until then the
    // file is missing or partly written, and the read or the parse fails (waitFor retries).
    const file = path.join(dir, `alloc-${node.child.pid}.json`);
    const profile = await waitFor(`node ${node.id}'s allocation profile`, 30_000,
      () => Promise.resolve(JSON.parse(readFileSync(file, 'utf8')) as { head?: ProfileNode; error?: string }));
    if (profile.head === undefined) throw new Error(`node ${node.id} could not sample: ${profile.error ?? 'no profile'}`);
    const { total, bySite } = sites(profile.head);
    log(`node ${node.id}${node.id === leader.id ? ' (leader)' : ''}: ${(total / 1e6).toFixed(1)} MB sampled, ${(total / requests).toFixed(0)} bytes per request`);
    for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(flags.top))) {
      log(`  ${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${site}`);
    }
  }
} finally {
  for (const node of cluster.nodes) await stopProcess(node.child);
  await removeDir(dir);
}
