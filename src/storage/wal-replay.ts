// Recovery of the write-ahead log: read every segment, decide what is a torn tail and what is
// corruption, and replay the records into the log they describe. This module only reads; wal.ts
// acts on its verdict (cuts the torn tail, deletes leftovers of an interrupted compaction, or
// under --repair-wal truncates at the first bad record).
//
// The rules (docs/storage.md, "Recovery"):
// - Only whole batches count: records after the last batchEnd of the last segment are an
//   unfinished save, cut with a warning.
// - A bad record in the last segment with no valid record anywhere after it is a torn write: cut
//   with a warning. Any other bad record, a segment that does not continue its predecessor, an
//   index gap, or a log that does not reach back to the newest snapshot, is corruption.
// - Segment seq numbers are consecutive; a hole in them is left by a compaction interrupted by a
//   crash only if everything before the hole is covered by the snapshot. Otherwise a segment is
//   missing, and that is corruption.
import type { Entry, HardState } from '../raft/types.js';
import { StorageCorruptionError } from './errors.js';
import { readWholeFile, type StorageFs } from './fs.js';
import {
  BATCH_RECORD_FORMAT_VERSION, PayloadError, RecordType, WAL_FORMAT_VERSIONS_READ, decodeEntryPayload, decodeHardState, decodeIndexTerm,
  decodeSegmentHeader, findValidRecordAfter, innerPrefix, mayBeTorn, scanRecords, scanSegment, type IndexTerm, type RecordView, type ScanFailure,
  type SegmentHeader,
} from './wal-format.js';

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };

/** How many payload bytes the search for a valid record after a bad one may checksum. */
const RESYNC_BUDGET_BYTES = 256 << 20;

export interface SegmentRef {
  readonly seq: number;
  readonly firstIndex: number;
  readonly path: string;
}

/**
 * Which segment holds which stretch of the live log, so compaction can tell when a segment holds
 * nothing above the snapshot. Runs cover the live log in order without gaps; there are about as
 * many as segments plus conflicting-suffix truncations, so scanning them is cheap.
 */
export class SegmentRuns {
  private runs: { seq: number; first: number; last: number }[] = [];

  append(seq: number, first: number, last: number): void {
    const tail = this.runs.at(-1);
    if (tail !== undefined && tail.last + 1 !== first) throw new Error(`run ${first}..${last} does not follow ${tail.last}`);
    if (tail !== undefined && tail.seq === seq) tail.last = last;
    else this.runs.push({ seq, first, last });
  }

  /** Forgets every index >= `index`. */
  truncateFrom(index: number): void {
    while (this.runs.length > 0 && this.runs.at(-1)!.first >= index) this.runs.pop();
    const tail = this.runs.at(-1);
    if (tail !== undefined && tail.last >= index) tail.last = index - 1;
  }

  clear(): void {
    this.runs = [];
  }

  /** The highest live index segment `seq` holds, or 0 when it holds none. */
  maxIndexIn(seq: number): number {
    let max = 0;
    for (const run of this.runs) if (run.seq === seq && run.last > max) max = run.last;
    return max;
  }

  dropSegment(seq: number): void {
    this.runs = this.runs.filter((run) => run.seq !== seq);
  }

  get firstIndex(): number | undefined {
    return this.runs[0]?.first;
  }
}

/** The log as replayed so far from one chain of consecutive segments. */
export class ReplayState {
  readonly entries: Entry[] = [];
  /** The index of entries[0] (lastIndex + 1 while there are none). */
  logStart: number;
  /**
   * The term of the entry at logStart - 1: from the segment header or a snapshot reset. Unknown
   * only after an entry overwrote the log below the first segment we still have, which happens
   * only when everything below is covered by a snapshot.
   */
  baseTerm: number | undefined;
  hardState: HardState = EMPTY_HARD_STATE;
  hardStateAt: { readonly file: string; readonly offset: number } | undefined;
  readonly runs = new SegmentRuns();

  constructor(header: SegmentHeader) {
    this.logStart = header.firstIndex;
    this.baseTerm = header.prevTerm;
  }

  get lastIndex(): number {
    return this.logStart + this.entries.length - 1;
  }

  get lastTerm(): number {
    return this.entries.at(-1)?.term ?? this.baseTerm ?? 0;
  }

  termAt(index: number): number | undefined {
    if (index === this.logStart - 1) return this.baseTerm;
    return this.entries[index - this.logStart]?.term;
  }

