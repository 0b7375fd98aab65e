// The write-ahead log: appends batches of records to the active segment with one write and one
// fsync each, rolls over to a new segment when the active one is full, removes whole segments
// below a snapshot, and after a write error refuses further appends until retry() has put the
// tail back the way it was when it was last durable.
//
// Invariants (checked where they could break):
// - Every segment ends with a whole batch; `sizeBytes` of the active segment is the end of the
//   last batch that was made durable, and nothing the log reports lies beyond it.
// - The active segment holds the newest hard state (each segment opens with a copy), so
//   compaction, which never removes the active segment, never loses it.
// - In memory, nothing changes until the batch is durable: a failed append leaves the log as it
//   was, and the caller may append the same batch again after retry().
//
// Preallocation: with fsync on, the active segment is extended with zeros ahead of the appends,
// so that an append overwrites blocks the file already has, and its fdatasync flushes only the
// data, not also the inode (or journal entry) for the file's new size. etcd preallocates its WAL
// segments for the same reason. Recovery reads a zero tail after the last record as unused space
// (scanSegment). The extension runs beside the appends but never writes where one does (an append
// that would pass the preallocated end waits for the extension under way), and it never syncs:
// the next append's fdatasync makes the zeros durable with its batch, so every write-back error
// on the file reaches an append's sync (with two syncs in flight, the error could reach the
// other one only, and the append's sync succeed).
import { join } from 'node:path';
import type { Entry, HardState } from '../raft/types.js';
import { StorageCorruptionError, StorageWriteError, toWriteError } from './errors.js';
import { readWholeFile, removeLargeFile, type StorageFile, type StorageFs } from './fs.js';
import type { StorageLogger } from './logger.js';
import { encodedEntrySize } from './entry-codec.js';
import type { SyncStats } from './sync-stats.js';
import {
  DELETED_SEGMENT_SUFFIX, HARD_STATE_PAYLOAD_BYTES, INDEX_TERM_PAYLOAD_BYTES, INNER_HEADER_BYTES, MAX_RECORD_PAYLOAD_BYTES, RECORD_HEADER_BYTES,
  RecordType, SEGMENT_HEADER_PAYLOAD_BYTES, WAL_FORMAT_VERSION, sealBatchRecord, type Framing,
  decodeIndexTerm, parseSegmentName, recordBytes, scanRecords, segmentName, writeEntryRecord,
  writeHardStateRecord, writeIndexTermRecord, writeSegmentHeaderRecord, type IndexTerm,
} from './wal-format.js';
import {
  EMPTY_HARD_STATE, ReplayCorruption, SegmentRuns, readSegmentSummaries, replaySegments, type ReplayedSegment, type SegmentRef,
} from './wal-replay.js';

export interface WalOptions {
  readonly fs: StorageFs;
  readonly dir: string;
  readonly segmentSizeBytes: number;
  /** The largest save written as one batch record (default MAX_RECORD_PAYLOAD_BYTES); tests lower it. */
  readonly batchRecordMaxBytes?: number;
  /** false only for `fsync: 'never'` (unsafe: a crash may lose acknowledged writes). */
  readonly fsync: boolean;
  /** Extend the active segment with zeros ahead of the appends (see the header); only with fsync. */
  readonly preallocate: boolean;
  readonly repair: boolean;
  readonly logger: StorageLogger;
  readonly syncStats: SyncStats;
}

/** One save's worth of records. */
export interface WalBatch {
  /** Restart the log after this snapshot: every entry up to and after it is discarded first. */
  readonly reset?: IndexTerm;
  readonly entries: readonly Entry[];
  readonly hardState?: HardState;
}

/** What open() found, for the storage to check against the snapshot and hand to the core. */
export interface WalRecovery {
  /** The live log, contiguous from `entries[0].index` (which may lie below the snapshot). */
  readonly entries: readonly Entry[];
  readonly hardState: HardState;
  /** Where the durable hard state was read from (for error messages), if there was one. */
  readonly hardStateAt: { readonly file: string; readonly offset: number } | undefined;
  /** The term of the entry at `index`, if the log knows it. */
  termAt(index: number): number | undefined;
}

