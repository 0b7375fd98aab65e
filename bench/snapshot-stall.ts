// How much a snapshot of a large keyspace stalls the event loop and the writes applied meanwhile
// (issue 3: "taking a snapshot never blocks the event loop for more than 50 ms, even with millions
// of keys"; "a 1 GB dataset snapshots in under 10 s, and no write stalls for more than 50 ms
// meanwhile"). Not a test: it prints figures and asserts nothing.
//
//   npx tsx bench/snapshot-stall.ts [--keys 1000000] [--value-bytes 64] [--rate 10000]
//                                   [--idle-seconds 3] [--snapshots 2] [--dir /tmp/...] [--json]
//                                   [--src path/to/src]   (another source tree, for a before/after)
//
// 1. Builds a StateMachine with --keys keys (`key:%012d`, --value-bytes each) by applying SET
//    entries, as a replica does.
// 2. Applies SETs to random existing keys at a constant --rate (arrival times fixed in advance, so
//    a write's latency is the time from its arrival to its apply: a stalled loop shows up in every
//    write that arrived meanwhile, not only in the one that waited).
// 3. After --idle-seconds of writes alone, takes a snapshot the way RaftNode.takeSnapshot does
//    (src/server/node.ts): machine.beginSnapshot(), storage.createSnapshot(), then nextChunk(1 MiB)
//    → await writer.write(chunk) → await setImmediate, until null, and writer.finish() (fsync on),
//    into a DiskStorage in a temporary directory. Repeated --snapshots times, writes going on.
// 4. Reports per phase (idle, each snapshot): event-loop delay from
//    perf_hooks.monitorEventLoopDelay (resolution 10 ms: max and p99), write latency (p50, p99,
//    max = longest write stall), the snapshot's duration and size, and GC pauses from a 'gc'
//    PerformanceObserver (count and longest, per kind).
//
// Node flags of the process matter (heap sizes): run it with the flags the server runs with.
import { mkdtemp, rm } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, performance, type IntervalHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import type * as StorageModule from '../src/storage/index.js';
import type * as StateModule from '../src/state/index.js';

const { values: flags } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'value-bytes': { type: 'string', default: '64' },
    rate: { type: 'string', default: '10000' },
    'idle-seconds': { type: 'string', default: '3' },
    snapshots: { type: 'string', default: '2' },
    'chunk-bytes': { type: 'string', default: String(1 << 20) },
    dir: { type: 'string' },
    src: { type: 'string', default: path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'src') },
    json: { type: 'boolean', default: false },
  },
});

const KEYS = Number(flags.keys);
const VALUE_BYTES = Number(flags['value-bytes']);
const RATE = Number(flags.rate);
const IDLE_MS = Number(flags['idle-seconds']) * 1000;
const SNAPSHOTS = Number(flags.snapshots);
const CHUNK_BYTES = Number(flags['chunk-bytes']);

