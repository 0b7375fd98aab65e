// Proves the snapshot files: an image written in chunks reads back byte for byte in chunks no
// larger than asked, with its membership and driver metadata; only the newest N files are kept;
// an unfinished snapshot (aborted, or cut short by a crash) never replaces the previous one and its
// temp file is cleaned up; a reader refuses a damaged frame before handing it out; and installing a
// snapshot from a leader through save() replaces the log, durably, whether the image came inline
// or was streamed to a file first.
import { describe, expect, it } from 'vitest';
import type { ConfState } from '../../../src/raft/types.js';
import { StorageCorruptionError } from '../../../src/storage/errors.js';
import { SimDisk } from '../../../src/storage/sim-fs.js';
import { removeLargeFile } from '../../../src/storage/fs.js';
import { SNAPSHOT_FRAME_MAX_BYTES } from '../../../src/storage/snapshot.js';
import type { StorageFile, StorageFs } from '../../../src/storage/fs.js';
import { openStorage, toRestoreState, type DiskStorage, type StorageOptions } from '../../../src/storage/storage.js';
import { RecordingLogger, entries, shape } from './helpers.js';

const CONF: ConfState = { voters: [1, 2, 3], learners: [4], removed: [9] };

async function open(disk: SimDisk, options: Partial<StorageOptions> = {}) {
  const logger = new RecordingLogger();
  const opened = await openStorage('/node', { fs: disk.mount(), logger, segmentSizeBytes: 2048, ...options });
  return { ...opened, logger };
}

async function crashAndOpen(disk: SimDisk, options: Partial<StorageOptions> = {}) {
  disk.crash();
  disk.reboot();
  return open(disk, options);
}

function image(sizeBytes: number, seed: number): Buffer {
  const bytes = Buffer.alloc(sizeBytes);
  for (let k = 0; k < sizeBytes; k++) bytes[k] = (k * 31 + seed) & 0xff;
  return bytes;
}

/** `fs` with every file's truncate() going through `before(size)` first. */
function withTruncateHook(fs: StorageFs, before: (size: number) => Promise<void> | void): StorageFs {
  return {
    mkdir: (dir) => fs.mkdir(dir),
    readdir: (dir) => fs.readdir(dir),
    rename: (from, to) => fs.rename(from, to),
    unlink: (path) => fs.unlink(path),
    fsyncDir: (dir) => fs.fsyncDir(dir),
    open: async (path, mode) => {
      const file = await fs.open(path, mode);
      return Object.assign(Object.create(Object.getPrototypeOf(file) as object) as StorageFile, file, {
        truncate: async (size: number) => {
          await before(size);
          await file.truncate(size);
        },
      });
    },
  };
}

async function writeSnapshot(storage: DiskStorage, index: number, term: number, data: Buffer, chunkBytes = 1000): Promise<void> {
  const writer = await storage.createSnapshot({ index, term, confState: CONF }, Buffer.from(`applied=${index}`));
  for (let at = 0; at < data.length; at += chunkBytes) await writer.write(data.subarray(at, at + chunkBytes));
  expect(await writer.finish()).toEqual({ index, term, confState: CONF });
}

async function readAll(storage: DiskStorage, chunkBytes: number, at?: { index: number; term: number }): Promise<{ data: Buffer; largestChunk: number }> {
  const reader = await storage.openSnapshot(at, chunkBytes);
  const chunks: Buffer[] = [];
  for await (const chunk of reader) chunks.push(chunk);
  return { data: Buffer.concat(chunks), largestChunk: Math.max(0, ...chunks.map((chunk) => chunk.length)) };
}

