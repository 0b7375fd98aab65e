// A snapshot of a large dataset on a live 3-node cluster, and the writes that go on meanwhile
// (issue 7: "a 1 GB dataset snapshots in under 10 s, and no write stalls for more than 50 ms
// meanwhile"). bench/snapshot-stall.ts measures the state machine alone; this measures the
// server. Not a test: it prints figures and asserts nothing.
//
//   npx tsx bench/snapshot-live.ts [--keys 1000000] [--value-bytes 1024] [--rate 2000]
//                                  [--main dist/src/cli/main.js] [--role leader|follower]
//                                  [--trace-gc] [--cpu-prof] [--keep]   (node flags on every node;
//                                  keep the data directory, node logs and profiles)
//                                  [--server-arg=--snapshots-retained=5 ...]   (raftis server flags)
//                                  [--client-nice=-10]   (this process's niceness once the nodes run)
//
// 1. Starts 3 nodes with the default snapshot thresholds (every 100,000 entries, or by log size),
//    as a node runs in production: the in-memory log then holds at most about 100 MB of 1 KB
//    entries. (With automatic snapshots off, the 1 GB fill would sit in the in-memory log too,
//    and its external memory alone makes V8 collect back to back.)
// 2. Writes each of --keys keys once through the leader with raftis bench (--value-bytes each).
//    Then takes one snapshot by hand on every node (waiting out any automatic one), so that the
//    one measured comes after a compacted log, and no automatic one starts during the
//    measurement on any node (the paced writes add far fewer than 100,000 entries).
// 3. Sends SETs of --value-bytes to random keys at a constant --rate through the leader, from one
//    connection, with arrival times fixed in advance: a write's latency is the time from its
//    arrival to its reply, so a stall shows up in every write that arrived during it.
// 4. After 3 s of writes alone, sends RAFT.SNAPSHOT to the leader (or, with --role follower, to
//    a follower: its apply path is what stalls then) and waits for its reply (the snapshot is
//    durable by then); the writes go on for 2 s more.
// 5. Prints, for the 3 s before, for the snapshot (until its reply, which comes once the file is
//    durable and the WAL compacted; the old snapshot is deleted in the background, so its deletion
//    falls in the 2 s after) and for the 2 s after: write latency
//    p50 / p99 / max, any reply that was not +OK (counted, not thrown), and the snapshot's duration
//    and size; this process's own event-loop delay; each node's fsync, event-loop delay and GC
//    maxima from /metrics; and the snapshotting node's own timing of the snapshot's parts (its
//    "snapshot taken" log line).
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Socket } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import {
  command, findLeader, log, makeTempDir, removeDir, REPO_ROOT, run, shellLine, startCluster, stopCluster, stopProcess,
} from './compare-lib.js';
import { delta, highestBucket, histogramDelta, ms, scrape } from './metrics-scrape.js';

const { values: flags } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'value-bytes': { type: 'string', default: '1024' },
    rate: { type: 'string', default: '2000' },
    main: { type: 'string', default: `${REPO_ROOT}/dist/src/cli/main.js` },
    role: { type: 'string', default: 'leader' },
    'trace-gc': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'server-arg': { type: 'string', multiple: true, default: [] },
    // The niceness of this process, which paces the writes and times their replies. Its own
    // event-loop delay counts in every latency it measures; at the nodes' niceness (0) it was
    // up to 26 ms during a snapshot, on two cores shared with three busy nodes.
    'client-nice': { type: 'string', default: '0' },
  },
});
const keyCount = Number(flags.keys);
const valueBytes = Number(flags['value-bytes']);
const rate = Number(flags.rate);

/** SETs paced at `rate` per second on one connection; latencies in ms by arrival time. */
class PacedWriter {
  readonly samples: { arrivalMs: number; latencyMs: number }[] = [];
  /** Replies other than +OK (a timeout, or a leader change under a long stall), by text. */
  readonly errors = new Map<string, number>();
  private readonly socket: Socket;
  private readonly arrivals: number[] = [];
  private pendingReplies = 0;
  private stopped = false;
  private readonly value = Buffer.alloc(valueBytes, 'v');
  private carry = '';
  private readonly startMs = performance.now();
  private sent = 0;

