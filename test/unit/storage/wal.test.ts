// Proves the write-ahead log's behaviour through openStorage/save/compact on the simulated disk:
// what is saved comes back after a restart; each save costs exactly one fsync however many
// entries it holds (group commit); a conflicting suffix is replaced, within a segment and across
// segments; compaction removes only whole segments entirely at or below the snapshot and never
// the active one; the log reaches back to the snapshot after compaction; and batches that would
// break Raft's invariants (gaps, terms or votes going back) are refused before anything is written.
import { describe, expect, it, vi } from 'vitest';
import type { HardState } from '../../../src/raft/types.js';
import { openStorage, type StorageOptions } from '../../../src/storage/storage.js';
import { SimDisk } from '../../../src/storage/sim-fs.js';
import { scanSegment } from '../../../src/storage/wal-format.js';
import type { StorageFs } from '../../../src/storage/fs.js';
import { RecordingLogger, entries, entry, shape } from './helpers.js';

async function open(disk: SimDisk, options: Partial<StorageOptions> = {}) {
  const logger = new RecordingLogger();
  const opened = await openStorage('/node', { fs: disk.mount(), logger, segmentSizeBytes: 512, ...options });
  return { ...opened, logger };
}

async function restart(disk: SimDisk, options: Partial<StorageOptions> = {}) {
  disk.crash();
  disk.reboot();
  return open(disk, options);
}

const hs = (term: number, vote: number, commit: number): HardState => ({ term, vote, commit });