interface ActiveSegment extends SegmentRef {
  sizeBytes: number;
  readonly baseBytes: number;
  readonly formatVersion: number;
}

/**
 * The active segment is extended by zeros when less than half a step is left: the step doubles
 * from PREALLOCATE_MIN_BYTES with the segment's size, up to PREALLOCATE_MAX_BYTES, so a node that
 * writes little preallocates little.
 */
const PREALLOCATE_MIN_BYTES = 64 << 10;
const PREALLOCATE_MAX_BYTES = 1 << 20;
const PREALLOCATE_ZEROS = Buffer.alloc(PREALLOCATE_MAX_BYTES);

/** Batches up to this size reuse one buffer; larger ones get their own. */
const SCRATCH_KEEP_BYTES = 4 << 20;
const OPENING_BATCH_MAX_BYTES = recordBytes(SEGMENT_HEADER_PAYLOAD_BYTES) + recordBytes(HARD_STATE_PAYLOAD_BYTES) + recordBytes(INDEX_TERM_PAYLOAD_BYTES);

export class Wal {
  private scratch = Buffer.allocUnsafe(64 << 10);
  private failureError: StorageWriteError | undefined;
  /** Write errors since open, for INFO. */
  failureCount = 0;
  /** A segment whose creation failed half way; retry() deletes it. */
  private abandonedSegment: string | undefined;
  /** The active segment file's size: its data, then zeros up to here (see preallocate()). */
  private allocatedBytes = 0;
  /** The extension of the active segment under way, if any. */
  private extension: Promise<void> | undefined;
  /** Set when extending failed: appends extend the segment themselves until the next one. */
  private preallocationOff = false;

  private constructor(
    private readonly options: WalOptions,
    private segments: ActiveSegment[],
    private file: StorageFile,
    private readonly runs: SegmentRuns,
    private lastIndexValue: number,
    private lastTermValue: number,
    private logStartValue: number,
    private hardStateValue: HardState,
  ) {}

