// Where the raftis leader (or a follower) spends its time under redis-benchmark -P 16 (issue 7:
// "profile with node --cpu-prof"). Not a test.
//
//   npx tsx bench/compare-profile.ts [--test set|get] [--role leader|follower] [--requests 200000] [--pipeline 16]
//                                    [--main dist/src/cli/main.js] [--dry-run] [--keep]
//   npx tsx bench/compare-profile.ts --profile-file CPU.xxx.cpuprofile   (summarise a saved one)
//
// Starts a 3-node cluster whose node 1 runs under `node --cpu-prof --cpu-prof-dir=<dir>`, makes
// node 1 the leader (CLUSTER FAILOVER TO 1; with --role follower, node 2, and the load goes to
// node 2 while node 1 replicates), warms it up, then runs
// `redis-benchmark -c 50 -d 64 -r 100000 -t <test> -n <requests> -P <pipeline>` against it and stops
// it (SIGINT: the profile is written at exit). The .cpuprofile's sample times are CLOCK_MONOTONIC
// microseconds, the same clock as process.hrtime, so the summary covers exactly the benchmark's
// window (not start-up, election or shutdown). It prints, and writes into docs/performance.md
// (section bench:profile-<test>): self time by function, by source area, the callers of the
// native write calls, and inclusive time of the driver's main functions.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  buildRaftis, cpuMs, gitDescribe, loadAverage, log, machineDescription, makeLeader, makeTempDir, raftInfo, redisBenchmark,
  redisBenchmarkArgs, removeDir, REPO_ROOT, shellLine, startCluster, stopCluster, stopProcess, type RaftisNode,
} from './compare-lib.js';
import { writeSection } from './compare-report.js';

const { values: flags } = parseArgs({
  options: {
    test: { type: 'string', default: 'set' },
    /** Which node to profile: the leader (the load goes to it), or a follower of it. */
    role: { type: 'string', default: 'leader' },
    requests: { type: 'string', default: '200000' },
    pipeline: { type: 'string', default: '16' },
    main: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    /** Summarise an existing .cpuprofile (all of it) instead of running anything. */
    'profile-file': { type: 'string' },
  },
});

// -------------------------------------------------------------------------------------------
// The .cpuprofile format (Chrome DevTools Profiler.Profile)

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based, in the compiled file. */
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly windowMs: number;
  readonly sampleCount: number;
  /** Self time per function key ("name (file:line)"), in ms, biggest first. */
  readonly self: readonly (readonly [string, number])[];
  readonly byArea: readonly (readonly [string, number])[];
  /** Inclusive time (the function anywhere on the stack) for every function, biggest first. */
  readonly inclusive: readonly (readonly [string, number])[];
  /** For native write calls: self time split by the JS caller chain that issued them. */
  readonly writeCallers: readonly (readonly [string, number])[];
}

const sourceMaps = new Map<string, SourceMap | undefined>();

/** The TypeScript line of a compiled frame, through the build's .js.map (tsc writes them). */
function sourceLine(frame: CallFrame): number | undefined {
  if (!frame.url.startsWith('file://')) return undefined;
  let map = sourceMaps.get(frame.url);
  if (!sourceMaps.has(frame.url)) {
    const file = `${fileURLToPath(frame.url)}.map`;
    map = existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]) : undefined;
    sourceMaps.set(frame.url, map);
  }
  const entry = map?.findEntry(frame.lineNumber, frame.columnNumber) as { originalLine?: number } | undefined;
  return entry?.originalLine === undefined ? undefined : entry.originalLine + 1;
}

/** A short place for a script URL: src/...ts:line for raftis, the package, or the node: module. */
function place(frame: CallFrame): string {
  const url = frame.url;
  if (url === '') return '';
  const src = url.lastIndexOf('/src/');
  if (src >= 0 && !url.includes('/node_modules/')) {
    const line = sourceLine(frame);
    return line === undefined ? `${url.slice(src + 1)}:${frame.lineNumber + 1}` : `${url.slice(src + 1).replace(/\.js$/, '.ts')}:${line}`;
  }
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length).split('/').slice(0, 1).join('/');
  return url.replace(/^node:/, 'node:');
}

function functionKey(frame: CallFrame): string {
  const where = place(frame);
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  return where === '' ? name : `${name} (${where})`;
}

/** Which part of raftis (or of the runtime) a frame belongs to. */
function area(frame: CallFrame): string {
  const name = frame.functionName;
  if (name === '(idle)') return 'idle (waiting in epoll)';
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)') return '(program): V8/native outside JS';
  const url = frame.url;
  const src = /\/src\/([a-z-]+)\//.exec(url);
  if (src && !url.includes('/node_modules/')) return `src/${src[1]}`;
  if (url.includes('/node_modules/')) return 'node_modules';
  if (url.startsWith('node:')) return 'Node.js internals (JS)';
  return 'native (syscalls, bindings)';
}

