// Memory for a million 64-byte values, raftis against redis-server, and how long a raftis node
// holding them takes to serve again after a restart (issue 7's further targets). Not a test.
//
//   npx tsx bench/compare-memory.ts [--keys 1000000] [--skip-fill] [--main dist/src/cli/main.js] [--dry-run]
//
// 1. Starts redis-server (appendonly yes, appendfsync always, no RDB) and a 3-node raftis cluster.
// 2. Loads both with `redis-benchmark -r 1000000 -n 1000000 -t set -d 64 -P 16` (the issue's
//    command: random keys, so about 63% of the million names get written), and reads INFO memory
//    and DBSIZE on both.
// 3. Unless --skip-fill, empties both (FLUSHALL), writes each of the million keys once with raftis
//    bench (--key-pattern P:P -n allkeys: each client writes its own slice) and reads them again.
// 4. Stops a follower (SIGTERM), starts it again with the same flags, and times from the spawn to:
//    the client port answering PING; INFO raft showing it applied everything the leader had
//    committed before the stop; and a local (READONLY) GET of the last key written answering.
// The markdown goes to stdout and into the bench:memory section of docs/performance.md.
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildRaftis, command, commands, gitDescribe, info, loadAverage, log, machineDescription, makeTempDir, raftInfo, redisBenchmark,
  redisBenchmarkArgs, removeDir, REDIS_DURABLE_ARGS, REPO_ROOT, restartNode, rssBytes, run, shellLine, sleep, startCluster,
  startRedis, stopCluster, stopProcess, waitFor, waitSettled, type RaftisNode,
} from './compare-lib.js';
import { writeSection } from './compare-report.js';

const { values: flags } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'skip-fill': { type: 'boolean', default: false },
    main: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

interface MemoryRow {
  readonly who: string;
  readonly keys: number;
  readonly usedBytes: number;
  readonly rssBytes: number;
  readonly datasetBytes: number | undefined;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

async function memoryOf(who: string, port: number, pid: number | undefined): Promise<MemoryRow> {
  const memory = await info(port, 'memory');
  const keys = await command(port, ['DBSIZE'], 30_000);
  const dataset = memory.get('used_memory_dataset');
  return {
    who,
    keys: typeof keys === 'number' ? keys : Number.NaN,
    usedBytes: Number(memory.get('used_memory') ?? Number.NaN),
    // From /proc, the same way for both servers.
    rssBytes: rssBytes(pid),
    datasetBytes: dataset === undefined ? undefined : Number(dataset),
  };
}

function memoryTable(rows: readonly MemoryRow[], baseline: ReadonlyMap<string, number>): string[] {
  const redis = rows.find((row) => row.who === 'redis-server');
  const lines = [
    '| server | keys | used_memory | ÷ redis-server | RSS | ÷ redis-server | (used_memory − empty) per key |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const empty = baseline.get(row.who) ?? 0;
    lines.push(`| ${row.who} | ${row.keys.toLocaleString('en-US')} | ${mib(row.usedBytes)} | ${redis ? (row.usedBytes / redis.usedBytes).toFixed(2) : '?'}× `
      + `| ${mib(row.rssBytes)} | ${redis ? (row.rssBytes / redis.rssBytes).toFixed(2) : '?'}× | ${((row.usedBytes - empty) / Math.max(1, row.keys)).toFixed(0)} B |`);
  }
  return lines;
}

async function main(): Promise<void> {
  const keyCount = Number(flags.keys);
  const scratch = await makeTempDir('raftis-memory-');
  let mainJs = flags.main === undefined ? undefined : path.resolve(flags.main);
  if (mainJs === undefined) {
    log('building raftis (tsc) into the scratch directory');
    mainJs = await buildRaftis(path.join(scratch, 'build'));
  }
  const loadBefore = loadAverage();
  const redis = await startRedis(path.join(scratch, 'redis'));
  const cluster = await startCluster({ main: mainJs, dataDir: path.join(scratch, 'raftis') });
  const leader = await waitSettled(cluster);
  const followers = cluster.nodes.filter((node) => node !== leader);
  const follower = followers[0] as RaftisNode;
  const targets = (): { who: string; port: number; pid: number | undefined }[] => [
    { who: 'redis-server', port: redis.port, pid: redis.child.pid },
    { who: `raftis leader (n${leader.id})`, port: leader.port, pid: leader.child.pid },
    ...followers.map((node) => ({ who: `raftis follower (n${node.id})`, port: node.port, pid: node.child.pid })),
  ];
  const baseline = new Map<string, number>();
  for (const target of targets()) baseline.set(target.who, (await memoryOf(target.who, target.port, target.pid)).usedBytes);
  const out: string[] = [];
  out.push(`Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${await gitDescribe()} by`
    + ` \`npx tsx bench/compare-memory.ts${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(' ')}` : ''}\`;`
    + ` ${machineDescription()}; load average ${loadBefore} at the start. redis-server ${redis.version} with`
    + ` \`${REDIS_DURABLE_ARGS.map((arg) => (arg === '' ? "''" : arg)).join(' ')}\`; raftis 3 nodes, fsync on, default snapshot threshold.`);
  out.push('');
  out.push('raftis\'s `used_memory` is the V8 heap in use plus memory outside it (Buffers), as INFO memory reports it (src/server/info.ts);');
  out.push('it counts garbage not yet collected, so RSS (from /proc for both servers) is given too. "− empty" subtracts each');
  out.push('server\'s used_memory before loading.');
  out.push('');