  /**
   * Opens the log in `options.dir`, creating it if empty. `snapshot` is the newest valid snapshot:
   * the log must reach back to it (see wal-replay.ts for every rule). Cuts a torn tail, removes
   * what an interrupted compaction left, and under `repair` truncates at the first bad record.
   */
  static async open(options: WalOptions, snapshot: IndexTerm | undefined): Promise<{ wal: Wal; recovery: WalRecovery }> {
    const { fs, dir, logger } = options;
    await fs.mkdir(dir);
    const found: SegmentRef[] = [];
    let deletedLeft = false;
    for (const name of await fs.readdir(dir)) {
      const parsed = parseSegmentName(name);
      if (parsed !== undefined) {
        found.push({ ...parsed, path: join(dir, name) });
      } else if (name.endsWith(DELETED_SEGMENT_SUFFIX) && parseSegmentName(name.slice(0, -DELETED_SEGMENT_SUFFIX.length)) !== undefined) {
        // A compaction renamed it out of the log and was stopped before its unlink (removeSegments).
        logger.info({ file: join(dir, name) }, 'removing a segment that a compaction had begun to delete');
        await fs.unlink(join(dir, name));
        deletedLeft = true;
      } else {
        logger.warn({ file: join(dir, name) }, 'ignoring a file that is not a WAL segment');
      }
    }
    if (deletedLeft && options.fsync) await options.syncStats.syncDir(fs, dir);
    found.sort((a, b) => a.seq - b.seq);
    const snapshotIndex = snapshot?.index ?? 0;
    let segments = found;
    let salvaged: HardState | undefined;

    for (;;) {
      if (segments.length === 0) {
        if (snapshot !== undefined && !options.repair) {
          throw new StorageCorruptionError(dir, 0, `no WAL segment, yet snapshot ${snapshot.index} (term ${snapshot.term}) exists: the hard state (term and vote) is lost`);
        }
        if (snapshot !== undefined) logger.error({ dir, snapshot }, 'repair: the WAL is empty; starting a new one after the snapshot with no hard state');
        // A fresh log starts at seq 1; after a repair, leave a hole in the seq numbers so that any
        // old segment that survives a crash counts as a leftover.
        const seq = found.length === 0 ? 1 : found.at(-1)!.seq + 2;
        const created = await createSegment(options, seq, snapshot ?? { index: 0, term: 0 }, salvaged ?? EMPTY_HARD_STATE);
        await created.file.close();
        segments = [created.segment];
        continue;
      }
      let result;
      try {
        result = await replaySegments(fs, segments, snapshotIndex);
      } catch (error) {
        if (!(error instanceof ReplayCorruption)) throw error;
        if (!options.repair) throw error.error;
        const repaired = await repairCut(options, segments, error, snapshot);
        segments = repaired.segments;
        if (repaired.salvaged !== undefined && (salvaged === undefined || repaired.salvaged.term >= salvaged.term)) salvaged = repaired.salvaged;
        continue;
      }

      const { state, tailCut, leftovers } = result;
      if (tailCut !== undefined) {
        logger.warn({ file: tailCut.path, offset: tailCut.offset, reason: tailCut.reason, dropped: tailCut.dropped }, 'cutting a torn write at the end of the WAL');
        if (tailCut.offset === 0) {
          await fs.unlink(tailCut.path);
        } else {
          const file = await fs.open(tailCut.path, 'readwrite');
          try {
            await file.truncate(tailCut.offset);
            if (options.fsync) await options.syncStats.syncFile(file);
          } finally {
            await file.close();
          }
        }
        if (tailCut.offset === 0 && options.fsync) await options.syncStats.syncDir(fs, dir);
      }
      if (leftovers.length > 0) {
        logger.info({ files: leftovers.map((segment) => segment.path) }, 'removing segments left by an interrupted compaction (all below the snapshot)');
        for (const segment of leftovers) await fs.unlink(segment.path);
        if (options.fsync) await options.syncStats.syncDir(fs, dir);
      }
      if (state === undefined) {
        // The only segment was torn while it was being created.
        segments = [];
        continue;
      }

      const active = result.segments.at(-1)!;
      const file = await fs.open(active.path, 'readwrite');
      const wal = new Wal(
        options,
        result.segments.map((segment: ReplayedSegment) => ({ ...segment })),
        file,
        state.runs,
        state.lastIndex,
        state.lastTerm,
        state.logStart,
        state.hardState,
      );
      wal.allocatedBytes = Math.max(await file.sizeBytes(), active.sizeBytes);
      wal.preallocate();
      let hardState = state.hardState;
      if (salvaged !== undefined && (salvaged.term > hardState.term || (salvaged.term === hardState.term && hardState.vote === 0 && salvaged.vote !== 0))) {
        // Raft §5.1: a term and a vote, once promised, must never be forgotten, even when the log
        // that recorded them had to be cut. The commit index is not a promise: keep ours.
        hardState = { term: salvaged.term, vote: salvaged.vote, commit: Math.min(hardState.commit, state.lastIndex) };
        logger.warn({ from: state.hardState, to: hardState }, 'repair: keeping the term and vote found in the dropped part of the WAL');
        await wal.append({ entries: [], hardState });
      }
      const recovery: WalRecovery = {
        entries: state.entries,
        hardState,
        hardStateAt: state.hardStateAt,
        termAt: (index) => state.termAt(index),
      };
      return { wal, recovery };
    }
  }

  get lastIndex(): number {
    return this.lastIndexValue;
  }

  get lastTerm(): number {
    return this.lastTermValue;
  }

  /** The first index the log still holds (lastIndex + 1 when it holds none). */
  get firstIndex(): number {
    return this.logStartValue;
  }