  /** Applies one record; returns why it cannot be applied, or undefined. */
  apply(record: RecordView, seq: number, file: string): string | undefined {
    switch (record.type) {
      case RecordType.entry:
        return this.applyEntry(decodeEntryPayload(record.payload), seq);
      case RecordType.hardState: {
        const state = decodeHardState(record.payload);
        const previous = this.hardState;
        if (state.term < previous.term) return `hard state term goes back from ${previous.term} to ${state.term}`;
        if (state.term === previous.term && previous.vote !== 0 && state.vote !== previous.vote) {
          return `vote changes from ${previous.vote} to ${state.vote} within term ${state.term}`;
        }
        this.hardState = state;
        this.hardStateAt = { file, offset: record.offset };
        return undefined;
      }
      case RecordType.snapshotReset: {
        const reset = decodeIndexTerm(record.payload);
        this.entries.length = 0;
        this.logStart = reset.index + 1;
        this.baseTerm = reset.term;
        this.runs.clear();
        return undefined;
      }
      case RecordType.batchEnd: {
        const end = decodeIndexTerm(record.payload);
        if (end.index !== this.lastIndex || end.term !== this.lastTerm) {
          return `batch end records last index ${end.index} term ${end.term}, but the replayed log ends at index ${this.lastIndex} term ${this.lastTerm}`;
        }
        return undefined;
      }
      case RecordType.segmentHeader:
        return 'a segment header in the middle of a segment';
      case RecordType.batch:
        return 'a batch record the scanner did not open';
      default: {
        const never: never = record.type;
        return `unhandled record type ${String(never)}`;
      }
    }
  }

  private applyEntry(entry: Entry, seq: number): string | undefined {
    if (entry.index > this.lastIndex + 1) return `entry ${entry.index} leaves a gap after index ${this.lastIndex}`;
    if (entry.index <= this.lastIndex) {
      // A conflicting suffix was overwritten (Raft §5.3): everything from entry.index on goes.
      if (entry.index < this.logStart) {
        this.entries.length = 0;
        this.logStart = entry.index;
        this.baseTerm = undefined;
      } else {
        this.entries.length = entry.index - this.logStart;
      }
      this.runs.truncateFrom(entry.index);
    }
    const previousTerm = this.termAt(entry.index - 1);
    if (previousTerm !== undefined && entry.term < previousTerm) {
      return `entry ${entry.index} has term ${entry.term}, below the term ${previousTerm} of the entry before it`;
    }
    this.entries.push(entry);
    this.runs.append(seq, entry.index, entry.index);
    return undefined;
  }
}

/** A segment as recovery leaves it: `sizeBytes` is where the next batch goes. */
export interface ReplayedSegment extends SegmentRef {
  readonly sizeBytes: number;
  /** The size of the segment's opening batch (header, hard state, batch end). */
  readonly baseBytes: number;
  /** From its header: a segment of an older version is not appended to (see Wal.append). */
  readonly formatVersion: number;
}

export interface DroppedSummary {
  readonly bytes: number;
  readonly records: number;
  readonly entries: number;
  readonly firstEntryIndex?: number;
  readonly lastEntryIndex?: number;
  readonly hardStates: number;
  /** Why reading stopped before the end, if it did. */
  readonly stoppedBecause?: string;
}

export interface TailCut {
  readonly segmentIndex: number;
  readonly path: string;
  /** Keep bytes [0, offset); 0 means the segment never got its first batch and goes entirely. */
  readonly offset: number;
  readonly dropped: DroppedSummary;
  readonly reason: string;
}

export interface ReplayResult {
  /** The chain recovery uses; undefined when no segment holds a whole batch. */
  readonly state: ReplayState | undefined;
  /** That chain's segments, in order, as they will be after the tail cut. */
  readonly segments: readonly ReplayedSegment[];
  /** Segments before a hole in the seq numbers, all covered by the snapshot: safe to delete. */
  readonly leftovers: readonly SegmentRef[];
  readonly tailCut: TailCut | undefined;
}

/** Corruption found during replay, with where --repair-wal would cut. */
export class ReplayCorruption extends Error {
  constructor(
    readonly error: StorageCorruptionError,
    /** Keep segments before segmentIndex and bytes [0, offset) of it; 'drop-all' keeps nothing. */
    readonly cut: { readonly segmentIndex: number; readonly offset: number } | 'drop-all',
  ) {
    super(error.message);
  }
}

/**
 * Summarises the records from `from` on (for log lines about what was dropped, and for the hard
 * state --repair-wal must keep). Past a bad record it goes on from the next valid one: whole saves
 * after a corrupt one are dropped too, and a term and vote they recorded must not be forgotten.
 */
