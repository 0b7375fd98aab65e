// WAL format version 2: a save is one batch record, whose single checksum covers the entries,
// the hard state and the batch end inside it. Checks the layout on a real disk, that version 1
// segments (a checksum per record) are still read and never appended to, and that a batch record
// is never taken for a torn write when its checksum matches but its inside is malformed, or when
// it sits in a segment of version 1.
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Entry, HardState } from '../../../src/raft/types.js';
import { StorageCorruptionError } from '../../../src/storage/errors.js';
import { SimDisk } from '../../../src/storage/sim-fs.js';
import { openStorage } from '../../../src/storage/storage.js';
import {
  RECORD_HEADER_BYTES, RecordType, WAL_FORMAT_VERSION, decodeSegmentHeader, isFailure, readRecordAt, scanRecords, sealBatchRecord, segmentName,
  writeEntryRecord, writeHardStateRecord, writeIndexTermRecord, writeSegmentHeaderRecord, type Framing,
} from '../../../src/storage/wal-format.js';
import { RecordingLogger, entries, entry, shape } from './helpers.js';

let dir: string;
let opened: { close(): Promise<void> }[] = [];
const walDir = (): string => join(dir, 'wal');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raftis-wal-v2-'));
});
afterEach(async () => {
  for (const storage of opened) await storage.close();
  opened = [];
  await rm(dir, { recursive: true, force: true });
});

// These tests lay out a segment's bytes by hand and measure the file, so the WAL does not
// preallocate here; wal-preallocate.test.ts covers the preallocated segment.
async function open() {
  const logger = new RecordingLogger();
  const result = await openStorage(dir, { logger, preallocate: false });
  opened.push(result.storage);
  return { ...result, logger };
}

async function openError(): Promise<StorageCorruptionError> {
  const thrown = await open().then(() => undefined, (error: unknown) => error);
  expect(thrown).toBeInstanceOf(StorageCorruptionError);
  return thrown as StorageCorruptionError;
}

/** A segment's opening batch, in the given format version: header and batch end, as records. */
function opening(formatVersion: number, seq: number, firstIndex: number): Buffer {
  const buffer = Buffer.alloc(256);
  let at = writeSegmentHeaderRecord(buffer, 0, { formatVersion, seq, firstIndex, prevTerm: 0 });
  at = writeIndexTermRecord(buffer, at, RecordType.batchEnd, { index: firstIndex - 1, term: 0 });
  return buffer.subarray(0, at);
}

/** One save's records (entries, hard state, batch end) with the given framing. */
function saveRecords(list: readonly Entry[], hardState: HardState, framing: Framing, at: number, buffer: Buffer): number {
  for (const item of list) at = writeEntryRecord(buffer, at, item, framing);
  at = writeHardStateRecord(buffer, at, hardState, framing);
  const last = list.at(-1)!;
  return writeIndexTermRecord(buffer, at, RecordType.batchEnd, { index: last.index, term: last.term }, framing);
}

/** A save as version 1 wrote it: a checksummed record each. */
function v1Save(list: readonly Entry[], hardState: HardState): Buffer {
  const buffer = Buffer.alloc(4096);
  return buffer.subarray(0, saveRecords(list, hardState, 'record', 0, buffer));
}

/** A save as one batch record (version 2). */
function batchSave(list: readonly Entry[], hardState: HardState): Buffer {
  const buffer = Buffer.alloc(4096);
  const end = saveRecords(list, hardState, 'inner', RECORD_HEADER_BYTES, buffer);
  return buffer.subarray(0, sealBatchRecord(buffer, 0, end));
}

async function onlySegment(): Promise<string> {
  const names = (await readdir(walDir())).sort();
  expect(names).toHaveLength(1);
  return join(walDir(), names[0]!);
}

