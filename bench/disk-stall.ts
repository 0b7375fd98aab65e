// How long a WAL fdatasync waits while a large file is written or deleted on the same file
// system: the disk's share of the write stalls during a snapshot (issue 7: "no write stalls for
// more than 50 ms" during a 1 GB snapshot). No cluster and no state machine: a loop of small
// appends, each followed by fdatasync as the WAL does per batch, runs against
//   - a snapshot-like writer: 1 MiB writes with an fdatasync every --flush-steps MiB (0: only at
//     the end), as SnapshotWriter does every SNAPSHOT_SYNC_EVERY_BYTES;
//   - the deletion of a file of the same size by removeLargeFile (src/storage/fs.ts), shrunk
//     --delete-steps MiB at a time with --pause ms between steps (0 MiB: one unlink).
// Not a test: it prints figures and asserts nothing. Each case starts with 1 s of appends alone.
//
//   npx tsx bench/disk-stall.ts [--mib 1024] [--flush-steps 64,16,4,1,0] [--delete-steps 64,16,4,0]
//                               [--pause 2] [--dir <a directory on the disk to measure>]
//                               [--prealloc-mib 64]   (the WAL file zero-filled and made durable first,
//                               so each fdatasync rewrites blocks already allocated: no metadata to
//                               commit; 0: the file grows with every append, as before)
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NodeFs, removeLargeFile, type StorageFile } from '../src/storage/fs.js';

const { values: flags } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    'flush-steps': { type: 'string', default: '64,16,4,1,0' },
    'delete-steps': { type: 'string', default: '64,16,4,0' },
    pause: { type: 'string', default: '2' },
    dir: { type: 'string' },
    'prealloc-mib': { type: 'string', default: '0' },
  },
});
const MIB = 1024 * 1024;
const totalBytes = Number(flags.mib) * MIB;
const pauseMs = Number(flags.pause);
const preallocBytes = Number(flags['prealloc-mib']) * MIB;
const list = (text: string): number[] => (text === '' ? [] : text.split(',').map(Number));
const fs = new NodeFs();
const dir = await mkdtemp(join(flags.dir ?? tmpdir(), 'disk-stall-'));

/** Appends of a WAL batch's size, each made durable, until stop(); latencies in ms. */
async function walLoop(file: StorageFile, until: () => boolean, latencies: number[]): Promise<void> {
  const record = Buffer.alloc(2000, 3);
  let offset = 0;
  while (!until()) {
    if (preallocBytes > 0 && offset + record.length > preallocBytes) offset = 0;
    const start = performance.now();
    await file.write(record, offset);
    await file.sync();
    latencies.push(performance.now() - start);
    offset += record.length;
  }
}

function describe(latencies: readonly number[]): string {
  if (latencies.length === 0) return 'no fsync';
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number): string => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
  return `${latencies.length} fsyncs, p50 ${at(0.5)} / p99 ${at(0.99)} / max ${sorted.at(-1)!.toFixed(1)} ms`;
}

/** Runs `work` against the WAL loop; returns the loop's latencies before and during it. */
async function against(work: () => Promise<void>): Promise<{ before: number[]; during: number[]; seconds: number }> {
  const wal = await fs.open(join(dir, 'wal'), 'create');
  if (preallocBytes > 0) {
    const zeros = Buffer.alloc(MIB);
    for (let offset = 0; offset < preallocBytes; offset += MIB) await wal.write(zeros, offset);
    await wal.sync();
  }
  const latencies: number[] = [];
  let done = false;
  const loop = walLoop(wal, () => done, latencies);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = latencies.splice(0);
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  done = true;
  await loop;
  await wal.close();
  await fs.unlink(join(dir, 'wal'));
  return { before, during: latencies, seconds };
}

async function writeBig(path: string, flushEveryBytes: number): Promise<void> {
  const file = await fs.open(path, 'create');
  const chunk = Buffer.alloc(MIB, 7);
  let unsynced = 0;
  for (let offset = 0; offset < totalBytes; offset += chunk.length) {
    await file.write(chunk, offset);
    unsynced += chunk.length;
    if (flushEveryBytes > 0 && unsynced >= flushEveryBytes) {
      unsynced = 0;
      await file.sync();
    }
  }
  await file.sync();
  await file.close();
}

try {
  console.log(`${flags.mib} MiB in ${dir}; a WAL-like loop of 2,000-byte appends, each followed by fdatasync` +
    (preallocBytes > 0 ? `, into a file of ${flags['prealloc-mib']} MiB zero-filled beforehand` : ', growing the file'));
  const big = join(dir, 'big');
  for (const steps of list(flags['flush-steps'])) {
    const { before, during, seconds } = await against(() => writeBig(big, steps * MIB));
    console.log(`write, fdatasync every ${steps === 0 ? 'never (only at the end)' : `${steps} MiB`}: ${(Number(flags.mib) / seconds).toFixed(0)} MiB/s; WAL before: ${describe(before)}; during: ${describe(during)}`);
    await fs.unlink(big);
  }
  for (const steps of list(flags['delete-steps'])) {
    await writeBig(big, 16 * MIB);
    const { before, during, seconds } = await against(() => (steps === 0 ? fs.unlink(big) : removeLargeFile(fs, big, steps * MIB, pauseMs)));
    console.log(`delete, ${steps === 0 ? 'one unlink' : `shrunk ${steps} MiB at a time, ${pauseMs} ms apart`}: ${seconds.toFixed(2)} s; WAL before: ${describe(before)}; during: ${describe(during)}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