describe('WAL', () => {
  it('starts empty and brings back entries and hard state after a crash', async () => {
    const disk = new SimDisk(1);
    const { storage, recovered } = await open(disk);
    expect(recovered).toEqual({ hardState: hs(0, 0, 0), snapshot: undefined, entries: [] });
    await storage.save({ entries: entries(1, 3, 1), hardState: hs(1, 2, 1) });
    await storage.save({ entries: [entry(4, 1, new Uint8Array(0), 'noop'), { ...entry(5, 1, ''), kind: 'conf', change: { type: 'addLearner', nodeId: 4, context: Buffer.from('h:1') } }] });
    const again = await restart(disk);
    expect(again.recovered.hardState).toEqual(hs(1, 2, 1));
    expect(shape(again.recovered.entries)).toBe('1:1 2:1 3:1 4:1 5:1');
    expect(again.recovered.entries[3]!.kind).toBe('noop');
    expect(again.recovered.entries[4]!.change).toEqual({ type: 'addLearner', nodeId: 4, context: Buffer.from('h:1') });
    expect(again.logger.problems).toEqual([]);
  });

  it('makes each save durable with exactly one fsync, whatever its size', async () => {
    const disk = new SimDisk(2);
    const { storage } = await open(disk, { segmentSizeBytes: 1 << 20 });
    let next = 1;
    for (const count of [1, 16, 128]) {
      const before = disk.syncCount;
      const statsBefore = storage.stats().fsyncCount;
      await storage.save({ entries: entries(next, next + count - 1, 1), hardState: hs(1, 1, next) });
      next += count;
      expect(disk.syncCount - before).toBe(1);
      expect(storage.stats().fsyncCount - statsBefore).toBe(1);
    }
    // Nothing new to persist (a Ready with only messages, or the same hard state): no fsync.
    const before = disk.syncCount;
    await storage.save({ entries: [] });
    await storage.save({ entries: [], hardState: storage.hardState });
    expect(disk.syncCount).toBe(before);
    const stats = storage.stats();
    expect(stats.lastIndex).toBe(145);
    expect(stats.segmentCount).toBe(1);
    expect(stats.logSizeBytes).toBe(scanSegment(disk.contents(`/node/wal/${disk.list('/node/wal')[0]}`)!).dataEnd);
  });

  it('rolls over to a new segment named by seq and first index, keeping segments near the size bound', async () => {
    const disk = new SimDisk(3);
    const { storage } = await open(disk, { segmentSizeBytes: 400 });
    for (let index = 1; index <= 40; index++) await storage.save({ entries: [entry(index, 1)], hardState: hs(1, 1, index - 1) });
    const names = disk.list('/node/wal');
    expect(names.length).toBeGreaterThan(3);
    names.forEach((name, k) => expect(name.startsWith((k + 1).toString(16).padStart(16, '0'))).toBe(true));
    for (const name of names.slice(0, -1)) expect(disk.contents(`/node/wal/${name}`)!.length).toBeLessThanOrEqual(400);
    // A batch larger than a whole segment still goes in, alone in an oversized segment.
    await storage.save({ entries: entries(41, 80, 1) });
    const again = await restart(disk, { segmentSizeBytes: 400 });
    expect(again.recovered.entries.length).toBe(80);
    expect(again.recovered.hardState).toEqual(hs(1, 1, 39));
  });

  it('replaces a conflicting suffix inside the active segment', async () => {
    const disk = new SimDisk(4);
    const { storage } = await open(disk, { segmentSizeBytes: 1 << 20 });
    await storage.save({ entries: entries(1, 10, 1), hardState: hs(1, 1, 3) });
    await storage.save({ entries: entries(6, 7, 2), hardState: hs(2, 0, 3) });
    expect(storage.lastIndex).toBe(7);
    const again = await restart(disk);
    expect(shape(again.recovered.entries)).toBe('1:1 2:1 3:1 4:1 5:1 6:2 7:2');
    await again.storage.save({ entries: entries(8, 9, 2) });
    const third = await restart(disk);
    expect(shape(third.recovered.entries)).toBe('1:1 2:1 3:1 4:1 5:1 6:2 7:2 8:2 9:2');
  });

  it('replaces a conflicting suffix that spans earlier segments', async () => {
    const disk = new SimDisk(5);
    const { storage } = await open(disk, { segmentSizeBytes: 300 });
    for (let index = 1; index <= 30; index++) await storage.save({ entries: [entry(index, 1)] });
    const namesBefore = disk.list('/node/wal');
    const segmentsBefore = namesBefore.length;
    expect(segmentsBefore).toBeGreaterThan(4);
    await storage.save({ entries: entries(4, 6, 3), hardState: hs(3, 2, 3) });
    const again = await restart(disk, { segmentSizeBytes: 300 });
    expect(shape(again.recovered.entries)).toBe('1:1 2:1 3:1 4:3 5:3 6:3');
    expect(again.recovered.hardState).toEqual(hs(3, 2, 3));
  });

  it('compacts only whole segments at or below the snapshot, never the active one', async () => {
    const disk = new SimDisk(6);
    const { storage } = await open(disk, { segmentSizeBytes: 300 });
    for (let index = 1; index <= 30; index++) await storage.save({ entries: [entry(index, 1)], hardState: hs(1, 1, index) });
    // Which segment holds which index, read back from the files themselves.
    const holding = (): Map<string, number[]> => {
      const map = new Map<string, number[]>();
      for (const name of disk.list('/node/wal')) {
        const text = disk.contents(`/node/wal/${name}`)!.toString('latin1');
        map.set(name, [...text.matchAll(/v(\d+)/g)].map((m) => Number(m[1])));
      }
      return map;
    };
    const before = holding();
    const writer = await storage.createSnapshot({ index: 17, term: 1, confState: { voters: [1], learners: [], removed: [] } });
    await writer.write(Buffer.from('image at 17'));
    await writer.finish();
    const removed = await storage.compact(17);
    const after = holding();
    expect(removed).toBe(before.size - after.size);
    expect(removed).toBeGreaterThan(0);
    // Exactly the longest run of oldest segments holding nothing above 17, never the active one.
    const names = [...before.keys()];
    let expectedRemoved = 0;
    while (expectedRemoved < names.length - 1 && before.get(names[expectedRemoved]!)!.every((index) => index <= 17)) expectedRemoved += 1;
    expect(expectedRemoved).toBeGreaterThan(0);
    expect([...after.keys()]).toEqual(names.slice(expectedRemoved));
    // The segment holding 18 survives, and so the log still reaches back to the snapshot.
    expect([...after.values()].some((indexes) => indexes.includes(18))).toBe(true);
    await expect(storage.compact(18)).rejects.toThrow(/above the newest snapshot/);
    const again = await restart(disk, { segmentSizeBytes: 300 });
    expect(again.recovered.snapshot?.meta.index).toBe(17);
    expect(shape(again.recovered.entries)).toBe(shape(entries(18, 30, 1)));
    expect(again.recovered.hardState).toEqual(hs(1, 1, 30));
  });

  it('lets saves go on while a compaction deletes its segments, and recovers as before if it crashes first', async () => {
    const disk = new SimDisk(16);
    const fs = disk.mount();
    // Unlinks wait until released, as a file system deleting a GB of segments makes them wait.
    let release: () => void = () => undefined;
    const unlinksHeld = new Promise<void>((resolve) => { release = resolve; });
    let unlinksStarted = 0;
    const slowUnlinks: StorageFs = {
      mkdir: (dir) => fs.mkdir(dir),
      open: (path, mode) => fs.open(path, mode),
      readdir: (dir) => fs.readdir(dir),
      rename: (from, to) => fs.rename(from, to),
      fsyncDir: (dir) => fs.fsyncDir(dir),
      unlink: async (path) => {
        unlinksStarted++;
        await unlinksHeld;
        return fs.unlink(path);
      },
    };
    const { storage } = await open(disk, { fs: slowUnlinks, segmentSizeBytes: 300 });
    for (let index = 1; index <= 30; index++) await storage.save({ entries: [entry(index, 1)], hardState: hs(1, 1, index) });
    const writer = await storage.createSnapshot({ index: 20, term: 1, confState: { voters: [1], learners: [], removed: [] } });
    await writer.write(Buffer.from('image at 20'));
    await writer.finish();
    const namesBefore = disk.list('/node/wal');
    const segmentsBefore = namesBefore.length;
    const compaction = storage.compact(20);
    await vi.waitFor(() => expect(unlinksStarted).toBe(1));
    // The log no longer counts the detached segments, and a save completes while they wait.
    expect(storage.stats().segmentCount).toBeLessThan(segmentsBefore);
    await storage.save({ entries: [entry(31, 1)], hardState: hs(1, 1, 31) });
    // The detached segments are still on disk, renamed out of the log (`.deleted`) or not yet.
    expect(disk.list('/node/wal').map((name) => name.replace(/\.deleted$/, ''))).toEqual(expect.arrayContaining(namesBefore));
    // A crash now leaves them on disk, and a log that may still reach back past the snapshot:
    // recovery starts from the snapshot and the entries after it, as if the compaction had not
    // begun (it deletes the renamed ones; the next compaction removes the others).
    const crashed = await restart(disk, { segmentSizeBytes: 300 });
    expect(crashed.logger.problems).toEqual([]);
    expect(crashed.recovered.snapshot?.meta.index).toBe(20);
    expect(shape(crashed.recovered.entries)).toBe(shape(entries(21, 31, 1)));
    release();
    await compaction.catch(() => undefined);
  });

  it('shrinks a compacted segment only under its `.deleted` name, so a crash at any step of it recovers the same log', async () => {
    // Segments of about 5 MiB, more than one removeLargeFile step (DELETE_STEP_BYTES), so that
    // compaction shrinks each one before its unlink. Shrunk under its own name, a crash would
    // leave a segment that ends inside a batch before the active one: corruption at the next open.
    const megabyte = (index: number): Buffer => Buffer.alloc(1 << 20, index);
    const options = { segmentSizeBytes: 5.5 * (1 << 20) };
    const build = async (disk: SimDisk, fs?: StorageFs) => {
      const { storage } = await open(disk, { ...options, ...(fs === undefined ? {} : { fs }) });
      for (let index = 1; index <= 11; index++) await storage.save({ entries: [entry(index, 1, megabyte(index))], hardState: hs(1, 1, index) });
      const writer = await storage.createSnapshot({ index: 10, term: 1, confState: { voters: [1], learners: [], removed: [] } });
      await writer.write(Buffer.from('image at 10'));
      await writer.finish();
      return storage;
    };
    const check = async (disk: SimDisk, label: string) => {
      disk.crash();
      disk.reboot();
      const { recovered, logger } = await open(disk, options);
      expect(logger.problems, label).toEqual([]);
      expect(recovered.snapshot?.meta.index, label).toBe(10);
      expect(recovered.entries.map((e) => e.index).at(-1), label).toBe(11);
      expect(Buffer.from(recovered.entries.at(-1)!.data).equals(megabyte(11)), label).toBe(true);
      expect(disk.list('/node/wal').filter((name) => name.endsWith('.deleted')), label).toEqual([]);
    };

    // Once through, recording the compaction's disk operations.
    const disk = new SimDisk(11);
    const recorded: string[] = [];
    const fs = disk.mount();
    const recording: StorageFs = {
      mkdir: (dir) => fs.mkdir(dir),
      readdir: (dir) => fs.readdir(dir),
      rename: async (from, to) => { recorded.push(`rename ${from.split('/').pop()} ${to.split('/').pop()}`); await fs.rename(from, to); },
      unlink: async (path) => { recorded.push(`unlink ${path.split('/').pop()}`); await fs.unlink(path); },
      fsyncDir: async (dir) => { recorded.push(`fsyncDir ${dir.split('/').pop()}`); await fs.fsyncDir(dir); },
      open: async (path, mode) => {
        const file = await fs.open(path, mode);
        return Object.assign(Object.create(Object.getPrototypeOf(file) as object) as typeof file, file, {
          truncate: async (size: number) => { recorded.push(`truncate ${path.split('/').pop()}`); await file.truncate(size); },
        });
      },
    };
    const storage = await build(disk, recording);
    recorded.length = 0;
    expect(await storage.compact(10)).toBe(2);
    const walOps = recorded.filter((op) => !op.includes('snap'));
    const [first, second] = walOps.filter((op) => op.startsWith('rename')).map((op) => op.split(' ')[1]!);
    expect(walOps).toEqual([
      `rename ${first} ${first}.deleted`, `rename ${second} ${second}.deleted`, 'fsyncDir wal',
      `truncate ${first}.deleted`, `unlink ${first}.deleted`, `truncate ${second}.deleted`, `unlink ${second}.deleted`, 'fsyncDir wal',
    ]);
    await check(disk, 'after the whole compaction');

    // Then a crash after each of its disk operations (and before the first).
    for (let ops = 0; ops < walOps.length; ops++) {
      const crashing = new SimDisk(ops);
      const compacting = await build(crashing);
      crashing.crashAfterOps(ops);
      await compacting.compact(10).catch(() => undefined);
      await check(crashing, `a crash after ${ops} of the compaction's operations`);
    }
  });

  it('keeps the newest hard state after compacting every segment but the active one', async () => {
    const disk = new SimDisk(7);
    const { storage } = await open(disk, { segmentSizeBytes: 300 });
    for (let index = 1; index <= 20; index++) await storage.save({ entries: [entry(index, 1)], hardState: hs(1, 1, index) });
    await storage.save({ entries: [], hardState: hs(4, 3, 20) });
    const writer = await storage.createSnapshot({ index: 20, term: 1, confState: { voters: [1], learners: [], removed: [] } });
    await writer.finish();
    await storage.compact(20);
    expect(storage.stats().segmentCount).toBe(1);
    const again = await restart(disk, { segmentSizeBytes: 300 });
    expect(again.recovered.hardState).toEqual(hs(4, 3, 20));
    expect(again.recovered.entries).toEqual([]);
    await again.storage.save({ entries: [entry(21, 4)] });
    expect(shape((await restart(disk, { segmentSizeBytes: 300 })).recovered.entries)).toBe('21:4');
  });

  it('keeps a hard state written only in a segment that compaction removed (each segment opens with a copy)', async () => {
    const disk = new SimDisk(10);
    const { storage } = await open(disk, { segmentSizeBytes: 300 });
    await storage.save({ entries: entries(1, 2, 5), hardState: hs(5, 2, 2) });
    // Entries only from here: the hard state is not written again by save().
    for (let index = 3; index <= 30; index++) await storage.save({ entries: [entry(index, 5)] });
    const writer = await storage.createSnapshot({ index: 28, term: 5, confState: { voters: [1], learners: [], removed: [] } });
    await writer.finish();
    expect(await storage.compact(28)).toBeGreaterThan(2);
    const holding = disk.list('/node/wal').map((name) => disk.contents(`/node/wal/${name}`)!.toString('latin1'));
    expect(holding.some((text) => text.includes('v1'))).toBe(false); // the segment that had it is gone
    const again = await restart(disk, { segmentSizeBytes: 300 });
    expect(again.recovered.hardState).toEqual(hs(5, 2, 28));
    expect(shape(again.recovered.entries)).toBe('29:5 30:5');
  });

  it('removes segments an interrupted compaction left before a hole, when the snapshot covers them', async () => {
    const disk = new SimDisk(11);
    const { storage } = await open(disk, { segmentSizeBytes: 300 });
    for (let index = 1; index <= 30; index++) await storage.save({ entries: [entry(index, 1)], hardState: hs(1, 1, index) });
    const writer = await storage.createSnapshot({ index: 20, term: 1, confState: { voters: [1], learners: [], removed: [] } });
    await writer.finish();
    // A crash during compact(20) whose unlinks reached the disk out of order: the second segment
    // is gone, the first is still there.
    const names = disk.list('/node/wal');
    const fs = disk.mount();
    await fs.unlink(`/node/wal/${names[1]}`);
    await fs.fsyncDir('/node/wal');
    const again = await restart(disk, { segmentSizeBytes: 300 });
    expect(again.logger.find('interrupted compaction')?.fields).toEqual({ files: [`/node/wal/${names[0]}`] });
    expect(disk.list('/node/wal')).toEqual(names.slice(2));
    expect(shape(again.recovered.entries)).toBe(shape(entries(21, 30, 1)));
    expect(again.logger.problems).toEqual([]);
  });

  it.each([
    ['a gap after the last index', { entries: [entry(5, 1)] }, /gap/],
    ['entries out of order', { entries: [entry(3, 1), entry(5, 1)] }, /follows/],
    ['a term going back at the end of the log', { entries: [entry(3, 0)] }, /below the last term/],
    ['a hard state term going back', { entries: [], hardState: hs(0, 0, 0) }, /goes back/],
    ['a second vote in the same term', { entries: [], hardState: hs(1, 9, 1) }, /vote changes/],
    ['a commit beyond the log', { entries: [], hardState: hs(1, 1, 3) }, /beyond the last index/],
  ])('refuses %s before writing anything', async (_name, batch, message) => {
    const disk = new SimDisk(8);
    const { storage } = await open(disk);
    await storage.save({ entries: entries(1, 2, 1), hardState: hs(1, 1, 1) });
    const size = storage.stats().logSizeBytes;
    await expect(storage.save(batch)).rejects.toThrow(message);
    expect(storage.stats().logSizeBytes).toBe(size);
    expect(storage.failure).toBeUndefined();
    await storage.save({ entries: [entry(3, 1)] });
  });

  it("with fsync 'never' writes without syncing and says it is unsafe", async () => {
    const disk = new SimDisk(9);
    const { storage, logger } = await open(disk, { fsync: 'never' });
    const before = disk.syncCount;
    await storage.save({ entries: entries(1, 5, 1), hardState: hs(1, 1, 2) });
    expect(disk.syncCount).toBe(before);
    expect(logger.find('unsafe')?.level).toBe('warn');
  });
});