/** Summarises the samples taken between `fromMicros` and `toMicros` (CLOCK_MONOTONIC). */
export function summarizeProfile(profile: CpuProfile, fromMicros: number, toMicros: number): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const writeCallers = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, micros: number): void => {
    map.set(key, (map.get(key) ?? 0) + micros);
  };
  let time = profile.startTime;
  let windowMicros = 0;
  let sampleCount = 0;
  for (let k = 0; k < profile.samples.length; k++) {
    // A sample's delta is the time since the previous one: charge it to this sample.
    const delta = profile.timeDeltas[k] ?? 0;
    time += delta;
    if (time < fromMicros || time > toMicros) continue;
    const node = byId.get(profile.samples[k] as number);
    if (!node) continue;
    windowMicros += delta;
    sampleCount++;
    add(self, functionKey(node.callFrame), delta);
    add(areas, area(node.callFrame), delta);
    const onStack = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = (byId.get(id) as ProfileNode).callFrame;
      if (frame.functionName === '(root)') continue;
      onStack.add(functionKey(frame));
    }
    for (const key of onStack) add(inclusive, key, delta);
    if (/^(writeBuffer|writev|writeBuffers|writeUtf8String|writeLatin1String|fdatasync|fsync)$/.test(node.callFrame.functionName)) {
      // Name the first caller under src/ (or node_modules), which says whose write it is.
      let owner = 'unknown';
      for (let id = parent.get(node.id); id !== undefined; id = parent.get(id)) {
        const frame = (byId.get(id) as ProfileNode).callFrame;
        if (/\/(src|node_modules)\//.test(frame.url)) {
          owner = functionKey(frame);
          break;
        }
      }
      add(writeCallers, `${node.callFrame.functionName} ← ${owner}`, delta);
    }
  }
  const sorted = (map: Map<string, number>): [string, number][] => [...map].map(([key, micros]): [string, number] => [key, micros / 1000]).sort((a, b) => b[1] - a[1]);
  return {
    windowMs: windowMicros / 1000,
    sampleCount,
    self: sorted(self),
    byArea: sorted(areas),
    inclusive: sorted(inclusive),
    writeCallers: sorted(writeCallers),
  };
}

