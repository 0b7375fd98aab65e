// WAL append throughput next to the disk's raw fsync rate, measured in the same run on the same
// directory (not a test: numbers depend on the machine). Run with
//
//   npx tsx bench/wal-bench.ts [--dir /path/on/the/disk/to/measure] [--seconds 1] [--rounds 3]
//
// Raw rates: a loop of (write a small block, fdatasync) on one file, once overwriting the same
// 4 KiB block and once appending 64 bytes (what a WAL does). WAL rates: save() batches of 1, 16
// and 128 entries of 64 bytes, each with a hard state, as the driver would for one Ready. Since a
// save costs one fsync, batches/s should approach the raw append rate and entries/s grow with the
// batch size. The 'never' rows skip fsync and show the CPU cost of encoding and writing. Each WAL
// run follows its own raw measurement and the table reports medians over the rounds.
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Entry } from '../src/raft/types.js';
import { openStorage, type StorageLogger } from '../src/storage/index.js';

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

const baseDir = resolve(argument('dir', tmpdir()));
const seconds = Number(argument('seconds', '1'));
const rounds = Number(argument('rounds', '3'));
const ENTRY_BYTES = 64;
const quiet: StorageLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The filesystem holding `path`, from /proc/mounts (Linux), so a tmpfs result is not mistaken for a disk. */
async function filesystemOf(path: string): Promise<string> {
  try {
    const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((line) => line.split(' '));
    let best = { mount: '', type: 'unknown', device: '' };
    for (const [device, mount, type] of mounts) {
      if (device === undefined || mount === undefined || type === undefined) continue;
      if ((path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) && mount.length > best.mount.length) best = { mount, type, device };
    }
    return `${best.type} (${best.device} on ${best.mount})`;
  } catch {
    return 'unknown';
  }
}

async function rawFsyncRate(dir: string, mode: 'overwrite' | 'append'): Promise<{ perSecond: number; averageMicros: number }> {
  const handle = await open(join(dir, `raw-${mode}`), 'w');
  const block = Buffer.alloc(mode === 'overwrite' ? 4096 : ENTRY_BYTES, 0x61);
  try {
    let count = 0;
    let position = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    while (performance.now() < end) {
      await handle.write(block, 0, block.length, mode === 'overwrite' ? 0 : position);
      position += block.length;
      await handle.datasync();
      count += 1;
    }
    const elapsedMs = performance.now() - start;
    return { perSecond: (count * 1000) / elapsedMs, averageMicros: (elapsedMs * 1000) / count };
  } finally {
    await handle.close();
  }
}

interface WalResult {
  readonly batchesPerSecond: number;
  readonly entriesPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly fsyncAverageMicros: number;
  readonly fsyncsPerBatch: number;
}

async function walRate(dir: string, batchEntries: number, fsync: 'always' | 'never'): Promise<WalResult> {
  const { storage } = await openStorage(dir, { logger: quiet, fsync });
  const payload = Buffer.alloc(ENTRY_BYTES, 0x62);
  const batch: Entry[] = [];
  let next = 1;
  let batches = 0;
  const fsyncsBefore = storage.stats().fsyncCount;
  const start = performance.now();
  const end = start + seconds * 1000;
  try {
    while (performance.now() < end) {
      batch.length = 0;
      for (let k = 0; k < batchEntries; k++) batch.push({ index: next + k, term: 1, kind: 'normal', data: payload });
      next += batchEntries;
      await storage.save({ entries: batch, hardState: { term: 1, vote: 1, commit: next - batchEntries } });
      batches += 1;
    }
    const elapsedSeconds = (performance.now() - start) / 1000;
    const stats = storage.stats();
    return {
      batchesPerSecond: batches / elapsedSeconds,
      entriesPerSecond: (batches * batchEntries) / elapsedSeconds,
      megabytesPerSecond: stats.logSizeBytes / elapsedSeconds / 1e6,
      fsyncAverageMicros: stats.fsyncAverageMicros,
      fsyncsPerBatch: (stats.fsyncCount - fsyncsBefore) / batches,
    };
  } finally {
    await storage.close();
  }
}

const format = (value: number, digits = 0): string => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const workDir = await mkdtemp(join(baseDir, 'raftis-wal-bench-'));
try {
  console.log(`directory: ${workDir}`);
  console.log(`filesystem: ${await filesystemOf(workDir)}`);
  console.log(`node ${process.version}, ${rounds} rounds of ${seconds} s per measurement, ${ENTRY_BYTES}-byte entries; medians over rounds\n`);
  const overwrite: number[] = [];
  const appendRates: number[] = [];
  const configurations = (['always', 'never'] as const).flatMap((fsync) => [1, 16, 128].map((batchEntries) => ({ fsync, batchEntries })));
  const walResults = configurations.map(() => [] as WalResult[]);
  const ratios = configurations.map(() => [] as number[]);
  let run = 0;
  for (let round = 0; round < rounds; round++) {
    overwrite.push((await rawFsyncRate(workDir, 'overwrite')).perSecond);
    for (const [k, { fsync, batchEntries }] of configurations.entries()) {
      // The raw rate is measured right before each WAL run, so a disk whose speed drifts (shared,
      // throttled, busy) is compared with itself.
      const raw = (await rawFsyncRate(workDir, 'append')).perSecond;
      appendRates.push(raw);
      const result = await walRate(join(workDir, `wal-${run++}`), batchEntries, fsync);
      walResults[k]!.push(result);
      ratios[k]!.push(result.batchesPerSecond / raw);
    }
  }
  console.log('raw fsync                            ops/s   (min..max over runs)');
  console.log(`write 4 KiB in place + fdatasync  ${format(median(overwrite)).padStart(8)}   (${format(Math.min(...overwrite))}..${format(Math.max(...overwrite))})`);
  console.log(`append 64 B + fdatasync           ${format(median(appendRates)).padStart(8)}   (${format(Math.min(...appendRates))}..${format(Math.max(...appendRates))})\n`);
  console.log('WAL save()  fsync   entries/batch   batches/s    entries/s   MB/s  fsync/batch  avg fsync µs   batches/s ÷ raw append');
  for (const [k, { fsync, batchEntries }] of configurations.entries()) {
    const results = walResults[k]!;
    const pick = (field: keyof WalResult): number => median(results.map((result) => result[field]));
    console.log(
      `            ${fsync.padEnd(6)}  ${String(batchEntries).padStart(13)}  ${format(pick('batchesPerSecond')).padStart(10)}  ${format(pick('entriesPerSecond')).padStart(11)}  ${format(pick('megabytesPerSecond'), 1).padStart(5)}  ${format(pick('fsyncsPerBatch'), 2).padStart(11)}  ${format(pick('fsyncAverageMicros')).padStart(12)}  ${fsync === 'always' ? format(median(ratios[k]!), 2).padStart(23) : '—'.padStart(23)}`,
    );
  }
} finally {
  await rm(workDir, { recursive: true, force: true });
}
