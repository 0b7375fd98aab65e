// The WAL's preallocated segments (src/storage/wal.ts, "Preallocation"): the active segment is
// extended with zeros ahead of the appends, and recovery reads a zero tail after the last record
// as unused space (scanSegment), while a torn save over those zeros is still cut and corruption is
// still reported. The random crash test in crash.test.ts runs with preallocation on too (the
// default); these tests pin the layouts it may not happen to produce.
import { describe, expect, it } from 'vitest';
import { StorageCorruptionError, StorageWriteError } from '../../../src/storage/errors.js';
import type { OpenMode, StorageFile, StorageFs } from '../../../src/storage/fs.js';
import { SimDisk } from '../../../src/storage/sim-fs.js';
import { openStorage, type StorageOptions } from '../../../src/storage/storage.js';
import { RECORD_HEADER_BYTES, isZeroRange, scanSegment } from '../../../src/storage/wal-format.js';
import { RecordingLogger, entries, entry, shape } from './helpers.js';

async function open(disk: SimDisk, options: Partial<StorageOptions> = {}) {
  const logger = new RecordingLogger();
  const opened = await openStorage('/node', { fs: disk.mount(), logger, ...options });
  return { ...opened, logger };
}

/**
 * A disk whose writes of zeros (the WAL's extensions) take time: held until release(), or, with
 * `delayMs`, done after that many milliseconds. Everything else goes straight through.
 */
class SlowZeros implements StorageFs {
  private gates: (() => void)[] = [];

  constructor(
    private readonly inner: StorageFs,
    private readonly delayMs?: number,
  ) {}

  get held(): number {
    return this.gates.length;
  }

  release(): void {
    for (const open of this.gates.splice(0)) open();
  }

  mkdir(dir: string): Promise<void> {
    return this.inner.mkdir(dir);
  }

  async open(path: string, mode: OpenMode): Promise<StorageFile> {
    const file = await this.inner.open(path, mode);
    const wait = (): Promise<void> => new Promise((resolve) => {
      if (this.delayMs === undefined) this.gates.push(resolve);
      else setTimeout(resolve, this.delayMs);
    });
    return {
      path: file.path,
      write: async (bytes, position) => {
        const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        if (view.length >= 4096 && isZeroRange(view, 0, view.length)) await wait();
        await file.write(bytes, position);
      },
      read: (into, position) => file.read(into, position),
      sync: () => file.sync(),
      truncate: (sizeBytes) => file.truncate(sizeBytes),
      sizeBytes: () => file.sizeBytes(),
      close: () => file.close(),
    };
  }

  readdir(dir: string): Promise<string[]> {
    return this.inner.readdir(dir);
  }

  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }

  fsyncDir(dir: string): Promise<void> {
    return this.inner.fsyncDir(dir);
  }
}

function segmentPaths(disk: SimDisk): string[] {
  return disk.list('/node/wal').map((name) => `/node/wal/${name}`);
}

function lastSegment(disk: SimDisk): { path: string; bytes: Buffer } {
  const path = segmentPaths(disk).at(-1)!;
  return { path, bytes: disk.contents(path)! };
}