/** The driver's and the request path's main functions, whose inclusive time is worth a line. */
const INCLUSIVE_OF_INTEREST = /^(takeSnapshot|nextChunk|cycle|persist|applyEntries|serveReads|sendAll|propose|write|read|route|withRaft|onData|processInput|execute|dispatch|settle|flush|flushTo|step|ready|advance|save|append|encodeWriteEntry|apply|send|onMessage|receive|decode\w*|encode\w*) \((src\/)/;

export function renderProfile(summary: ProfileSummary, header: string): string {
  const pct = (ms: number): string => `${((ms / summary.windowMs) * 100).toFixed(1)}%`;
  const lines = [header, ''];
  lines.push(`Window: ${(summary.windowMs / 1000).toFixed(1)} s of samples (${summary.sampleCount.toLocaleString('en-US')} samples).`, '');
  lines.push('By area (self time):', '', '| area | ms | share |', '|---|---:|---:|');
  for (const [name, ms] of summary.byArea) lines.push(`| ${name} | ${ms.toFixed(0)} | ${pct(ms)} |`);
  lines.push('', 'Top self time by function:', '', '| function | self ms | share |', '|---|---:|---:|');
  for (const [name, ms] of summary.self.slice(0, 30)) lines.push(`| \`${name}\` | ${ms.toFixed(0)} | ${pct(ms)} |`);
  lines.push('', 'Native writes and fsyncs, by the code that issued them:', '', '| call ← issuer | self ms | share |', '|---|---:|---:|');
  for (const [name, ms] of summary.writeCallers.slice(0, 12)) lines.push(`| \`${name}\` | ${ms.toFixed(0)} | ${pct(ms)} |`);
  lines.push('', 'Inclusive time of the request path and driver functions (on the stack):', '', '| function | inclusive ms | share |', '|---|---:|---:|');
  for (const [name, ms] of summary.inclusive.filter(([name]) => INCLUSIVE_OF_INTEREST.test(name)).slice(0, 25)) {
    lines.push(`| \`${name}\` | ${ms.toFixed(0)} | ${pct(ms)} |`);
  }
  return lines.join('\n');
}

// -------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (flags['profile-file'] !== undefined) {
    const profile = JSON.parse(readFileSync(flags['profile-file'], 'utf8')) as CpuProfile;
    process.stdout.write(`${renderProfile(summarizeProfile(profile, 0, Number.POSITIVE_INFINITY), `Profile ${flags['profile-file']}, all samples.`)}\n`);
    return;
  }
  const test = flags.test === 'get' ? 'get' : 'set';
  const requests = Number(flags.requests);
  const pipeline = Number(flags.pipeline);
  const scratch = await makeTempDir('raftis-profile-');
  const profileDir = path.join(scratch, 'cpuprofile');
  let mainJs = flags.main === undefined ? undefined : path.resolve(flags.main);
  if (mainJs === undefined) {
    log('building raftis (tsc) into the scratch directory');
    mainJs = await buildRaftis(path.join(scratch, 'build'));
  }
  const cluster = await startCluster({
    main: mainJs,
    dataDir: path.join(scratch, 'raftis'),
    nodeFlags: (id) => (id === 1 ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
  });
  const profiled = cluster.nodes[0] as RaftisNode;
  const asFollower = flags.role === 'follower';
  const loaded = asFollower ? cluster.nodes[1] as RaftisNode : profiled;
  await makeLeader(cluster, loaded);
  log(`node 1 (port ${profiled.port}, pid ${profiled.child.pid}) is profiled as ${asFollower ? 'a follower of node 2' : 'the leader'}`);
  await redisBenchmark({ port: loaded.port, tests: ['set', 'get'], requests: 20_000, pipeline });
  const loadBefore = loadAverage();
  const term = (await raftInfo(profiled)).get('raft_current_term');
  const fsyncsBefore = Number((await raftInfo(profiled)).get('raft_fsync_count') ?? 0);
  const cpuBefore = cpuMs(profiled.child.pid);
  const fromMicros = Number(process.hrtime.bigint() / 1000n);
  const results = await redisBenchmark({ port: loaded.port, tests: [test], requests, pipeline });
  const toMicros = Number(process.hrtime.bigint() / 1000n);
  const cpuUsed = cpuMs(profiled.child.pid) - cpuBefore;
  const raft = await raftInfo(profiled);
  const fsyncs = Number(raft.get('raft_fsync_count') ?? 0) - fsyncsBefore;
  if (raft.get('raft_current_term') !== term) log('WARNING: an election happened during the profiled run');
  const result = results.get(test);
  await stopProcess(profiled.child, 'SIGINT', 30_000);
  await stopCluster(cluster);
  const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no .cpuprofile in ${profileDir}`);
  const profile = JSON.parse(readFileSync(path.join(profileDir, file), 'utf8')) as CpuProfile;
  const summary = summarizeProfile(profile, fromMicros, toMicros);
  const windowSeconds = (toMicros - fromMicros) / 1e6;
  const commandLine = shellLine('redis-benchmark', redisBenchmarkArgs({ port: 0, tests: [test], requests, pipeline })).replace('-p 0', '-p <leader port>');
  const header = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${await gitDescribe()} by`,
    `\`npx tsx bench/compare-profile.ts${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(' ')}` : ''}\`: the ${asFollower ? 'follower' : 'leader'} ran under`,
    '`node --cpu-prof`, the load was',
    '',
    `    ${commandLine}`,
    '',
    `${machineDescription()}; load average ${loadBefore} at the start.`,
    `Result: ${Math.round(result?.opsPerSec ?? 0).toLocaleString('en-US')} ${test.toUpperCase()}/s, p50 ${result?.p50Ms ?? '?'} ms, p99 ${result?.p99Ms ?? '?'} ms`,
    `(under the profiler). The ${asFollower ? 'follower' : 'leader'} used ${(cpuUsed / 1000).toFixed(1)} s of CPU in ${windowSeconds.toFixed(1)} s`,
    `(${((cpuUsed / 1000 / windowSeconds) * 100).toFixed(0)}% of one core; ${((cpuUsed * 1000) / requests).toFixed(1)} µs per request)`,
    `and did ${fsyncs.toLocaleString('en-US')} fsyncs (${(requests / Math.max(1, fsyncs)).toFixed(0)} requests per fsync).`,
  ].join('\n');
  const markdown = renderProfile(summary, header);
  process.stdout.write(`${markdown}\n`);
  if (!flags['dry-run']) {
    const section = `bench:profile-${asFollower ? 'follower-' : ''}${test}`;
    writeSection(path.join(REPO_ROOT, 'docs', 'performance.md'), section, markdown,
      `## Profile of a ${asFollower ? 'follower' : 'leader'} under \`redis-benchmark -P ${pipeline} -t ${test}\` (bench/compare-profile.ts)`);
    log(`wrote docs/performance.md (section ${section})`);
  }
  if (flags.keep) log(`kept ${scratch} (profile: ${path.join(profileDir, file)})`);
  else await removeDir(scratch);
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
});