  get hardState(): HardState {
    return this.hardStateValue;
  }

  get failure(): StorageWriteError | undefined {
    return this.failureError;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
  }

  get segmentPaths(): readonly string[] {
    return this.segments.map((segment) => segment.path);
  }

  /**
   * Appends one batch with one write and (unless fsync is off) one fsync, resolving once it is
   * durable. Entries from `entries[0].index` on replace whatever the log held there.
   */
  async append(batch: WalBatch): Promise<void> {
    const { entries, reset } = batch;
    // A Ready often carries only messages or committed entries, or repeats the hard state: then
    // there is nothing to make durable, and no fsync to pay.
    const hardState = batch.hardState !== undefined && !sameHardState(batch.hardState, this.hardStateValue) ? batch.hardState : undefined;
    if (entries.length === 0 && reset === undefined && hardState === undefined) return;
    this.refuseIfFailed();
    // What the log looks like once the batch is applied; checked before anything is written.
    let lastIndex = reset === undefined ? this.lastIndexValue : reset.index;
    let lastTerm = reset === undefined ? this.lastTermValue : reset.term;
    const first = entries[0];
    if (first !== undefined) {
      if (first.index > lastIndex + 1) throw new Error(`append: entry ${first.index} would leave a gap after index ${lastIndex}`);
      if (reset !== undefined && first.index !== reset.index + 1) throw new Error(`append: entry ${first.index} does not follow the snapshot at ${reset.index}`);
      if (first.index < this.logStartValue && reset === undefined) throw new Error(`append: entry ${first.index} lies below the log's first index ${this.logStartValue}`);
      if (first.index === lastIndex + 1 && first.term < lastTerm) throw new Error(`append: entry ${first.index} term ${first.term} is below the last term ${lastTerm}`);
      for (let k = 1; k < entries.length; k++) {
        const entry = entries[k]!;
        const previous = entries[k - 1]!;
        if (entry.index !== previous.index + 1) throw new Error(`append: entry ${entry.index} follows ${previous.index}`);
        if (entry.term < previous.term) throw new Error(`append: entry ${entry.index} term ${entry.term} is below ${previous.term}`);
      }
      const last = entries[entries.length - 1]!;
      lastIndex = last.index;
      lastTerm = last.term;
    }
    if (hardState !== undefined) {
      const previous = this.hardStateValue;
      if (hardState.term < previous.term) throw new Error(`append: hard state term goes back from ${previous.term} to ${hardState.term}`);
      if (hardState.term === previous.term && previous.vote !== 0 && hardState.vote !== previous.vote) {
        throw new Error(`append: vote changes from ${previous.vote} to ${hardState.vote} within term ${hardState.term}`);
      }
      if (hardState.commit > lastIndex) throw new Error(`append: commit ${hardState.commit} is beyond the last index ${lastIndex}`);
    }

    // One batch record (format version 2): the records inside carry no checksum of their own. A
    // save too large for one record (over batchRecordMaxBytes, 1 GiB) is written as plain records,
    // a checksum each, as format version 1 wrote every save; recovery reads both in any segment.
    let payloadBytes = INDEX_TERM_PAYLOAD_BYTES;
    for (const entry of entries) payloadBytes += encodedEntrySize(entry);
    if (reset !== undefined) payloadBytes += INDEX_TERM_PAYLOAD_BYTES;
    if (hardState !== undefined) payloadBytes += HARD_STATE_PAYLOAD_BYTES;
    const recordCount = 1 + entries.length + (reset === undefined ? 0 : 1) + (hardState === undefined ? 0 : 1);
    const innerBytes = payloadBytes + recordCount * INNER_HEADER_BYTES;
    const framing: Framing = innerBytes <= (this.options.batchRecordMaxBytes ?? MAX_RECORD_PAYLOAD_BYTES) ? 'inner' : 'record';
    const size = framing === 'inner' ? RECORD_HEADER_BYTES + innerBytes : payloadBytes + recordCount * RECORD_HEADER_BYTES;

    let active = this.segments.at(-1)!;
    // A segment of an older format (from before an upgrade) is not appended to: an older binary
    // reading it back would not know the batch records.
    const full = active.sizeBytes > active.baseBytes && active.sizeBytes + size > this.options.segmentSizeBytes;
    if (full || active.formatVersion !== WAL_FORMAT_VERSION) {
      await this.rollover();
      active = this.segments.at(-1)!;
    }

    // Never write where an extension is writing zeros.
    if (active.sizeBytes + size > this.allocatedBytes && this.extension !== undefined) await this.extension;
    this.refuseIfFailed();

    const buffer = this.batchBuffer(size);
    // Entries first and the hard state after them: a hard state that survives a crash never
    // names a commit index beyond the entries that survived with it.
    let at = framing === 'inner' ? RECORD_HEADER_BYTES : 0;
    if (reset !== undefined) at = writeIndexTermRecord(buffer, at, RecordType.snapshotReset, reset, framing);
    for (const entry of entries) at = writeEntryRecord(buffer, at, entry, framing);
    if (hardState !== undefined) at = writeHardStateRecord(buffer, at, hardState, framing);
    at = writeIndexTermRecord(buffer, at, RecordType.batchEnd, { index: lastIndex, term: lastTerm }, framing);
    if (framing === 'inner') at = sealBatchRecord(buffer, 0, at);
    if (at !== size) throw new Error(`append: encoded ${at} bytes, sized ${size}`);

    try {
      await this.file.write(buffer.subarray(0, size), active.sizeBytes);
      if (this.options.fsync) await this.options.syncStats.syncFile(this.file);
    } catch (error) {
      this.failureError = toWriteError(error, 'append', active.path);
      this.failureCount += 1;
      this.options.logger.error({ err: this.failureError, file: active.path, offset: active.sizeBytes }, 'WAL append failed; refusing writes until retry()');
      throw this.failureError;
    }

    active.sizeBytes += size;
    this.allocatedBytes = Math.max(this.allocatedBytes, active.sizeBytes);
    this.preallocate();
    if (reset !== undefined) {
      this.runs.clear();
      this.logStartValue = reset.index + 1;
    }
    if (first !== undefined) {
      this.runs.truncateFrom(first.index);
      this.runs.append(active.seq, first.index, lastIndex);
    }
    this.lastIndexValue = lastIndex;
    this.lastTermValue = lastTerm;
    if (hardState !== undefined) this.hardStateValue = hardState;
  }