describe('WAL batch records (format version 2)', () => {
  it('writes a save as one batch record whose inner records the scanner hands out', async () => {
    const { storage } = await open();
    await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 2, commit: 1 } });
    await storage.close();
    const bytes = await readFile(await onlySegment());
    const scan = scanRecords(bytes);
    expect(scan.failure).toBeUndefined();
    expect(decodeSegmentHeader(scan.records[0]!.payload).formatVersion).toBe(WAL_FORMAT_VERSION);
    const openingEnd = scan.records.find((record) => record.type === RecordType.batchEnd)!.end;
    const outer = readRecordAt(bytes, openingEnd);
    expect(isFailure(outer) ? outer.reason : outer.type).toBe(RecordType.batch);
    const inner = scan.records.filter((record) => record.unit === openingEnd);
    expect(inner.map((record) => record.type)).toEqual([RecordType.entry, RecordType.entry, RecordType.entry, RecordType.hardState, RecordType.batchEnd]);
    expect(inner.at(-1)!.end).toBe(bytes.length);
    // One checksum for the save: a byte flipped in the first entry fails the whole batch record.
    bytes[inner[0]!.offset + 7]! ^= 0x01;
    expect(scanRecords(bytes).failure).toMatchObject({ offset: openingEnd, kind: 'checksum' });
  });

  it('reads a version 1 segment and appends after it in a new segment of the current version', async () => {
    await mkdir(walDir(), { recursive: true });
    const v1 = join(walDir(), segmentName(1, 1));
    await writeFile(v1, Buffer.concat([
      opening(1, 1, 1), v1Save(entries(1, 3, 1), { term: 1, vote: 1, commit: 2 }), v1Save(entries(4, 6, 1), { term: 1, vote: 1, commit: 5 }),
    ]));
    const before = await readFile(v1);
    const first = await open();
    expect(shape(first.recovered.entries)).toBe(shape(entries(1, 6, 1)));
    expect(first.recovered.hardState).toEqual({ term: 1, vote: 1, commit: 5 });
    expect(first.logger.problems).toEqual([]);
    await first.storage.save({ entries: entries(7, 9, 1), hardState: { term: 1, vote: 1, commit: 8 } });
    await first.storage.close();

    // The version 1 segment is left as it was; the save went to a new segment.
    expect((await readFile(v1)).equals(before)).toBe(true);
    const names = (await readdir(walDir())).sort();
    expect(names).toEqual([segmentName(1, 1), segmentName(2, 7)]);
    const second = scanRecords(await readFile(join(walDir(), names[1]!)));
    expect(decodeSegmentHeader(second.records[0]!.payload).formatVersion).toBe(WAL_FORMAT_VERSION);
    expect(second.records.some((record) => record.unit !== record.offset)).toBe(true);

    const again = await open();
    expect(shape(again.recovered.entries)).toBe(shape(entries(1, 9, 1)));
    expect(again.recovered.hardState).toEqual({ term: 1, vote: 1, commit: 8 });
    expect(again.logger.problems).toEqual([]);
  });

  it('refuses a batch record in a segment of version 1', async () => {
    await mkdir(walDir(), { recursive: true });
    const path = join(walDir(), segmentName(1, 1));
    const head = opening(1, 1, 1);
    await writeFile(path, Buffer.concat([head, batchSave(entries(1, 3, 1), { term: 1, vote: 1, commit: 2 })]));
    const error = await openError();
    expect(error).toMatchObject({ file: path, offsetBytes: head.length });
    expect(error.reason).toMatch(/a batch record in a segment of format version 1/);
  });

  it('refuses a format version it does not know', async () => {
    await mkdir(walDir(), { recursive: true });
    await writeFile(join(walDir(), segmentName(1, 1)), opening(WAL_FORMAT_VERSION + 1, 1, 1));
    expect((await openError()).reason).toMatch(new RegExp(`unsupported WAL format version ${WAL_FORMAT_VERSION + 1}`));
  });

  describe('a batch record whose checksum matches but whose inside is malformed is corruption, even at the end of the last segment', () => {
    /** Appends to the only segment a batch record holding `inner` (inner-framed records), sealed. */
    async function appendBatch(inner: (buffer: Buffer, at: number) => number): Promise<{ path: string; offset: number }> {
      const { storage } = await open();
      await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 2 } });
      await storage.close();
      opened = [];
      const path = await onlySegment();
      const offset = (await readFile(path)).length;
      const buffer = Buffer.alloc(4096);
      const end = inner(buffer, RECORD_HEADER_BYTES);
      await appendFile(path, buffer.subarray(0, sealBatchRecord(buffer, 0, end)));
      return { path, offset };
    }

    it('with no batch end', async () => {
      const { path, offset } = await appendBatch((buffer, at) => writeEntryRecord(buffer, at, entries(4, 4, 1)[0]!, 'inner'));
      const error = await openError();
      expect(error).toMatchObject({ file: path, offsetBytes: offset });
      expect(error.reason).toMatch(/malformed batch record: it does not end with a batch end/);
    });

    it('with a batch end before its last record', async () => {
      const { path, offset } = await appendBatch((buffer, at) => {
        const end = writeIndexTermRecord(buffer, at, RecordType.batchEnd, { index: 3, term: 1 }, 'inner');
        return writeEntryRecord(buffer, end, entries(4, 4, 1)[0]!, 'inner');
      });
      const error = await openError();
      expect(error).toMatchObject({ file: path, offsetBytes: offset });
      expect(error.reason).toMatch(/malformed batch record: a batch end at byte \d+ before the last record/);
    });

    it('with an inner record running past the batch', async () => {
      const { path, offset } = await appendBatch((buffer, at) => {
        const end = saveRecords(entries(4, 4, 1), { term: 1, vote: 1, commit: 3 }, 'inner', at, buffer);
        buffer.writeUInt32BE(buffer.readUInt32BE(at) + 1000, at);
        return end;
      });
      const error = await openError();
      expect(error).toMatchObject({ file: path, offsetBytes: offset });
      expect(error.reason).toMatch(/malformed batch record: the record at byte \d+ runs past the batch/);
    });

    it('holding a record type a batch cannot hold', async () => {
      const { path, offset } = await appendBatch((buffer, at) => {
        const end = writeSegmentHeaderRecord(buffer, at, { formatVersion: WAL_FORMAT_VERSION, seq: 1, firstIndex: 1, prevTerm: 0 });
        // Reframe that header as an inner record: length then type, the payload right after.
        const payload = Buffer.from(buffer.subarray(at + RECORD_HEADER_BYTES, end));
        buffer.writeUInt32BE(payload.length, at);
        buffer[at + 4] = RecordType.segmentHeader;
        payload.copy(buffer, at + 5);
        return writeIndexTermRecord(buffer, at + 5 + payload.length, RecordType.batchEnd, { index: 3, term: 1 }, 'inner');
      });
      const error = await openError();
      expect(error).toMatchObject({ file: path, offsetBytes: offset });
      expect(error.reason).toMatch(new RegExp(`malformed batch record: record type ${RecordType.segmentHeader} at byte \\d+`));
    });

    it('of a type a batch cannot hold, handing out none of the records before it', () => {
      // Found in review: the records before the bad one were handed out, so --repair-wal counted
      // them as dropped and could keep a term and vote taken from a batch it called corrupt.
      const buffer = Buffer.alloc(1024);
      const batchAt = opening(WAL_FORMAT_VERSION, 1, 1).copy(buffer, 0);
      let inner = writeHardStateRecord(buffer, batchAt + RECORD_HEADER_BYTES, { term: 5, vote: 3, commit: 0 }, 'inner');
      buffer.writeUInt32BE(0, inner);
      buffer[inner + 4] = 9;
      inner += 5;
      const { records, failure } = scanRecords(buffer.subarray(0, sealBatchRecord(buffer, batchAt, inner)));
      expect(failure).toMatchObject({ offset: batchAt, kind: 'bad-batch' });
      expect(records.map((record) => record.type)).toEqual([RecordType.segmentHeader, RecordType.batchEnd]);
    });

    it('while a torn batch record there is cut with a warning', async () => {
      const { path, offset } = await appendBatch((buffer, at) => saveRecords(entries(4, 5, 1), { term: 1, vote: 1, commit: 4 }, 'inner', at, buffer));
      const bytes = await readFile(path);
      await writeFile(path, bytes.subarray(0, bytes.length - 3));
      const { recovered, logger } = await open();
      expect(shape(recovered.entries)).toBe(shape(entries(1, 3, 1)));
      expect(logger.find('torn write')).toMatchObject({ level: 'warn', fields: { file: path, offset } });
      expect((await readFile(path)).length).toBe(offset);
    });
  });

  it('cuts a torn save of 48 one-MiB entries (a crash before its fsync) instead of refusing to start', async () => {
    // Found in review. The search for a valid record after a bad one ran over the whole torn save,
    // and each entry's inner header looks like a record header of 32 MiB with a known type (bytes
    // 02 00 00 00, then the term's low byte): nine of them used up the 256 MiB budget, and an
    // ordinary crash during a large save was refused as corruption. It now starts past the save's
    // well-formed inner records, and the warning counts what they held.
    const value = Buffer.alloc(1 << 20, 0x61);
    for (let seed = 1; seed < 100; seed++) {
      const disk = new SimDisk(seed);
      const { storage } = await openStorage('/node', { fs: disk.mount(), logger: new RecordingLogger(), preallocate: false });
      await storage.save({ entries: [entry(1, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
      const segment = `/node/wal/${disk.list('/node/wal')[0]}`;
      const durableBytes = disk.contents(segment)!.length;
      const big: Entry[] = [];
      for (let index = 2; index <= 49; index++) big.push({ index, term: 1, kind: 'normal', data: value });
      disk.crashAfterOps(1); // the write happens, its fsync does not
      await expect(storage.save({ entries: big })).rejects.toMatchObject({ code: 'ECRASH' });
      const torn = disk.reboot().tornFiles.find((file) => file.path === segment);
      // Torn well past nine entries' worth of 32 MiB candidates, and before the save's last byte.
      if (torn?.tornAtByte === undefined || torn.tornAtByte < 44 << 20 || torn.tornAtByte >= 48 << 20) continue;
      expect(disk.contents(segment)!.length).toBe(durableBytes + torn.tornAtByte);

      const logger = new RecordingLogger();
      const again = await openStorage('/node', { fs: disk.mount(), logger, preallocate: false });
      expect(shape(again.recovered.entries)).toBe(shape([entry(1, 1)]));
      const warning = logger.find('torn write');
      expect(warning).toMatchObject({ level: 'warn', fields: { file: segment, offset: durableBytes } });
      expect((warning!.fields.dropped as { entries: number }).entries).toBeGreaterThanOrEqual(43);
      expect(disk.contents(segment)!.length).toBe(durableBytes);
      await again.storage.close();
      return;
    }
    throw new Error('no seed tore the save late enough');
  }, 60_000);

  it('writes a save too large for one batch record as a record each, and reads both back', async () => {
    // Found in review: the 1 GiB record limit applied to the whole save, so three pipelined SETs
    // of 360 MB failed the write and stopped the node. The limit is lowered here to keep it small.
    const logger = new RecordingLogger();
    const first = await openStorage(dir, { logger, batchRecordMaxBytes: 1000, preallocate: false });
    opened.push(first.storage);
    const large = [1, 2, 3].map((index) => entry(index, 1, Buffer.alloc(600, index)));
    await first.storage.save({ entries: large, hardState: { term: 1, vote: 1, commit: 1 } });
    await first.storage.save({ entries: [entry(4, 1)], hardState: { term: 1, vote: 1, commit: 3 } });
    await first.storage.close();
    opened = [];

    const { records, failure } = scanRecords(await readFile(await onlySegment()));
    expect(failure).toBeUndefined();
    const saves = records.slice(2);
    // The large save: five checksummed records of their own; the small one: one batch record.
    expect(saves.slice(0, 5).map((record) => [record.type, record.unit === record.offset])).toEqual([
      [RecordType.entry, true], [RecordType.entry, true], [RecordType.entry, true], [RecordType.hardState, true], [RecordType.batchEnd, true],
    ]);
    expect(saves.slice(5).map((record) => [record.type, record.unit === record.offset])).toEqual([
      [RecordType.entry, false], [RecordType.hardState, false], [RecordType.batchEnd, false],
    ]);
    const again = await open();
    expect(shape(again.recovered.entries)).toBe(shape([...large, entry(4, 1)]));
    expect(again.recovered.hardState).toEqual({ term: 1, vote: 1, commit: 3 });
    expect(again.logger.problems).toEqual([]);
  });
});
