// Proves what storage does when the disk refuses a write: the save rejects with a typed
// StorageWriteError carrying the OS code; every later save is refused until retry() succeeds;
// what was durable before is never damaged (checked byte for byte and across a crash); and once
// space is back (or the disk stops failing) retry() restores the tail and the same batch can be
// saved again. Covered: a full disk mid-append (a partial write), a full disk while creating a
// new segment, EIO on fsync (where Linux forgets the dirty pages), EIO on write, a retry that
// itself fails, and a failing snapshot writer, which must not disturb the log.
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/raft/types.js';
import { StorageWriteError } from '../../../src/storage/errors.js';
import { SimDisk } from '../../../src/storage/sim-fs.js';
import { openStorage, type StorageOptions } from '../../../src/storage/storage.js';
import { RecordingLogger, entries, entry, shape } from './helpers.js';

async function open(disk: SimDisk, options: Partial<StorageOptions> = {}) {
  const logger = new RecordingLogger();
  const opened = await openStorage('/node', { fs: disk.mount(), logger, segmentSizeBytes: 4096, ...options });
  return { ...opened, logger };
}

async function crashAndOpen(disk: SimDisk, options: Partial<StorageOptions> = {}) {
  disk.crash();
  disk.reboot();
  return open(disk, options);
}

function big(first: number, count: number, term: number): Entry[] {
  return entries(first, first + count - 1, term).map((e) => ({ ...e, data: Buffer.alloc(100, e.index) }));
}

const segmentPaths = (disk: SimDisk): string[] => disk.list('/node/wal').map((name) => `/node/wal/${name}`);

async function expectWriteError(promise: Promise<unknown>, code: string): Promise<StorageWriteError> {
  const error = await promise.then(() => undefined, (thrown: unknown) => thrown);
  expect(error).toBeInstanceOf(StorageWriteError);
  expect((error as StorageWriteError).code).toBe(code);
  return error as StorageWriteError;
}