  /**
   * Removes whole segments, oldest first, whose live entries are all at or below `index` (which
   * a durable snapshot must cover). Never the active segment, never one holding an entry above
   * `index`. Returns how many were removed. A failure here rejects this call but does not fail
   * the log: what remains is consistent, and recovery removes any leftovers.
   */
  async compact(index: number): Promise<number> {
    const paths = this.detachThrough(index);
    await this.removeSegments(paths);
    return paths.length;
  }

  /**
   * The bookkeeping half of compact(): takes the whole segments at or below `index` (never the
   * active one) out of the log and returns their paths, without touching the disk. Until
   * removeSegments() deletes them, a crash leaves them behind, and recovery removes them as
   * leftovers of an interrupted compaction (all their entries are below the snapshot).
   */
  detachThrough(index: number): string[] {
    let removed = 0;
    while (removed < this.segments.length - 1) {
      const segment = this.segments[removed]!;
      if (this.runs.maxIndexIn(segment.seq) > index) break;
      this.runs.dropSegment(segment.seq);
      removed += 1;
    }
    if (removed === 0) return [];
    const gone = this.segments.slice(0, removed).map((segment) => segment.path);
    this.segments = this.segments.slice(removed);
    this.logStartValue = this.runs.firstIndex ?? this.lastIndexValue + 1;
    this.options.logger.info({ upTo: index, removed: gone }, 'compacted the WAL');
    return gone;
  }