  constructor(port: number) {
    this.socket = new Socket();
    this.socket.setNoDelay(true);
    this.socket.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk) => this.onData(chunk));
  }

  run(): void {
    const tick = (): void => {
      if (this.stopped) return;
      const now = performance.now();
      const due = Math.floor(((now - this.startMs) / 1000) * rate);
      const parts: Buffer[] = [];
      while (this.sent < due) {
        const arrival = this.startMs + (this.sent * 1000) / rate;
        this.sent++;
        this.arrivals.push(arrival);
        const key = `key:${Math.floor(Math.random() * keyCount)}`;
        parts.push(Buffer.from(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${valueBytes}\r\n`), this.value, Buffer.from('\r\n'));
        this.pendingReplies++;
      }
      if (parts.length > 0) this.socket.write(Buffer.concat(parts));
      setTimeout(tick, 1);
    };
    tick();
  }

  private onData(chunk: Buffer): void {
    // Replies are +OK or error lines; count lines. An error is reported at the end, not thrown:
    // one run died on one after 2 minutes of filling, its figures lost.
    const text = this.carry + chunk.toString('latin1');
    const lines = text.split('\r\n');
    this.carry = lines.pop() ?? '';
    const now = performance.now();
    for (const line of lines) {
      if (line.length === 0) continue;
      const arrival = this.arrivals.shift()!;
      this.pendingReplies--;
      if (line.startsWith('+OK')) this.samples.push({ arrivalMs: arrival, latencyMs: now - arrival });
      else this.errors.set(line, (this.errors.get(line) ?? 0) + 1);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const deadline = performance.now() + 30_000;
    while (this.pendingReplies > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    this.socket.destroy();
  }
}

function summary(samples: readonly { latencyMs: number }[]): string {
  if (samples.length === 0) return 'no writes';
  const sorted = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  const at = (q: number): string => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
  return `${samples.length} writes, latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`;
}

const dir = await makeTempDir('snapshot-live-');
/** The snapshotting node, once the snapshot was taken: its log says how long each part took. */
let partsOf: number | undefined;
const cluster = await startCluster({
  main: flags.main, dataDir: dir, httpPorts: true, logLevel: 'info', serverArgs: flags['server-arg'], nodeFlags: () => [
    ...(flags['trace-gc'] ? ['--trace-gc'] : []), ...(flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${dir}/prof`] : []),
  ]
});
try {
  const leader = await findLeader(cluster);
  const target = flags.role === 'leader' ? leader : cluster.nodes.find((node) => node.id !== leader.id)!;
  const fill = ['bench', '-s', '127.0.0.1', '-p', String(leader.port), '-t', '1', '-c', '50', '-d', String(valueBytes), '--key-prefix', 'key:',
    '--key-minimum', '0', '--key-maximum', String(keyCount - 1), '--key-pattern', 'P:P', '-n', 'allkeys', '--ratio', '1:0', '--pipeline', '16', '--hide-histogram'];
  const fillStart = performance.now();
  await run(process.execPath, [flags.main, ...fill], { timeoutMs: 60 * 60_000 });
  log(`filled ${keyCount} keys of ${valueBytes} bytes in ${((performance.now() - fillStart) / 1000).toFixed(0)} s: ${shellLine('raftis', fill)}`);
  // The baseline snapshots, on every node (each snapshots on its own, at the same indexes, and
  // under the fill's load one starts as soon as the last ends): retried while an automatic one
  // is being written.
  for (const node of cluster.nodes) {
    for (;;) {
      const baseline = await command(node.port, ['RAFT.SNAPSHOT'], 120_000);
      if (!(baseline instanceof Error)) break;
      if (!String(baseline.message).includes('in progress')) throw baseline;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  // A node's first /metrics costs its event loop about 80 ms (5 ms later on): scrape each once
  // now, or the scrape just before the snapshot shows as a write stall of its own.
  await Promise.all(cluster.nodes.map(scrape));
  // Only now: the nodes, started by this process, would have inherited its niceness.
  const clientNice = Number(flags['client-nice']);
  if (clientNice !== 0) {
    try {
      setPriority(clientNice);
    } catch (error) {
      log(`could not set this process's niceness to ${clientNice}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const writer = new PacedWriter(leader.port);
  writer.run();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  // Every node's /metrics just before and just after: fsync latency, event-loop delay (prom-client
  // resets it at each scrape) and GC pauses, per node, over the snapshot.
  const metricsBefore = await Promise.all(cluster.nodes.map(scrape));
  // This process's own event loop: a stall here (the writer sends late, or reads replies late)
  // shows as write latency too, since latency counts from the scheduled arrival.
  const ownDelay = monitorEventLoopDelay({ resolution: 10 });
  ownDelay.enable();
  const snapshotStart = performance.now();
  const monotonicStart = process.hrtime.bigint() / 1000n;
  const reply = await command(target.port, ['RAFT.SNAPSHOT'], 120_000);
  const snapshotEnd = performance.now();
  ownDelay.disable();
  if (flags['cpu-prof']) log(`snapshot from ${monotonicStart} to ${process.hrtime.bigint() / 1000n} us (CLOCK_MONOTONIC, the .cpuprofile's clock); node ${target.id} is pid ${target.child.pid}`);
  const metricsAfter = await Promise.all(cluster.nodes.map(scrape));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await writer.stop();
  const before = writer.samples.filter((s) => s.arrivalMs < snapshotStart);
  const during = writer.samples.filter((s) => s.arrivalMs >= snapshotStart && s.arrivalMs <= snapshotEnd);
  // After the reply: whatever the snapshot's work left behind (the deletions queue up in the
  // file system's journal as its commits land).
  const after = writer.samples.filter((s) => s.arrivalMs > snapshotEnd);
  console.log(`raftis 3 nodes, ${keyCount} keys of ${valueBytes} bytes, ${rate} SET/s through the leader; RAFT.SNAPSHOT on the ${flags.role} (node ${target.id})`);
  console.log(`RAFT.SNAPSHOT: ${String(reply)} in ${((snapshotEnd - snapshotStart) / 1000).toFixed(2)} s`);
  console.log(`before the snapshot: ${summary(before)}`);
  console.log(`during the snapshot: ${summary(during)}`);
  console.log(`in the 2 s after its reply: ${summary(after)}`);
  console.log(`this process's own event-loop delay during the snapshot: max ${(ownDelay.max / 1e6).toFixed(0)} ms, p99 ${(ownDelay.percentile(99) / 1e6).toFixed(0)} ms`);
  partsOf = target.id;
  // Where in time the slow writes were: the longest latency per 250 ms of arrivals.
  const buckets = new Map<number, number>();
  for (const sample of writer.samples) {
    const bucket = Math.floor((sample.arrivalMs - snapshotStart) / 250);
    buckets.set(bucket, Math.max(buckets.get(bucket) ?? 0, sample.latencyMs));
  }
  console.log(`longest write latency per 250 ms of arrivals, from 1 s before the snapshot (ms): ${[...buckets].filter(([b]) => b >= -4)
    .sort(([a], [b]) => a - b).map(([, ms]) => ms.toFixed(0)).join(' ')}`);
  console.log('each node over the snapshot (from /metrics; "≤" is the bound of the highest histogram bucket reached):');
  console.log('| node | CPU s | fsyncs | fsync avg | fsync max | event loop delay max | scavenge max | mark-compact max |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  cluster.nodes.forEach((node, k) => {
    const [b, a] = [metricsBefore[k]!, metricsAfter[k]!];
    const bound = (rows: [number, number][]): string => {
      const max = highestBucket(rows);
      return max === undefined ? '—' : `≤ ${ms(max)}`;
    };
    const fsyncs = delta(b, a, 'raftis_disk_wal_fsync_duration_seconds_count');
    const fsyncAvg = fsyncs > 0 ? ms(delta(b, a, 'raftis_disk_wal_fsync_duration_seconds_sum') / fsyncs) : '—';
    const gc = (kind: string): string => bound(histogramDelta(b, a, 'nodejs_gc_duration_seconds', `kind="${kind}"`));
    const role = node === leader ? ' (leader)' : '';
    console.log(`| ${node.id}${role}${node === target ? ', snapshotting' : ''} | ${delta(b, a, 'process_cpu_seconds_total').toFixed(1)} | ${fsyncs} | ${fsyncAvg} | ${bound(histogramDelta(b, a, 'raftis_disk_wal_fsync_duration_seconds'))} | ${ms(a.get('nodejs_eventloop_lag_max_seconds') ?? 0)} | ${gc('minor')} | ${gc('major')} |`);
  });
  for (const [line, count] of writer.errors) console.log(`not OK (left out of the latencies above): ${count} × ${line}`);
  if (flags.keep) console.log(`kept ${dir} (node logs: n<id>.log)`);
} finally {
  // SIGINT lets a node exit normally, which is when --cpu-prof writes its profile.
  if (flags['cpu-prof']) await Promise.all(cluster.nodes.map((node) => stopProcess(node.child, 'SIGINT', 30_000)));
  await stopCluster(cluster);
  // The node's own account of the snapshot's parts (RaftNode.takeSnapshot's log line), from the
  // log compare-lib writes when the node exits (its last 64 KiB).
  if (partsOf !== undefined) {
    const takenLine = readFileSync(path.join(dir, `n${partsOf}.log`), 'latin1').split('\n').filter((line) => line.includes('"snapshot taken"')).at(-1);
    const parts = takenLine === undefined ? undefined : JSON.parse(takenLine) as { writeMs?: number; finishMs?: number; compactMs?: number };
    console.log(`node ${partsOf}'s parts of the snapshot: image written ${parts?.writeMs ?? '?'} ms, then finish (fsync, rename; the old snapshot's deletion runs on after it) ${parts?.finishMs ?? '?'} ms, then WAL compaction ${parts?.compactMs ?? '?'} ms`);
  }
  if (!flags.keep) await removeDir(dir);
}