describe('WAL preallocation', () => {
  it('keeps zeros ahead of the appends, writes each save at the end of the data, and reopens without a warning', async () => {
    const disk = new SimDisk(1);
    const { storage, logger } = await open(disk);
    await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 1 } });
    const first = lastSegment(disk);
    const afterFirst = scanSegment(first.bytes);
    expect(afterFirst.failure).toBeUndefined();
    // The file reaches past its data, and what lies past the data is zeros.
    expect(first.bytes.length).toBeGreaterThanOrEqual(afterFirst.dataEnd + (32 << 10));
    expect(isZeroRange(first.bytes, afterFirst.dataEnd, first.bytes.length)).toBe(true);
    expect(storage.stats().logSizeBytes).toBe(afterFirst.dataEnd);

    // A save inside the preallocated space does not grow the file; it lands at the data's end.
    await storage.save({ entries: entries(4, 6, 1), hardState: { term: 1, vote: 1, commit: 4 } });
    const second = lastSegment(disk);
    expect(second.bytes.length).toBe(first.bytes.length);
    expect(second.bytes.subarray(0, afterFirst.dataEnd).equals(first.bytes.subarray(0, afterFirst.dataEnd))).toBe(true);
    expect(scanSegment(second.bytes).dataEnd).toBe(storage.stats().logSizeBytes);
    await storage.close();
    expect(logger.problems).toEqual([]);

    const again = await open(disk);
    expect(shape(again.recovered.entries)).toBe(shape(entries(1, 6, 1)));
    expect(again.recovered.hardState).toEqual({ term: 1, vote: 1, commit: 4 });
    expect(again.logger.problems).toEqual([]);
    await again.storage.save({ entries: [entry(7, 2)], hardState: { term: 2, vote: 3, commit: 6 } });
    await again.storage.close();
    const third = await open(disk);
    expect(shape(third.recovered.entries)).toBe(`${shape(entries(1, 6, 1))} 7:2`);
    expect(third.logger.problems).toEqual([]);
  });

  it('grows the space in steps as the segment fills, never past the segment size, and every full segment reads back', async () => {
    const disk = new SimDisk(2);
    const segmentSizeBytes = 256 << 10;
    const { storage } = await open(disk, { segmentSizeBytes });
    const value = Buffer.alloc(1000, 7);
    for (let index = 1; index <= 600; index++) await storage.save({ entries: [entry(index, 1, value)], hardState: { term: 1, vote: 1, commit: index - 1 } });
    const paths = segmentPaths(disk);
    expect(paths.length).toBeGreaterThanOrEqual(3);
    for (const path of paths) {
      const bytes = disk.contents(path)!;
      expect(bytes.length).toBeLessThanOrEqual(segmentSizeBytes);
      const scan = scanSegment(bytes);
      expect(scan.failure).toBeUndefined();
      expect(isZeroRange(bytes, scan.dataEnd, bytes.length)).toBe(true);
    }
    // The full segments stopped where the next save did not fit: their zero tails are short.
    for (const path of paths.slice(0, -1)) expect(disk.contents(path)!.length - scanSegment(disk.contents(path)!).dataEnd).toBeLessThan(2000);
    await storage.close();
    const again = await open(disk, { segmentSizeBytes });
    expect(again.recovered.entries.length).toBe(600);
    expect(again.logger.problems).toEqual([]);
  });

  it('keeps at most a step and a half of zeros ahead: 64 KiB at first, never more than 1.5 MiB', async () => {
    const disk = new SimDisk(10);
    const { storage } = await open(disk);
    await storage.save({ entries: [entry(1, 1)], hardState: { term: 1, vote: 1, commit: 0 } });
    const first = lastSegment(disk).bytes;
    expect(first.length - scanSegment(first).dataEnd).toBeLessThanOrEqual(96 << 10);
    const value = Buffer.alloc(4000, 5);
    let largest = 0;
    for (let index = 2; index <= 1200; index++) {
      await storage.save({ entries: [entry(index, 1, value)], hardState: { term: 1, vote: 1, commit: index - 1 } });
      if (index % 50 !== 0) continue;
      const bytes = lastSegment(disk).bytes;
      const ahead = bytes.length - scanSegment(bytes).dataEnd;
      // A step (1 MiB at most) is added when less than half a step is left.
      expect(ahead).toBeLessThanOrEqual(1.5 * (1 << 20));
      largest = Math.max(largest, ahead);
    }
    expect(largest).toBeGreaterThan(512 << 10); // the step grew past its first 64 KiB
    await storage.close();
  });

  it('cuts a save torn over the preallocated zeros, with a warning, and carries on', async () => {
    let torn = 0;
    for (let seed = 1; seed < 120; seed++) {
      const disk = new SimDisk(seed);
      {
        const { storage } = await open(disk);
        await storage.save({ entries: [entry(1, 1, Buffer.alloc(100, 1))], hardState: { term: 1, vote: 1, commit: 0 } });
        await storage.close();
      }
      // Reopened with room to spare, so the next write the disk sees is the save's own.
      const { storage } = await open(disk);
      const before = lastSegment(disk);
      const durableEnd = scanSegment(before.bytes).dataEnd;
      disk.crashAfterOps(1); // the save's write happens, its fsync does not
      await expect(storage.save({ entries: [entry(2, 1, Buffer.alloc(100, 2))] })).rejects.toMatchObject({ code: 'ECRASH' });
      const report = disk.reboot();
      const tornAt = report.tornFiles.find((file) => file.path === before.path)?.tornAtByte;
      // (The save is over 100 bytes: a tear before byte 100 leaves it incomplete.)
      if (tornAt === undefined || tornAt === 0 || tornAt >= 100) continue;
      const after = lastSegment(disk);
      expect(after.bytes.length).toBe(before.bytes.length); // the tear sits inside the zeros
      const again = await open(disk);
      expect(shape(again.recovered.entries)).toBe('1:1');
      const warning = again.logger.find('torn write');
      if (isZeroRange(after.bytes, durableEnd, durableEnd + tornAt)) {
        // Torn within the record's length field, whose first bytes are zeros: nothing of the
        // save shows, and the data simply ends where it did.
        expect(warning).toBeUndefined();
      } else {
        torn += 1;
        expect(warning?.level).toBe('warn');
        expect(warning?.fields).toMatchObject({ file: before.path, offset: durableEnd });
      }
      expect(scanSegment(lastSegment(disk).bytes)).toMatchObject({ failure: undefined, dataEnd: durableEnd });
      await again.storage.save({ entries: [entry(2, 1, Buffer.from('again'))] });
      await again.storage.close();
      const third = await open(disk);
      expect(shape(third.recovered.entries)).toBe('1:1 2:1');
      expect(third.logger.problems).toEqual([]);
    }
    expect(torn).toBeGreaterThan(20);
  });

  it('reads a save whose start never reached the disk as torn when nothing valid follows, and as corruption when something does', async () => {
    const build = async (seed: number): Promise<{ disk: SimDisk; path: string; dataEnd: number; batch: Buffer }> => {
      const disk = new SimDisk(seed);
      const { storage } = await open(disk);
      await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 2 } });
      const start = scanSegment(lastSegment(disk).bytes).dataEnd;
      await storage.save({ entries: entries(4, 4, 1), hardState: { term: 1, vote: 1, commit: 3 } });
      await storage.close();
      const { path, bytes } = lastSegment(disk);
      const dataEnd = scanSegment(bytes).dataEnd;
      return { disk, path, dataEnd, batch: Buffer.from(bytes.subarray(start, dataEnd)) };
    };

    // The last save's first sector lost, its later bytes on disk: zeros where its header was.
    {
      const { disk, path, dataEnd, batch } = await build(3);
      const bytes = disk.contents(path)!;
      const lost = dataEnd - batch.length;
      bytes.fill(0, lost, lost + RECORD_HEADER_BYTES + 4);
      disk.setContents(path, bytes);
      const { recovered, logger } = await open(disk);
      expect(shape(recovered.entries)).toBe(shape(entries(1, 3, 1)));
      expect(logger.find('torn write')?.fields).toMatchObject({ file: path, offset: lost });
    }
    // The same, but a whole valid save lies after it: that is not a tear, and nothing is cut.
    {
      const { disk, path, dataEnd, batch } = await build(4);
      const bytes = disk.contents(path)!;
      const lost = dataEnd - batch.length;
      batch.copy(bytes, dataEnd + 100);
      bytes.fill(0, lost, lost + RECORD_HEADER_BYTES + 4);
      disk.setContents(path, bytes);
      const error = await open(disk).then(() => undefined, (thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(StorageCorruptionError);
      expect(error).toMatchObject({ file: path, offsetBytes: lost });
      expect((error as Error).message).toMatch(/a valid record follows/);
    }
    // Zeros over a save in the middle of the data: corruption, never mistaken for the end.
    {
      const { disk, path, dataEnd, batch } = await build(5);
      const bytes = disk.contents(path)!;
      const lost = dataEnd - batch.length;
      batch.copy(bytes, dataEnd); // a later save after the zeroed one
      bytes.fill(0, lost, dataEnd);
      disk.setContents(path, bytes);
      await expect(open(disk)).rejects.toBeInstanceOf(StorageCorruptionError);
    }
  });

  it('on a full disk: stops preallocating, fills what it has, then fails with ENOSPC and keeps every durable save', async () => {
    const disk = new SimDisk(6);
    const { storage, logger } = await open(disk);
    await storage.save({ entries: entries(1, 2, 1), hardState: { term: 1, vote: 1, commit: 1 } });
    const { path, bytes } = lastSegment(disk);
    const preallocated = bytes.length;
    // No room for another step of zeros, and a little room past the file's end.
    disk.capacityBytes = disk.usedBytes() + 500;
    const value = Buffer.alloc(2000, 9);
    let saved = 2;
    let failure: unknown;
    for (let index = 3; index < 100 && failure === undefined; index++) {
      try {
        await storage.save({ entries: [entry(index, 1, value)], hardState: { term: 1, vote: 1, commit: index - 1 } });
        saved = index;
      } catch (error) {
        failure = error;
      }
    }
    expect(failure).toBeInstanceOf(StorageWriteError);
    expect(failure).toMatchObject({ code: 'ENOSPC' });
    expect(logger.find('preallocating WAL space failed')?.level).toBe('warn');
    // The saves used the zeros already there before the disk refused.
    expect(saved).toBeGreaterThan(2 + Math.floor((preallocated - scanSegment(bytes).dataEnd) / 2100) - 2);
    expect(storage.stats()).toMatchObject({ writeFailure: 'ENOSPC', lastIndex: saved });

    disk.capacityBytes = Number.POSITIVE_INFINITY;
    await storage.retry();
    await storage.save({ entries: [entry(saved + 1, 1, value)], hardState: { term: 1, vote: 1, commit: saved } });
    disk.crash();
    disk.reboot();
    const again = await open(disk);
    expect(shape(again.recovered.entries)).toBe(shape(entries(1, saved + 1, 1)));
    expect(again.recovered.hardState).toEqual({ term: 1, vote: 1, commit: saved });
    expect(disk.contents(path)).toBeDefined();
  });

  it('a save past the preallocated end waits for the extension under way, so no zeros land on it', async () => {
    const disk = new SimDisk(8);
    const fs = new SlowZeros(disk.mount());
    const { storage, logger } = await open(disk, { fs });
    expect(fs.held).toBe(1); // opening started the first extension, which the disk holds
    let done = false;
    const saving = storage.save({ entries: [entry(1, 1, Buffer.alloc(5000, 1))], hardState: { term: 1, vote: 1, commit: 0 } }).then(() => {
      done = true;
    });
    for (let k = 0; k < 5; k++) await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    fs.release();
    await saving;
    await storage.close();
    const again = await open(disk);
    expect(shape(again.recovered.entries)).toBe('1:1');
    expect([...logger.problems, ...again.logger.problems]).toEqual([]);
  });

  it('a segment rolls over only after its extension has finished', async () => {
    const disk = new SimDisk(9);
    const fs = new SlowZeros(disk.mount(), 2);
    const segmentSizeBytes = 128 << 10;
    const { storage, logger } = await open(disk, { fs, segmentSizeBytes });
    // Saves of 50 KB and 90 KB in turn: after a 50 KB one an extension starts, and the 90 KB one
    // does not fit in the segment, so it rolls over while the extension is still being written.
    for (let index = 1; index <= 40; index++) {
      const value = Buffer.alloc(index % 2 === 1 ? 50_000 : 90_000, 3);
      await storage.save({ entries: [entry(index, 1, value)], hardState: { term: 1, vote: 1, commit: index - 1 } });
    }
    await storage.close();
    expect(segmentPaths(disk).length).toBeGreaterThanOrEqual(4);
    // Every segment was preallocated; none was closed with an extension still writing.
    for (const path of segmentPaths(disk)) {
      const bytes = disk.contents(path)!;
      expect(bytes.length).toBeGreaterThan(scanSegment(bytes).dataEnd);
    }
    const again = await open(disk, { segmentSizeBytes });
    expect(again.recovered.entries.length).toBe(40);
    expect([...logger.problems, ...again.logger.problems]).toEqual([]);
  });

  it('does not preallocate with fsync off, nor when told not to', async () => {
    for (const options of [{ fsync: 'never' as const }, { preallocate: false }]) {
      const disk = new SimDisk(7);
      const { storage } = await open(disk, options);
      await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 1 } });
      await storage.close();
      const { bytes } = lastSegment(disk);
      expect(bytes.length).toBe(scanSegment(bytes).dataEnd);
    }
  });
});