export function summariseRecords(bytes: Buffer, from: number): { summary: DroppedSummary; newestHardState: HardState | undefined } {
  const records: RecordView[] = [];
  let failure: ScanFailure | undefined;
  for (let offset = from; ;) {
    const scan = scanRecords(bytes, offset);
    records.push(...scan.records);
    if (scan.failure === undefined) break;
    failure ??= scan.failure;
    // What a bad batch record holds before it goes wrong (a torn save's entries) is dropped too.
    records.push(...innerPrefix(bytes, scan.failure.offset).records);
    const next = findValidRecordAfter(bytes, scan.failure.offset, RESYNC_BUDGET_BYTES);
    if (typeof next !== 'number') break;
    offset = next;
  }
  let entries = 0;
  let firstEntryIndex: number | undefined;
  let lastEntryIndex: number | undefined;
  let hardStates = 0;
  let newestHardState: HardState | undefined;
  for (const record of records) {
    try {
      if (record.type === RecordType.entry) {
        const entry = decodeEntryPayload(record.payload);
        entries += 1;
        firstEntryIndex ??= entry.index;
        lastEntryIndex = entry.index;
      } else if (record.type === RecordType.hardState) {
        const state = decodeHardState(record.payload);
        hardStates += 1;
        if (newestHardState === undefined || state.term >= newestHardState.term) newestHardState = state;
      }
    } catch {
      // A record whose checksum matched but that does not decode is counted, not described.
    }
  }
  const summary: DroppedSummary = {
    bytes: bytes.length - from,
    records: records.length,
    entries,
    hardStates,
    ...(firstEntryIndex === undefined ? {} : { firstEntryIndex, lastEntryIndex: lastEntryIndex! }),
    ...(failure === undefined ? {} : { stoppedBecause: `byte ${failure.offset}: ${failure.reason}` }),
  };
  return { summary, newestHardState };
}

interface Chain {
  readonly firstSegmentIndex: number;
  readonly state: ReplayState;
  readonly segments: ReplayedSegment[];
}

/**
 * Replays `segments` (sorted by seq). `snapshotIndex` is the newest valid snapshot's index (0 if
 * none): the log must reach back to it. Throws ReplayCorruption on anything but a torn tail.
 */