  /**
   * The disk half of compact(): deletes detached segments, oldest first, and makes that durable.
   * Touches no file the log still uses, so appends may run meanwhile.
   *
   * With fsync on, each segment is first renamed out of the log (`<name>.deleted`, made durable
   * with the directory), then shrunk in steps before its unlink (removeLargeFile): a 64 MiB
   * segment unlinked at once held the WAL's concurrent fdatasyncs for about 90 ms
   * (bench/disk-stall.ts). The rename comes first because a segment cut short under its own name
   * would read as corruption after a crash; `open()` deletes what a crash leaves of a `.deleted`
   * file. With fsync off nothing is ordered on disk anyway, so the segments are just unlinked.
   */
  async removeSegments(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    const { fs, dir, fsync, syncStats } = this.options;
    const syncDir = async (): Promise<void> => {
      try {
        await syncStats.syncDir(fs, dir);
      } catch (error) {
        throw toWriteError(error, 'sync WAL directory', dir);
      }
    };
    if (!fsync) {
      for (const path of paths) {
        try {
          await fs.unlink(path);
        } catch (error) {
          throw toWriteError(error, 'remove segment', path);
        }
      }
      return;
    }
    const doomed: string[] = [];
    for (const path of paths) {
      const target = `${path}${DELETED_SEGMENT_SUFFIX}`;
      try {
        await fs.rename(path, target);
      } catch (error) {
        throw toWriteError(error, 'rename segment for deletion', path);
      }
      doomed.push(target);
    }
    await syncDir();
    for (const path of doomed) {
      try {
        await removeLargeFile(fs, path);
      } catch (error) {
        throw toWriteError(error, 'remove segment', path);
      }
    }
    await syncDir();
  }

  /**
   * After a failed append: deletes a half-created segment, truncates the active segment back to
   * its last durable batch, syncs, and re-reads it to check that it ends exactly where we think.
   * Resolves once appends are accepted again; rejects (and stays failed) if the disk still fails.
   */
  async retry(): Promise<void> {
    if (this.failureError === undefined) return;
    const { fs, dir, fsync, syncStats, logger } = this.options;
    const active = this.segments.at(-1)!;
    let step = 'reopen segment';
    try {
      if (this.abandonedSegment !== undefined) {
        step = 'remove abandoned segment';
        await fs.unlink(this.abandonedSegment).catch((error: unknown) => {
          if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
        });
        if (fsync) await syncStats.syncDir(fs, dir);
        this.abandonedSegment = undefined;
      }
      await this.extension;
      await this.file.close().catch(() => undefined);
      step = 'reopen segment';
      this.file = await fs.open(active.path, 'readwrite');
      step = 'truncate segment';
      await this.file.truncate(active.sizeBytes);
      this.allocatedBytes = active.sizeBytes;
      this.preallocationOff = false;
      if (fsync) await syncStats.syncFile(this.file);
      step = 'verify segment';
      this.verifyTail(await readWholeFile(this.file), active);
    } catch (error) {
      if (error instanceof StorageCorruptionError) throw error;
      this.failureError = toWriteError(error, step, active.path);
      throw this.failureError;
    }
    logger.info({ file: active.path, sizeBytes: active.sizeBytes, lastIndex: this.lastIndexValue, after: this.failureError.code }, 'WAL accepts writes again');
    this.failureError = undefined;
    this.preallocate();
  }

  async close(): Promise<void> {
    await this.extension;
    await this.file.close();
  }

  /**
   * Starts extending the active segment with zeros when little preallocated space is left (see
   * the header). Not with fsync off (nothing to save), nor past the size where the segment is full.
   */
  private preallocate(): void {
    if (!this.options.preallocate || this.extension !== undefined || this.preallocationOff || this.failureError !== undefined) return;
    const active = this.segments.at(-1)!;
    const step = Math.min(PREALLOCATE_MAX_BYTES, Math.max(PREALLOCATE_MIN_BYTES, this.allocatedBytes));
    const to = Math.min(this.allocatedBytes + step, this.options.segmentSizeBytes);
    if (this.allocatedBytes - active.sizeBytes >= step / 2 || to <= this.allocatedBytes) return;
    this.extension = this.extend(this.file, active.path, this.allocatedBytes, to).finally(() => {
      this.extension = undefined;
    });
  }

