// Where a write's tail latency comes from (issue 7's "SET p99 at -P 1 is at most 3 ms"). Not a test.
//
//   npx tsx bench/latency-breakdown.ts [--test set] [--pipeline 1] [--clients 50] [--requests 60000]
//                                      [--main dist/src/cli/main.js] [--server-arg=--flag ...]
//
// Starts a 3-node cluster with admin ports, makes node 1 the leader, warms it up, and scrapes every
// node's /metrics before and after one `redis-benchmark -t <test> -P <pipeline>` against the leader.
// From the difference it prints, per node: the Raft messages it sent, the fsyncs (count, p50, p99, max bucket), the
// event-loop delay (prom-client's monitorEventLoopDelay, reset by each scrape, so it covers the run
// only), garbage-collection pauses by kind, and the CPU used; and the leader's own view of the
// command's latency (raftis_command_duration_seconds) beside the client's. A tail the client sees
// and the leader does not is queueing outside the leader's command path (the socket, the
// benchmark); a p99 fsync near the command's p99 is the disk.
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildRaftis, gitDescribe, loadAverage, log, makeLeader, makeTempDir, redisBenchmark, redisBenchmarkArgs, removeDir,
  shellLine, startCluster, stopCluster,
} from './compare-lib.js';
import { delta, highestBucket, histogramDelta, ms, quantile, scrape } from './metrics-scrape.js';

const { values: flags } = parseArgs({
  options: {
    test: { type: 'string', default: 'set' },
    pipeline: { type: 'string', default: '1' },
    clients: { type: 'string', default: '50' },
    requests: { type: 'string', default: '60000' },
    main: { type: 'string' },
    'server-arg': { type: 'string', multiple: true, default: [] },
  },
});

const scratch = await makeTempDir('raftis-latency-');
try {
  let main = flags.main === undefined ? undefined : path.resolve(flags.main);
  if (main === undefined) {
    log('compiling the working tree');
    main = await buildRaftis(path.join(scratch, 'build'));
  }
  const cluster = await startCluster({ main, dataDir: path.join(scratch, 'cluster'), httpPorts: true, serverArgs: flags['server-arg'] });
  try {
    const leader = cluster.nodes[0]!;
    await makeLeader(cluster, leader);
    const test = flags.test as 'set' | 'get';
    const options = { port: leader.port, tests: [test], requests: Number(flags.requests), pipeline: Number(flags.pipeline), clients: Number(flags.clients) };
    log('warming up');
    await redisBenchmark({ ...options, requests: Math.min(20_000, options.requests) });
    const before = await Promise.all(cluster.nodes.map(scrape));
    log(`running ${shellLine('redis-benchmark', redisBenchmarkArgs(options))}`);
    const result = (await redisBenchmark(options)).get(test);
    const after = await Promise.all(cluster.nodes.map(scrape));

    console.log(`Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at ${await gitDescribe()}; load average ${loadAverage()}.`);
    console.log(`\`${shellLine('redis-benchmark', redisBenchmarkArgs({ ...options, port: 0 })).replace('-p 0 ', '')}\` against the leader:`);
    console.log(`${Math.round(result?.opsPerSec ?? 0).toLocaleString('en-US')} ${test.toUpperCase()}/s, client p50 ${result?.p50Ms} ms, p99 ${result?.p99Ms} ms, max ${result?.maxMs} ms.`);
    const command = histogramDelta(before[0]!, after[0]!, 'raftis_command_duration_seconds', `command="${test}"`);
    console.log(`The leader's raftis_command_duration_seconds for ${test}: p50 ${quantile(command, 0.5)}, p99 ${quantile(command, 0.99)}, p99.9 ${quantile(command, 0.999)}.`);
    console.log('');
    console.log('Event-loop delay is prom-client\'s monitorEventLoopDelay: the time between two ticks of a 10 ms timer, so 10 ms is no delay.');
    console.log('');
    console.log('| node | CPU s | peer messages sent | fsyncs | fsync p50 | fsync p99 | fsync max | event-loop tick p50 | p99 | max | minor GC: count, total, max | major GC: count, total, max |');
    console.log('|---|---:|---:|---:|---|---|---|---:|---:|---:|---|---|');
    for (const [at, node] of cluster.nodes.entries()) {
      const b = before[at]!;
      const a = after[at]!;
      const fsync = histogramDelta(b, a, 'raftis_disk_wal_fsync_duration_seconds');
      const fsyncs = fsync.at(-1)?.[1] ?? 0;
      const fsyncMax = highestBucket(fsync);
      const gc = (kind: string): string => {
        const rows = histogramDelta(b, a, 'nodejs_gc_duration_seconds', `kind="${kind}"`);
        const count = rows.at(-1)?.[1] ?? 0;
        const max = highestBucket(rows);
        return `${count}, ${ms(delta(b, a, `nodejs_gc_duration_seconds_sum{kind="${kind}"}`))}, ${max === undefined ? '—' : `≤ ${ms(max)}`}`;
      };
      let sent = 0;
      for (const key of a.keys()) if (key.startsWith('raftis_peer_messages_sent_total{')) sent += delta(b, a, key);
      console.log(`| ${node.id}${node === leader ? ' (leader)' : ''} | ${delta(b, a, 'process_cpu_seconds_total').toFixed(1)} | ${sent} | ${fsyncs} | ${quantile(fsync, 0.5)} | ${quantile(fsync, 0.99)} | ${fsyncMax === undefined ? '—' : `≤ ${ms(fsyncMax)}`} | ${ms(a.get('nodejs_eventloop_lag_p50_seconds') ?? 0)} | ${ms(a.get('nodejs_eventloop_lag_p99_seconds') ?? 0)} | ${ms(a.get('nodejs_eventloop_lag_max_seconds') ?? 0)} | ${gc('minor')} | ${gc('major')} |`);
    }
  } finally {
    await stopCluster(cluster);
  }
} finally {
  await removeDir(scratch);
}