export async function replaySegments(fs: StorageFs, segments: readonly SegmentRef[], snapshotIndex: number): Promise<ReplayResult> {
  const chains: Chain[] = [];
  let tailCut: TailCut | undefined;
  let previousSeq: number | undefined;

  for (let j = 0; j < segments.length; j++) {
    const segment = segments[j]!;
    const isLast = j === segments.length - 1;
    const file = await fs.open(segment.path, 'read');
    let bytes: Buffer;
    try {
      bytes = await readWholeFile(file);
    } finally {
      await file.close();
    }
    // A preallocated segment's zero tail is where its data ends, not a failure (scanSegment).
    const { records, failure, dataEnd } = scanSegment(bytes);
    let committedEnd = 0;
    let committedCount = 0;
    records.forEach((record, k) => {
      if (record.type === RecordType.batchEnd) {
        committedEnd = record.end;
        committedCount = k + 1;
      }
    });
    /** The start of the batch holding `offset`: where a repair cuts. */
    const batchStartBefore = (offset: number): number => {
      let start = 0;
      for (const record of records) if (record.type === RecordType.batchEnd && record.end <= offset) start = record.end;
      return start;
    };
    const corrupt = (offset: number, reason: string, cutOffset = batchStartBefore(offset)): ReplayCorruption =>
      new ReplayCorruption(new StorageCorruptionError(segment.path, offset, reason), { segmentIndex: j, offset: cutOffset });

    if (failure !== undefined || committedEnd < dataEnd || committedCount === 0) {
      const problemAt = failure?.offset ?? committedEnd;
      const problem = failure?.reason ?? (dataEnd === 0 ? 'the segment is empty' : 'the file ends inside a batch (no batch end record)');
      if (!isLast) throw corrupt(problemAt, `${problem}, in a segment that is not the last`);
      // (A record header of zeros, where a torn save's start never reached preallocated space,
      // fails its checksum, which covers the type byte: it may be torn.)
      if (failure !== undefined && !mayBeTorn(failure.kind)) throw corrupt(problemAt, problem);
      if (failure !== undefined) {
        const next = findValidRecordAfter(bytes, failure.offset, RESYNC_BUDGET_BYTES);
        if (typeof next === 'number') throw corrupt(problemAt, `${problem}; a valid record follows at byte ${next}`);
        if (next === 'unknown') throw corrupt(problemAt, `${problem}; cannot show that nothing valid follows, so it is not treated as a torn write`);
      }
      tailCut = { segmentIndex: j, path: segment.path, offset: committedEnd, dropped: summariseRecords(bytes, committedEnd).summary, reason: `${problem} at byte ${problemAt}` };
    }

    const committed = records.slice(0, committedCount);
    if (committed.length === 0) {
      // Only the last segment gets here (the checks above throw for the others): it was being
      // created when the process died, and never got its opening batch.
      previousSeq = segment.seq;
      continue;
    }
    const first = committed[0]!;
    if (first.type !== RecordType.segmentHeader) throw corrupt(first.offset, 'the segment does not start with a segment header', 0);
    let header: SegmentHeader;
    try {
      header = decodeSegmentHeader(first.payload);
    } catch (error) {
      throw corrupt(0, error instanceof Error ? error.message : String(error), 0);
    }
    if (!WAL_FORMAT_VERSIONS_READ.includes(header.formatVersion)) throw corrupt(0, `unsupported WAL format version ${header.formatVersion}`, 0);
    if (header.formatVersion < BATCH_RECORD_FORMAT_VERSION) {
      const batched = committed.find((record) => record.unit !== record.offset);
      if (batched !== undefined) throw corrupt(batched.unit, `a batch record in a segment of format version ${header.formatVersion}`);
    }
    if (header.seq !== segment.seq || header.firstIndex !== segment.firstIndex) {
      throw corrupt(0, `the header says seq ${header.seq} first index ${header.firstIndex}, the file name says seq ${segment.seq} first index ${segment.firstIndex}`, 0);
    }

    let chain = chains.at(-1);
    if (chain === undefined || previousSeq === undefined || segment.seq !== previousSeq + 1) {
      chain = { firstSegmentIndex: j, state: new ReplayState(header), segments: [] };
      chains.push(chain);
    } else if (header.firstIndex !== chain.state.lastIndex + 1 || header.prevTerm !== chain.state.lastTerm) {
      throw corrupt(0, `the segment continues a log ending at index ${header.firstIndex - 1} term ${header.prevTerm}, but the segments before it end at index ${chain.state.lastIndex} term ${chain.state.lastTerm}`, 0);
    }
    previousSeq = segment.seq;

    let baseBytes = 0;
    for (let k = 1; k < committed.length; k++) {
      const record = committed[k]!;
      let problem: string | undefined;
      try {
        problem = chain.state.apply(record, segment.seq, segment.path);
      } catch (error) {
        if (!(error instanceof PayloadError)) throw error;
        problem = error.message;
      }
      if (problem !== undefined) throw corrupt(record.offset, problem);
      if (record.type === RecordType.batchEnd && baseBytes === 0) baseBytes = record.end;
    }
    chain.segments.push({ ...segment, sizeBytes: committedEnd, baseBytes, formatVersion: header.formatVersion });
  }

  const chain = chains.at(-1);
  if (chain === undefined) return { state: undefined, segments: [], leftovers: [], tailCut };
  const reachesSnapshot = (state: ReplayState): boolean => state.lastIndex <= snapshotIndex || state.logStart <= snapshotIndex + 1;
  if (!reachesSnapshot(chain.state)) {
    const missing = `entries ${snapshotIndex + 1}..${chain.state.logStart - 1} are in no segment and no snapshot`;
    const firstPath = segments[chain.firstSegmentIndex]!.path;
    for (let k = chains.length - 2; k >= 0; k--) {
      if (!reachesSnapshot(chains[k]!.state)) continue;
      // An earlier run of segments is complete; the hole after it lost data.
      const after = chains[k + 1]!.firstSegmentIndex;
      throw new ReplayCorruption(
        new StorageCorruptionError(segments[after]!.path, 0, `a segment is missing before this one (seq ${segments[after - 1]!.seq} is followed by seq ${segments[after]!.seq}): ${missing}`),
        { segmentIndex: after, offset: 0 },
      );
    }
    throw new ReplayCorruption(
      new StorageCorruptionError(firstPath, 0, `the log starts at index ${chain.state.logStart} but the newest valid snapshot is at index ${snapshotIndex}: ${missing}`),
      'drop-all',
    );
  }
  const leftovers = segments.slice(0, chain.firstSegmentIndex);
  let replayed = chain.segments;
  if (tailCut !== undefined && tailCut.offset === 0) replayed = replayed.filter((segment) => segment.path !== tailCut.path);
  return { state: chain.state, segments: replayed, leftovers, tailCut };
}

/** Reads every record of `segments` (for salvaging a hard state before a repair deletes them). */
export async function readSegmentSummaries(fs: StorageFs, segments: readonly SegmentRef[], from: ReadonlyMap<string, number> = new Map()): Promise<{ path: string; summary: DroppedSummary; newestHardState: HardState | undefined }[]> {
  const out: { path: string; summary: DroppedSummary; newestHardState: HardState | undefined }[] = [];
  for (const segment of segments) {
    const file = await fs.open(segment.path, 'read');
    try {
      const bytes = await readWholeFile(file);
      out.push({ path: segment.path, ...summariseRecords(bytes, Math.min(bytes.length, from.get(segment.path) ?? 0)) });
    } finally {
      await file.close();
    }
  }
  return out;
}

export type { IndexTerm };