function log(message: string): void {
  process.stderr.write(`[stall ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function keyName(i: number): Buffer {
  return Buffer.from(`key:${String(i).padStart(12, '0')}`, 'latin1');
}

const SET = Buffer.from('SET');

function valueFor(i: number, round: number): Buffer {
  // allocUnsafe: from Node's pool, as a server's request buffers are; Buffer.alloc would give
  // each write an ArrayBuffer of its own for the scavenger to sweep, which the server never does.
  const value = Buffer.allocUnsafe(VALUE_BYTES).fill(0x61 + ((i + round) % 26));
  value.writeUInt32LE(i >>> 0, 0);
  return value;
}

/** Deterministic xorshift, so runs write the same keys. */
let seed = 0x9e3779b9;
function random(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}

interface GcRecord {
  readonly kind: number;
  readonly durationMs: number;
}

class Phase {
  readonly latencies: number[] = [];
  readonly gcs: GcRecord[] = [];
  readonly eld: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  readonly startMs = performance.now();
  readonly startCpu = process.cpuUsage();
  cpuMs = 0;
  endMs = 0;
  extra: Record<string, string> = {};

  constructor(readonly name: string) {
    this.eld.enable();
  }

  end(): void {
    this.endMs = performance.now();
    const cpu = process.cpuUsage(this.startCpu);
    this.cpuMs = (cpu.user + cpu.system) / 1000;
    this.eld.disable();
  }
}

const GC_KINDS: Record<number, string> = { 1: 'scavenge', 2: 'mark-compact', 4: 'incremental', 8: 'weak-callbacks' };

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarize(phase: Phase): Record<string, string | number> {
  const sorted = [...phase.latencies].sort((a, b) => a - b);
  const byKind = new Map<number, GcRecord[]>();
  for (const gc of phase.gcs) byKind.set(gc.kind, [...(byKind.get(gc.kind) ?? []), gc]);
  const gc = [...byKind].map(([kind, list]) => `${GC_KINDS[kind] ?? kind} ${list.length}× max ${Math.max(...list.map((g) => g.durationMs)).toFixed(1)} ms`).join(', ');
  return {
    phase: phase.name,
    seconds: ((phase.endMs - phase.startMs) / 1000).toFixed(2),
    // Process CPU time (all threads) over wall time: well below 100% means it waited for a CPU.
    'cpu %': ((100 * phase.cpuMs) / (phase.endMs - phase.startMs)).toFixed(0),
    writes: phase.latencies.length,
    'eld max ms': (phase.eld.max / 1e6).toFixed(1),
    'eld p99 ms': (phase.eld.percentile(99) / 1e6).toFixed(1),
    'write p50 ms': percentile(sorted, 50).toFixed(1),
    'write p99 ms': percentile(sorted, 99).toFixed(1),
    'write max ms': (sorted.at(-1) ?? Number.NaN).toFixed(1),
    'gc max ms': phase.gcs.length === 0 ? '0' : Math.max(...phase.gcs.map((g) => g.durationMs)).toFixed(1),
    gc: gc === '' ? 'none' : gc,
    ...phase.extra,
  };
}

async function main(): Promise<void> {
  const src = path.resolve(flags.src);
  const { StateMachine, encodeWriteEntry } = await import(pathToFileURL(path.join(src, 'state/index.ts')).href) as typeof StateModule;
  const { openStorage } = await import(pathToFileURL(path.join(src, 'storage/index.ts')).href) as typeof StorageModule;
  const dir = flags.dir ?? await mkdtemp(path.join(os.tmpdir(), 'raftis-stall-'));
  log(`node ${process.version} ${process.execArgv.join(' ')}; heap limit ${(v8.getHeapStatistics().heap_size_limit / 2 ** 20).toFixed(0)} MiB`);
  const machine = new StateMachine();
  let index = 0;
  const buildStart = performance.now();
  for (let i = 0; i < KEYS; i++) {
    machine.apply(++index, encodeWriteEntry({ timeMs: 1_700_000_000_000, db: 0, argv: [SET, keyName(i), valueFor(i, 0)] }));
    if (i % 500_000 === 499_999) log(`built ${i + 1} keys`);
  }
  const buildMs = performance.now() - buildStart;
  const memory = process.memoryUsage();
  log(`built ${KEYS} keys of ${VALUE_BYTES} bytes in ${(buildMs / 1000).toFixed(1)} s; heapUsed ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(memory.rss / 2 ** 20).toFixed(0)} MiB`);

  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const { storage } = await openStorage(dir, { fsync: 'always', logger: quiet });

  let phase = new Phase('idle');
  const phases: Phase[] = [phase];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as unknown as { detail?: { kind?: number } }).detail;
      phase.gcs.push({ kind: detail?.kind ?? 0, durationMs: entry.duration });
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  // Writes arrive at RATE per second from `writesStart`; each tick applies every write due.
  let writing = true;
  const writesStart = performance.now();
  let issued = 0;
  let round = 1;
  const tick = (): void => {
    const now = performance.now();
    const due = Math.floor(((now - writesStart) * RATE) / 1000);
    while (issued < due) {
      const arrival = writesStart + (issued * 1000) / RATE;
      const i = Math.floor(random() * KEYS);
      machine.apply(++index, encodeWriteEntry({ timeMs: 1_700_000_000_000 + Math.floor(now), db: 0, argv: [SET, keyName(i), valueFor(i, round)] }));
      phase.latencies.push(performance.now() - arrival);
      issued++;
    }
    if (writing) setTimeout(tick, 1);
  };
  setTimeout(tick, 1);

  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  for (let s = 1; s <= SNAPSHOTS; s++) {
    phase.end();
    phase = new Phase(`snapshot ${s}`);
    phases.push(phase);
    round++;
    const started = performance.now();
    // As RaftNode.takeSnapshot.
    const image = machine.beginSnapshot();
    const beginMs = performance.now() - started;
    const writer = await storage.createSnapshot({ index: image.meta.appliedIndex, term: 1, confState: { voters: [1], learners: [], removed: [] } });
    let bytes = 0;
    let chunks = 0;
    let longestChunkMs = 0;
    let longestChunkCpuMs = 0;
    for (;;) {
      const chunkStart = performance.now();
      const cpuStart = process.cpuUsage();
      const chunk = image.nextChunk(CHUNK_BYTES);
      longestChunkMs = Math.max(longestChunkMs, performance.now() - chunkStart);
      const cpu = process.cpuUsage(cpuStart);
      longestChunkCpuMs = Math.max(longestChunkCpuMs, (cpu.user + cpu.system) / 1000);
      if (chunk === null) break;
      await writer.write(chunk);
      bytes += chunk.length;
      chunks++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writer.finish();
    const ms = performance.now() - started;
    phase.extra = {
      'snapshot s': (ms / 1000).toFixed(2),
      'snapshot MiB': (bytes / 2 ** 20).toFixed(0),
      'MiB/s': (bytes / 2 ** 20 / (ms / 1000)).toFixed(0),
      'beginSnapshot ms': beginMs.toFixed(1),
      'longest nextChunk ms': longestChunkMs.toFixed(1),
      // CPU time (all threads, so a GC running inside counts) of the longest call: the work itself,
      // without the time the thread waited for a CPU.
      'longest nextChunk cpu ms': longestChunkCpuMs.toFixed(1),
      chunks: String(chunks),
    };
    log(`snapshot ${s}: ${(bytes / 2 ** 20).toFixed(0)} MiB in ${(ms / 1000).toFixed(2)} s`);
  }
  phase.end();
  writing = false;
  observer.disconnect();
  await storage.close();
  if (flags.dir === undefined) await rm(dir, { recursive: true, force: true });

  const rows = phases.map(summarize);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ keys: KEYS, valueBytes: VALUE_BYTES, rate: RATE, buildMs, execArgv: process.execArgv, rows })}\n`);
    return;
  }
  process.stdout.write(`${src}: keys ${KEYS}, values ${VALUE_BYTES} B, writes ${RATE}/s, node ${process.version} ${process.execArgv.filter((a) => !a.includes('tsx')).join(' ')}; load average ${os.loadavg().map((v) => v.toFixed(1)).join(' / ')}\n`);
  for (const row of rows) process.stdout.write(`${Object.entries(row).map(([k, v]) => `${k}: ${v}`).join(' | ')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