describe('write faults', () => {
  it('on a full disk: rejects with ENOSPC, keeps durable bytes intact, refuses writes, recovers once space is back', async () => {
    const disk = new SimDisk(1);
    // Preallocation off: the capacity below is counted from the data's end (wal-preallocate.test.ts
    // fills a disk with preallocation on).
    const { storage, logger } = await open(disk, { segmentSizeBytes: 1 << 20, preallocate: false });
    await storage.save({ entries: big(1, 5, 1), hardState: { term: 1, vote: 1, commit: 3 } });
    const [segment] = segmentPaths(disk);
    const durable = disk.contents(segment!)!;

    disk.capacityBytes = disk.usedBytes() + 300; // room for part of the next batch only
    const batch = { entries: big(6, 10, 1), hardState: { term: 1, vote: 1, commit: 5 } };
    await expectWriteError(storage.save(batch), 'ENOSPC');
    expect(disk.contents(segment!)!.length).toBeGreaterThan(durable.length); // a partial batch is on disk...
    expect(disk.contents(segment!)!.subarray(0, durable.length).equals(durable)).toBe(true); // ...after intact data
    expect(storage.failure?.code).toBe('ENOSPC');
    expect(storage.stats()).toMatchObject({ writeFailure: 'ENOSPC', writeFailures: 1, lastIndex: 5 });
    expect(logger.find('refusing writes until retry')?.level).toBe('error');

    // Refused while failed, even a batch that would fit.
    const refused = await expectWriteError(storage.save({ entries: [entry(6, 1)] }), 'ENOSPC');
    expect(refused.message).toMatch(/refused/);

    // Retrying while the disk is still full cuts the partial batch; the batch fails again.
    await storage.retry();
    expect(disk.contents(segment!)!.equals(durable)).toBe(true);
    await expectWriteError(storage.save(batch), 'ENOSPC');

    // Space is back: retry, save the same batch again, and it is all there after a crash.
    disk.capacityBytes = Number.POSITIVE_INFINITY;
    await storage.retry();
    expect(storage.failure).toBeUndefined();
    await storage.save(batch);
    expect(storage.stats().writeFailure).toBeUndefined();
    const again = await crashAndOpen(disk, { segmentSizeBytes: 1 << 20 });
    expect(shape(again.recovered.entries)).toBe(shape(entries(1, 15, 1)));
    expect(again.recovered.hardState).toEqual({ term: 1, vote: 1, commit: 5 });
    expect(again.logger.problems).toEqual([]);
  });

  it('a crash while failed keeps every durable save and drops the partial batch as a torn tail', async () => {
    const disk = new SimDisk(2);
    // Preallocation off: the capacity below is counted from the data's end (wal-preallocate.test.ts
    // fills a disk with preallocation on).
    const { storage } = await open(disk, { segmentSizeBytes: 1 << 20, preallocate: false });
    await storage.save({ entries: big(1, 5, 1), hardState: { term: 1, vote: 1, commit: 3 } });
    disk.capacityBytes = disk.usedBytes() + 300;
    await expectWriteError(storage.save({ entries: big(6, 10, 1) }), 'ENOSPC');
    disk.capacityBytes = Number.POSITIVE_INFINITY;
    const again = await crashAndOpen(disk, { segmentSizeBytes: 1 << 20 });
    expect(shape(again.recovered.entries)).toBe(shape(entries(1, 5, 1)));
    expect(again.recovered.hardState).toEqual({ term: 1, vote: 1, commit: 3 });
  });

  it('on a full disk while creating a new segment: removes the half-made segment on retry and carries on', async () => {
    const disk = new SimDisk(3);
    const { storage } = await open(disk, { segmentSizeBytes: 700 });
    await storage.save({ entries: big(1, 4, 1), hardState: { term: 1, vote: 1, commit: 2 } });
    expect(segmentPaths(disk)).toHaveLength(1);
    disk.capacityBytes = disk.usedBytes() + 20; // the next batch needs a new segment; its opening batch does not fit
    const batch = { entries: big(5, 4, 1), hardState: { term: 1, vote: 1, commit: 4 } };
    const error = await expectWriteError(storage.save(batch), 'ENOSPC');
    expect(error.operation).toBe('create segment');
    expect(segmentPaths(disk)).toHaveLength(2); // the half-made one
    disk.capacityBytes = Number.POSITIVE_INFINITY;
    await storage.retry();
    expect(segmentPaths(disk)).toHaveLength(1);
    await storage.save(batch);
    expect(segmentPaths(disk)).toHaveLength(2);
    const again = await crashAndOpen(disk, { segmentSizeBytes: 700 });
    expect(shape(again.recovered.entries)).toBe(shape(entries(1, 8, 1)));
    expect(again.recovered.hardState).toEqual({ term: 1, vote: 1, commit: 4 });
  });

  it('on EIO from fsync: the batch is not durable even if a later fsync succeeds, until retry and a new save', async () => {
    const disk = new SimDisk(4);
    const { storage } = await open(disk);
    await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 1 } });
    disk.injectFault({ op: 'sync', code: 'EIO', pathIncludes: '/wal/' });
    const batch = { entries: entries(4, 6, 1), hardState: { term: 1, vote: 1, commit: 3 } };
    await expectWriteError(storage.save(batch), 'EIO');
    await storage.retry();
    await storage.save(batch);
    const again = await crashAndOpen(disk);
    expect(shape(again.recovered.entries)).toBe(shape(entries(1, 6, 1)));
    expect(again.recovered.hardState).toEqual({ term: 1, vote: 1, commit: 3 });
  });

  it('on EIO from fsync with no retry: a crash loses only the failed batch', async () => {
    const disk = new SimDisk(5);
    const { storage } = await open(disk);
    await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 1 } });
    disk.injectFault({ op: 'sync', code: 'EIO', pathIncludes: '/wal/' });
    await expectWriteError(storage.save({ entries: entries(4, 6, 1) }), 'EIO');
    // The failed batch is still readable in the page cache, but the disk will never have it.
    const again = await crashAndOpen(disk);
    expect(shape(again.recovered.entries)).toBe('1:1 2:1 3:1');
  });

  it('stays failed while retry itself fails, and recovers when the disk does', async () => {
    const disk = new SimDisk(6);
    const { storage } = await open(disk);
    await storage.save({ entries: entries(1, 2, 1) });
    disk.injectFault({ op: 'write', code: 'EIO', pathIncludes: '/wal/' });
    await expectWriteError(storage.save({ entries: entries(3, 4, 1) }), 'EIO');
    disk.injectFault({ op: 'truncate', code: 'EIO', pathIncludes: '/wal/', count: 2 });
    await expectWriteError(storage.retry(), 'EIO');
    await expectWriteError(storage.retry(), 'EIO');
    expect(storage.failure?.code).toBe('EIO');
    await expectWriteError(storage.save({ entries: entries(3, 4, 1) }), 'EIO');
    await storage.retry();
    await storage.save({ entries: entries(3, 4, 1) });
    expect(shape((await crashAndOpen(disk)).recovered.entries)).toBe('1:1 2:1 3:1 4:1');
  });

  it('a failing snapshot writer leaves the log and the previous snapshot alone', async () => {
    const disk = new SimDisk(7);
    const { storage } = await open(disk);
    await storage.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 1, commit: 10 } });
    const conf = { voters: [1], learners: [], removed: [] };
    const first = await storage.createSnapshot({ index: 5, term: 1, confState: conf });
    await first.write(Buffer.from('image at 5'));
    await first.finish();
    disk.injectFault({ op: 'write', code: 'ENOSPC', pathIncludes: '/snap/' });
    const second = await storage.createSnapshot({ index: 10, term: 1, confState: conf });
    await expectWriteError(second.write(Buffer.alloc(5000)), 'ENOSPC');
    await expect(second.finish()).rejects.toThrow(/cannot finish when failed/);
    await second.abort();
    expect(disk.list('/node/snap')).toEqual(['0000000000000005-0000000000000001.snap']);
    expect(storage.failure).toBeUndefined();
    await storage.save({ entries: [entry(11, 1)] });
    const again = await crashAndOpen(disk);
    expect(again.recovered.snapshot?.meta.index).toBe(5);
    expect(shape(again.recovered.entries)).toBe(shape(entries(6, 11, 1)));
  });
});