  /** Writes zeros over [from, to) of the active segment; no sync (see the header). */
  private async extend(file: StorageFile, path: string, from: number, to: number): Promise<void> {
    try {
      await file.write(PREALLOCATE_ZEROS.subarray(0, to - from), from);
    } catch (error) {
      // Only zeros went (or half went) beyond the data: the appends extend the segment themselves,
      // and a disk error that matters reaches them too.
      this.preallocationOff = true;
      this.options.logger.warn({ err: error, file: path, from, to }, 'preallocating WAL space failed; appends extend the segment instead');
      return;
    }
    if (file === this.file) this.allocatedBytes = Math.max(this.allocatedBytes, to);
  }

  private refuseIfFailed(): void {
    const failure = this.failureError;
    if (failure !== undefined) throw new StorageWriteError(failure.code, 'append (refused: an earlier write failed; call retry())', failure.file, failure);
  }

  private verifyTail(bytes: Buffer, active: ActiveSegment): void {
    const { records, failure } = scanRecords(bytes);
    if (failure !== undefined) throw new StorageCorruptionError(active.path, failure.offset, `after retry: ${failure.reason}`);
    const last = records.at(-1);
    if (bytes.length !== active.sizeBytes || last === undefined || last.type !== RecordType.batchEnd) {
      throw new StorageCorruptionError(active.path, bytes.length, `after retry the segment is ${bytes.length} bytes, expected ${active.sizeBytes} ending in a batch end`);
    }
    const end = decodeIndexTerm(last.payload);
    if (end.index !== this.lastIndexValue || end.term !== this.lastTermValue) {
      throw new StorageCorruptionError(active.path, last.offset, `after retry the last batch ends at index ${end.index} term ${end.term}, expected ${this.lastIndexValue} term ${this.lastTermValue}`);
    }
  }

  private async rollover(): Promise<void> {
    const previous = this.segments.at(-1)!;
    let created;
    try {
      created = await createSegment(this.options, previous.seq + 1, { index: this.lastIndexValue, term: this.lastTermValue }, this.hardStateValue, (path) => {
        this.abandonedSegment = path;
      });
    } catch (error) {
      this.failureError = toWriteError(error, 'create segment', this.abandonedSegment ?? this.options.dir);
      this.failureCount += 1;
      this.options.logger.error({ err: this.failureError }, 'creating a WAL segment failed; refusing writes until retry()');
      throw this.failureError;
    }
    this.abandonedSegment = undefined;
    await this.extension;
    const old = this.file;
    this.file = created.file;
    this.segments.push(created.segment);
    this.allocatedBytes = created.segment.sizeBytes;
    this.preallocationOff = false;
    await old.close().catch((error: unknown) => this.options.logger.warn({ err: error, file: previous.path }, 'closing a full segment failed'));
  }