describe('snapshots', () => {
  it('reads an image back in bounded chunks, with membership and metadata, across a crash', async () => {
    const disk = new SimDisk(1);
    const { storage } = await open(disk);
    await storage.save({ entries: entries(1, 20, 2), hardState: { term: 2, vote: 1, commit: 20 } });
    const data = image(SNAPSHOT_FRAME_MAX_BYTES * 2 + 12345, 7);
    await writeSnapshot(storage, 15, 2, data, 700_000);
    for (const chunkBytes of [4096, 1 << 20, 8 << 20]) {
      const { data: read, largestChunk } = await readAll(storage, chunkBytes);
      expect(read.equals(data)).toBe(true);
      expect(largestChunk).toBeLessThanOrEqual(Math.min(chunkBytes, SNAPSHOT_FRAME_MAX_BYTES));
    }
    const stats = storage.stats();
    expect(stats.snapshotLastIndex).toBe(15);
    expect(stats.snapshotSizeBytes).toBeGreaterThan(data.length);

    const { storage: again, recovered } = await crashAndOpen(disk);
    expect(recovered.snapshot?.meta).toEqual({ index: 15, term: 2, confState: CONF });
    expect(recovered.snapshot?.metadata.toString()).toBe('applied=15');
    expect(recovered.snapshot?.dataBytes).toBe(data.length);
    expect(shape(recovered.entries)).toBe(shape(entries(16, 20, 2)));
    expect((await readAll(again, 65536)).data.equals(data)).toBe(true);
    const restore = toRestoreState(recovered, { voters: [1], learners: [], removed: [] });
    expect(restore.snapshot?.meta.index).toBe(15);
    expect(restore.entries).toBe(recovered.entries);
  });

  it('keeps the newest N snapshots and deletes the rest', async () => {
    const disk = new SimDisk(2);
    const { storage } = await open(disk, { snapshotsRetained: 2 });
    await storage.save({ entries: entries(1, 40, 1), hardState: { term: 1, vote: 1, commit: 40 } });
    for (const index of [10, 20, 30, 40]) await writeSnapshot(storage, index, 1, image(3000, index));
    await storage.snapshotDeletionsSettled();
    expect(disk.list('/node/snap')).toEqual(['0000000000000028-0000000000000001.snap', '000000000000001e-0000000000000001.snap'].sort());
    expect((await readAll(storage, 1024, { index: 30, term: 1 })).data.equals(image(3000, 30))).toBe(true);
    await expect(storage.openSnapshot({ index: 20, term: 1 })).rejects.toThrow(/no snapshot at index 20/);
  });

  it('completes a snapshot before the one it replaces is deleted, and close() waits for that deletion', async () => {
    const disk = new SimDisk(22);
    const fs = disk.mount();
    // Holds every truncate (removeLargeFile's steps) until released.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const holding = withTruncateHook(fs, () => held);
    const { storage } = await open(disk, { fs: holding, snapshotsRetained: 1 });
    await storage.save({ entries: entries(1, 20, 1), hardState: { term: 1, vote: 1, commit: 20 } });
    await writeSnapshot(storage, 10, 1, image(5_000_000, 10), 1 << 20);
    // finish() of the second snapshot resolves while the first is still being deleted (it is over
    // 4 MiB, so its deletion truncates before it unlinks, and every truncate is held).
    await writeSnapshot(storage, 20, 1, image(3000, 20));
    expect(storage.snapshot?.meta.index).toBe(20);
    await expect(storage.openSnapshot({ index: 10, term: 1 })).rejects.toThrow(/no snapshot at index 10/);
    expect(disk.list('/node/snap')).toHaveLength(2);
    let closed = false;
    const closing = storage.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(disk.list('/node/snap')).toEqual(['0000000000000014-0000000000000001.snap']);
  });

  it('deletes a large file by shrinking it a step at a time, then unlinking it', async () => {
    const disk = new SimDisk(21);
    const fs = disk.mount();
    const steps: number[] = [];
    const recording = withTruncateHook(fs, (size) => {
      steps.push(size);
    });
    await fs.mkdir('/d');
    const file = await fs.open('/d/big', 'create');
    await file.write(Buffer.alloc(10_240, 1), 0);
    await file.close();
    await removeLargeFile(recording, '/d/big', 3000);
    expect(steps).toEqual([7240, 4240, 1240]);
    expect(disk.list('/d')).toEqual([]);
    // A file within one step is just unlinked.
    const small = await fs.open('/d/small', 'create');
    await small.write(Buffer.alloc(100, 1), 0);
    await small.close();
    steps.length = 0;
    await removeLargeFile(recording, '/d/small', 3000);
    expect(steps).toEqual([]);
    expect(disk.list('/d')).toEqual([]);
  });

  it('never lets an unfinished snapshot replace the previous one', async () => {
    const disk = new SimDisk(3);
    const { storage } = await open(disk);
    await storage.save({ entries: entries(1, 30, 1), hardState: { term: 1, vote: 1, commit: 30 } });
    await writeSnapshot(storage, 10, 1, image(5000, 1));
    const aborted = await storage.createSnapshot({ index: 20, term: 1, confState: CONF });
    await aborted.write(image(5000, 2));
    await aborted.abort();
    expect(disk.list('/node/snap')).toEqual(['000000000000000a-0000000000000001.snap']);
    const cut = await storage.createSnapshot({ index: 30, term: 1, confState: CONF });
    await cut.write(image(5000, 3));
    const { recovered } = await crashAndOpen(disk); // before finish()
    expect(recovered.snapshot?.meta.index).toBe(10);
    expect(disk.list('/node/snap')).toEqual(['000000000000000a-0000000000000001.snap']);
    expect(shape(recovered.entries)).toBe(shape(entries(11, 30, 1)));
  });

  it('refuses a damaged frame before handing it out, after the good ones', async () => {
    const disk = new SimDisk(4);
    const { storage } = await open(disk);
    await storage.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 } });
    const data = image(3 * 1000, 9);
    await writeSnapshot(storage, 5, 1, data, 1000);
    const path = storage.snapshot!.path;
    const bytes = disk.contents(path)!;
    const flipAt = bytes.length - 1000 - 8 - 500; // inside the second of three frames
    bytes[flipAt] = bytes[flipAt]! ^ 1;
    disk.setContents(path, bytes);
    const reader = await storage.openSnapshot(undefined, 1 << 20);
    expect((await reader.next())!.equals(data.subarray(0, 1000))).toBe(true);
    await expect(reader.next()).rejects.toThrow(StorageCorruptionError);
    await reader.close();
  });

  it('installs a snapshot from the leader with the image inline: the log restarts after it', async () => {
    const disk = new SimDisk(5);
    const { storage } = await open(disk, { segmentSizeBytes: 600 });
    for (let first = 1; first <= 30; first += 5) await storage.save({ entries: entries(first, first + 4, 1), hardState: { term: 1, vote: 1, commit: first } });
    const segmentsBefore = disk.list('/node/wal').length;
    const data = image(4000, 5);
    await storage.save({
      snapshot: { meta: { index: 50, term: 3, confState: CONF }, data },
      entries: entries(51, 52, 3),
      hardState: { term: 3, vote: 0, commit: 50 },
    });
    expect(storage.lastIndex).toBe(52);
    expect(disk.list('/node/wal').length).toBeLessThan(segmentsBefore); // the old log is gone
    const { storage: again, recovered } = await crashAndOpen(disk, { segmentSizeBytes: 600 });
    expect(recovered.snapshot?.meta).toEqual({ index: 50, term: 3, confState: CONF });
    expect(shape(recovered.entries)).toBe('51:3 52:3');
    expect(recovered.hardState).toEqual({ term: 3, vote: 0, commit: 50 });
    expect((await readAll(again, 1000)).data.equals(data)).toBe(true);
  });

  it('installs a snapshot streamed to a file first, and refuses one that has neither file nor image', async () => {
    const disk = new SimDisk(6);
    const { storage } = await open(disk);
    await storage.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 1, commit: 3 } });
    const data = image(9000, 6);
    await writeSnapshot(storage, 8, 2, data, 1500); // as the chunks arrive from the leader
    await storage.save({ snapshot: { meta: { index: 8, term: 2, confState: CONF }, data: new Uint8Array(0) }, entries: [], hardState: { term: 2, vote: 0, commit: 8 } });
    expect(storage.lastIndex).toBe(8);
    await expect(storage.save({ snapshot: { meta: { index: 12, term: 2, confState: CONF }, data: new Uint8Array(0) }, entries: [] })).rejects.toThrow(/no snapshot file/);
    const { recovered } = await crashAndOpen(disk);
    expect(recovered.snapshot?.meta.index).toBe(8);
    expect(recovered.entries).toEqual([]);
    expect(recovered.hardState).toEqual({ term: 2, vote: 0, commit: 8 });
  });

  it('removes temp files a crash left behind', async () => {
    const disk = new SimDisk(7);
    const { storage } = await open(disk);
    const writer = await storage.createSnapshot({ index: 1, term: 1, confState: CONF });
    await writer.write(image(100, 1));
    const snapDir = disk.list('/node/snap');
    expect(snapDir).toHaveLength(1);
    expect(snapDir[0]).toMatch(/\.tmp$/);
    // Synced names survive the crash; make the temp file's name durable to be sure it is there.
    await disk.mount().fsyncDir('/node/snap');
    const { logger } = await crashAndOpen(disk);
    expect(disk.list('/node/snap')).toEqual([]);
    expect(logger.find('unfinished snapshot')).toBeDefined();
  });
});