  // Step 2: the issue's load command.
  const loadArgs = { tests: ['set'] as const, requests: keyCount, pipeline: 16, keyspace: keyCount };
  const loadLine = shellLine('redis-benchmark', redisBenchmarkArgs({ port: 0, ...loadArgs, tests: ['set'] })).replace('-p 0', '-p <port>');
  const loads: string[] = [];
  for (const target of [targets()[0], targets()[1]]) {
    if (!target) continue;
    const t0 = performance.now();
    const result = (await redisBenchmark({ port: target.port, ...loadArgs, tests: ['set'] })).get('set');
    loads.push(`${target.who}: ${Math.round(result?.opsPerSec ?? 0).toLocaleString('en-US')} SET/s, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    log(`loaded ${loads.at(-1)}`);
  }
  await sleep(3000);
  const rowsRandom: MemoryRow[] = [];
  for (const target of targets()) rowsRandom.push(await memoryOf(target.who, target.port, target.pid));
  out.push(`After \`${loadLine}\` on redis-server and on the raftis leader (${loads.join('; ')}):`);
  out.push('');
  out.push(...memoryTable(rowsRandom, baseline));
  out.push('');

  // Step 3: every key of the range.
  // raftis bench names keys prefix + decimal index, so the fill's last key is known.
  let keyToRead: string | undefined;
  if (!flags['skip-fill']) {
    const perClient = ['-t', '1', '-c', '50', '-d', '64', '--key-prefix', 'key:', '--key-minimum', '0', '--key-maximum', String(keyCount - 1),
      '--key-pattern', 'P:P', '-n', 'allkeys', '--ratio', '1:0', '--pipeline', '16', '--hide-histogram'];
    const fills: string[] = [];
    for (const target of [targets()[0], targets()[1]]) {
      if (!target) continue;
      // raftis bench names keys key:<index> where redis-benchmark writes key:<12 digits>: start
      // empty, so that exactly the million keys of the range are there afterwards.
      const flushed = await command(target.port, ['FLUSHALL'], 60_000);
      if (flushed !== 'OK') throw new Error(`FLUSHALL on ${target.who}: ${String(flushed)}`);
      const t0 = performance.now();
      await run(process.execPath, [mainJs, 'bench', '-s', '127.0.0.1', '-p', String(target.port), ...perClient], { timeoutMs: 60 * 60_000 });
      fills.push(`${target.who}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      log(`filled ${fills.at(-1)}`);
    }
    await sleep(3000);
    const rowsAll: MemoryRow[] = [];
    for (const target of targets()) rowsAll.push(await memoryOf(target.who, target.port, target.pid));
    out.push(`After \`FLUSHALL\` and then writing each of the ${keyCount.toLocaleString('en-US')} keys once`
      + ` (\`${shellLine('raftis', ['bench', '-p', '<port>', ...perClient])}\`; ${fills.join('; ')}):`);
    out.push('');
    out.push(...memoryTable(rowsAll, baseline));
    out.push('');
    keyToRead = `key:${keyCount - 1}`;
  }

  // Step 4: restart a follower.
  const before = await raftInfo(leader);
  const commitBefore = Number(before.get('raft_commit_index'));
  const onDisk = await raftInfo(follower);
  await stopProcess(follower.child, 'SIGTERM', 30_000);
  restartNode(cluster, follower);
  const start = follower.startedAtMs;
  const ping = await waitFor('the restarted node to answer PING', 120_000, async () => ((await command(follower.port, ['PING'], 1000)) === 'PONG' ? performance.now() : undefined));
  const applied = await waitFor('the restarted node to apply what was committed', 120_000, async () => {
    const raft = await raftInfo(follower);
    return Number(raft.get('raft_last_applied_index')) >= commitBefore && raft.get('raft_leader_id') !== '-1' ? performance.now() : undefined;
  });
  let read: number | undefined;
  if (keyToRead !== undefined) {
    read = await waitFor('a local read on the restarted node', 120_000, async () => {
      const [, value] = await commands(follower.port, [['READONLY'], ['GET', keyToRead]], 2000);
      return typeof value === 'string' ? performance.now() : undefined;
    });
  }
  const keysAfter = await command(leader.port, ['DBSIZE'], 30_000);
  out.push(`Restart of follower n${follower.id} holding ${typeof keysAfter === 'number' ? keysAfter.toLocaleString('en-US') : '?'} keys`
    + ` (on disk before the stop: snapshot ${mib(Number(onDisk.get('raft_snapshot_size') ?? 0))} at index ${onDisk.get('raft_snapshot_last_idx') ?? '?'},`
    + ` WAL ${mib(Number(onDisk.get('raft_file_size') ?? 0))} holding ${onDisk.get('raft_log_entries') ?? '?'} entries): stopped with SIGTERM, started again`
    + ' with the same `raftis server` flags; times from the spawn (polling every 50 ms):');
  out.push('');
  out.push('| milestone | seconds after spawn |');
  out.push('|---|---:|');
  out.push(`| client port answers PING | ${((ping - start) / 1000).toFixed(2)} |`);
  out.push(`| INFO raft: applied ≥ the leader's commit index before the stop (${commitBefore}), leader known | ${((applied - start) / 1000).toFixed(2)} |`);
  if (read !== undefined) out.push(`| \`READONLY\` + \`GET ${keyToRead}\` answered from its own state | ${((read - start) / 1000).toFixed(2)} |`);
  const markdown = out.join('\n');
  process.stdout.write(`${markdown}\n`);
  if (!flags['dry-run']) {
    writeSection(path.join(REPO_ROOT, 'docs', 'performance.md'), 'bench:memory', markdown, '## Memory and restart (bench/compare-memory.ts)');
    log('wrote docs/performance.md (section bench:memory)');
  }
  await stopCluster(cluster);
  await stopProcess(redis.child);
  if (flags.keep) log(`kept ${scratch}`);
  else await removeDir(scratch);
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
});
