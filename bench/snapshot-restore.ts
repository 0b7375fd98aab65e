// How long restoring a snapshot image takes, and how much memory the restored keyspace holds per
// key, on the heap and outside it (the value arenas' slabs, since the eighth session): the state
// machine's part of a restart (finding 7 in docs/performance.md). Not a test.
//
//   npx tsx bench/snapshot-restore.ts [--keys 1000000] [--value-bytes 64] [--rounds 3]
//                                    [--src src] [--compare-src /work/main/src]
//
// Builds an image of --keys keys (`key:%012d`, --value-bytes each, no TTL) with the state machine
// of --src, writes it to a temporary file, then per round runs a fresh `node --expose-gc` process
// per source tree (--src, and --compare-src if given, alternating) that reads the file and pushes
// it in 1 MiB chunks into beginRestore/finishRestore (digest and key count checked), and reports
// the restore time and, after a full GC, heapUsed and external memory per key of the restored machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'value-bytes': { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    src: { type: 'string', default: 'src' },
    'compare-src': { type: 'string' },
    child: { type: 'string' },
    file: { type: 'string' },
  },
});

interface StateModule {
  StateMachine: new () => {
    apply(index: number, data: Uint8Array): unknown;
    beginSnapshot(): { nextChunk(maxBytes: number): Buffer | null };
    beginRestore(): { push(chunk: Uint8Array): void };
    finishRestore(restorer: unknown): void;
    digest(): string;
  };
  encodeWriteEntry(entry: { timeMs: number; db: number; argv: Buffer[] }): Buffer;
}

async function load(src: string): Promise<StateModule> {
  return await import(pathToFileURL(path.resolve(src, 'state/index.ts')).href) as StateModule;
}

async function child(src: string, file: string): Promise<void> {
  const state = await load(src);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const image = readFileSync(file);
  gc();
  const before = process.memoryUsage();
  const started = performance.now();
  const machine = new state.StateMachine();
  const restorer = machine.beginRestore();
  for (let at = 0; at < image.length; at += 1 << 20) restorer.push(image.subarray(at, at + (1 << 20)));
  machine.finishRestore(restorer);
  const ms = performance.now() - started;
  gc();
  const after = process.memoryUsage();
  const heap = after.heapUsed - before.heapUsed;
  const external = after.external - before.external;
  process.stdout.write(`${JSON.stringify({ ms, heap, external, digest: machine.digest() })}\n`);
  // Keep the machine alive until the measurement above is done.
  if (machine.digest() === '') process.exitCode = 2;
}

async function main(): Promise<void> {
  if (flags.child !== undefined) return child(flags.child, flags.file!);
  const keys = Number(flags.keys);
  const valueBytes = Number(flags['value-bytes']);
  const state = await load(flags.src);
  const machine = new state.StateMachine();
  const set = Buffer.from('SET');
  for (let i = 0; i < keys; i++) {
    const value = Buffer.alloc(valueBytes, 0x61 + (i % 26));
    value.writeUInt32LE(i >>> 0, 0);
    machine.apply(i + 1, state.encodeWriteEntry({ timeMs: 1_700_000_000_000, db: 0, argv: [set, Buffer.from(`key:${String(i).padStart(12, '0')}`), value] }));
  }
  const writer = machine.beginSnapshot();
  const chunks: Buffer[] = [];
  for (let chunk = writer.nextChunk(1 << 20); chunk !== null; chunk = writer.nextChunk(1 << 20)) chunks.push(chunk);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftis-restore-'));
  const file = path.join(dir, 'image');
  writeFileSync(file, Buffer.concat(chunks));
  const digest = machine.digest();
  process.stderr.write(`image of ${keys} keys × ${valueBytes} B: ${(Buffer.concat(chunks).length / 2 ** 20).toFixed(1)} MiB, digest ${digest}\n`);
  const trees = [flags.src, ...(flags['compare-src'] === undefined ? [] : [flags['compare-src']])];
  const results = new Map<string, { ms: number[]; heap: number[]; external: number[] }>(trees.map((tree) => [tree, { ms: [], heap: [], external: [] }]));
  const script = path.resolve(process.argv[1]!);
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const tree of round % 2 === 0 ? trees : [...trees].reverse()) {
      const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, '--child', tree, '--file', file], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`child ${tree} failed: ${run.stderr}`);
      const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { ms: number; heap: number; external: number; digest: string };
      if (out.digest !== digest) throw new Error(`${tree}: digest ${out.digest} != ${digest}`);
      results.get(tree)!.ms.push(out.ms);
      results.get(tree)!.heap.push(out.heap);
      results.get(tree)!.external.push(out.external);
      process.stderr.write(`round ${round + 1} ${tree}: ${out.ms.toFixed(0)} ms, heap ${(out.heap / keys).toFixed(1)} + external ${(out.external / keys).toFixed(1)} B/key\n`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  for (const [tree, { ms, heap, external }] of results) {
    process.stdout.write(`${tree}: restore ${ms.map((v) => v.toFixed(0)).join(' / ')} ms (median ${median(ms).toFixed(0)}); heap ${(median(heap) / keys).toFixed(1)} + external ${(median(external) / keys).toFixed(1)} B/key; load average ${os.loadavg().map((v) => v.toFixed(1)).join(' / ')}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