  private batchBuffer(size: number): Buffer {
    if (size <= this.scratch.length) return this.scratch;
    if (size > SCRATCH_KEEP_BYTES) return Buffer.allocUnsafe(size);
    let capacity = this.scratch.length;
    while (capacity < size) capacity *= 2;
    this.scratch = Buffer.allocUnsafe(capacity);
    return this.scratch;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * Creates segment `seq` continuing a log that ends at `base`, and makes it durable before
 * returning: its opening batch (header, hard state, batch end) is synced and so is the directory.
 */
async function createSegment(
  options: WalOptions,
  seq: number,
  base: IndexTerm,
  hardState: HardState,
  onCreated: (path: string) => void = () => undefined,
): Promise<{ file: StorageFile; segment: ActiveSegment }> {
  const firstIndex = base.index + 1;
  const path = join(options.dir, segmentName(seq, firstIndex));
  const buffer = Buffer.allocUnsafe(OPENING_BATCH_MAX_BYTES);
  let at = writeSegmentHeaderRecord(buffer, 0, { formatVersion: WAL_FORMAT_VERSION, seq, firstIndex, prevTerm: base.term });
  if (hardState.term !== 0 || hardState.vote !== 0 || hardState.commit !== 0) at = writeHardStateRecord(buffer, at, hardState);
  at = writeIndexTermRecord(buffer, at, RecordType.batchEnd, base);
  const file = await options.fs.open(path, 'create');
  onCreated(path);
  try {
    await file.write(buffer.subarray(0, at), 0);
    if (options.fsync) {
      await options.syncStats.syncFile(file);
      await options.syncStats.syncDir(options.fs, options.dir);
    }
  } catch (error) {
    await file.close().catch(() => undefined);
    throw error;
  }
  return { file, segment: { seq, firstIndex, path, sizeBytes: at, baseBytes: at, formatVersion: WAL_FORMAT_VERSION } };
}

/**
 * --repair-wal: acts on one corruption verdict. Logs exactly what goes, keeps the newest hard
 * state found in what goes (so a vote is never forgotten), and returns the segments left.
 */
async function repairCut(
  options: WalOptions,
  segments: readonly SegmentRef[],
  corruption: ReplayCorruption,
  snapshot: IndexTerm | undefined,
): Promise<{ segments: SegmentRef[]; salvaged: HardState | undefined }> {
  const { fs, dir, logger, syncStats } = options;
  const cut = corruption.cut;
  const dropAll = cut === 'drop-all';
  const keep = dropAll ? [] : segments.slice(0, cut.segmentIndex);
  const target = dropAll ? undefined : segments[cut.segmentIndex]!;
  const truncateTarget = target !== undefined && !dropAll && cut.offset > 0;
  const doomed = dropAll ? segments : segments.slice(cut.segmentIndex + (truncateTarget ? 1 : 0));
  const from = new Map<string, number>();
  if (truncateTarget) from.set(target.path, cut.offset);
  const summaries = await readSegmentSummaries(fs, truncateTarget ? [target, ...doomed] : doomed, from);
  let salvaged: HardState | undefined;
  for (const { newestHardState } of summaries) {
    if (newestHardState !== undefined && (salvaged === undefined || newestHardState.term >= salvaged.term)) salvaged = newestHardState;
  }
  logger.warn(
    {
      file: corruption.error.file,
      offset: corruption.error.offsetBytes,
      reason: corruption.error.reason,
      truncated: truncateTarget ? { file: target.path, toBytes: cut.offset, dropped: summaries[0]!.summary } : undefined,
      deleted: summaries.slice(truncateTarget ? 1 : 0).map(({ path, summary }) => ({ file: path, ...summary })),
    },
    'repair: cutting the WAL at the first bad record',
  );
  if (dropAll) {
    // Nothing after the snapshot can be trusted. Start a fresh segment after it (with a seq gap,
    // so that if we crash before deleting the old ones, recovery sees them as leftovers).
    const seq = (segments.at(-1)?.seq ?? 0) + 2;
    const base = snapshot ?? { index: 0, term: 0 };
    const hardState = salvaged === undefined ? EMPTY_HARD_STATE : { term: salvaged.term, vote: salvaged.vote, commit: Math.min(salvaged.commit, base.index) };
    const created = await createSegment(options, seq, base, hardState);
    await created.file.close();
    keep.push(created.segment);
  }
  for (const segment of [...doomed].reverse()) await fs.unlink(segment.path);
  if (truncateTarget) {
    const file = await fs.open(target.path, 'readwrite');
    try {
      await file.truncate(cut.offset);
      await syncStats.syncFile(file);
    } finally {
      await file.close();
    }
    keep.push(target);
  }
  await syncStats.syncDir(fs, dir);
  return { segments: keep, salvaged };
}
