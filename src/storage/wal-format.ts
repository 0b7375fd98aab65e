// The write-ahead log's on-disk format (docs/storage.md has the full description).
//
// A segment file is a sequence of records:
//
//   u32 payloadLength | u32 crc32(type, payload) | u8 type | payload
//
// The checksum covers the type byte and the payload, which sit next to each other, so one crc32
// call checks both. A length that runs past the end of the file, or a checksum that does not
// match, marks a bad record: a torn write if nothing valid follows it in the last segment,
// corruption anywhere else.
//
// Records are grouped into batches, one per save(): a batch ends with a batchEnd record, and
// recovery keeps only whole batches, so a save is all or nothing. Every segment opens with its
// own batch: [segmentHeader, hardState (when there is one), batchEnd].
//
// Format version 2 writes every later batch as one record of type `batch`, whose payload is the
// batch's records framed without a checksum of their own:
//
//   u32 payloadLength | u8 type | payload        (entry, hardState, snapshotReset; batchEnd last)
//
// so a save costs one checksum over its bytes instead of one per entry (the per-entry crc32 was
// 4-6% of a follower's CPU under load). The scanner hands out those inner records as if they
// were records of their own, each with `unit`, the offset of the checksummed record holding it.
// Version 1 segments (a record per entry) are still read.
import type { Entry, HardState } from '../raft/types.js';
import { crc32Of, putU32, readU64, writeU32, writeU64 } from './binary.js';
import { decodeEntry, encodeEntryInto } from './entry-codec.js';

export const RECORD_HEADER_BYTES = 9;
/** The header of a record inside a batch record: u32 payloadLength | u8 type. */
export const INNER_HEADER_BYTES = 5;
/** Larger payloads are refused on write and treated as garbage when scanning. */
export const MAX_RECORD_PAYLOAD_BYTES = 1 << 30;

export const RecordType = {
  segmentHeader: 1,
  entry: 2,
  hardState: 3,
  /** The log restarts after a snapshot: every entry before is gone, the next is index + 1. */
  snapshotReset: 4,
  batchEnd: 5,
  /** Format version 2: a whole batch under one checksum (never inside another batch). */
  batch: 6,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

const KNOWN_TYPES = new Set<number>(Object.values(RecordType));
/** The record types a batch record may hold. */
const INNER_TYPES = new Set<number>([RecordType.entry, RecordType.hardState, RecordType.snapshotReset, RecordType.batchEnd]);

/** The version new segments are written in; recovery also reads the older ones. */
export const WAL_FORMAT_VERSION = 2;
export const WAL_FORMAT_VERSIONS_READ: readonly number[] = [1, 2];
/** The first version whose segments may hold batch records. */
export const BATCH_RECORD_FORMAT_VERSION = 2;
/** "RWAL" */
export const SEGMENT_MAGIC = 0x5257_414c;
export const SEGMENT_HEADER_PAYLOAD_BYTES = 4 + 2 + 2 + 8 + 8 + 8;
export const HARD_STATE_PAYLOAD_BYTES = 8 + 4 + 8;
export const INDEX_TERM_PAYLOAD_BYTES = 8 + 8;

export interface SegmentHeader {
  readonly formatVersion: number;
  readonly seq: number;
  /** The index the first entry appended to this segment was expected to have. */
  readonly firstIndex: number;
  /** The term of the entry at firstIndex - 1 (0 if none): the log this segment continues. */
  readonly prevTerm: number;
}

export interface IndexTerm {
  readonly index: number;
  readonly term: number;
}

// ---- Segment names: `<seq>-<firstIndex>.wal`, both as 16 hex digits so names sort by seq.

const SEGMENT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

/** Appended to a segment's name when compaction takes it out of the log, before it is deleted. */
export const DELETED_SEGMENT_SUFFIX = '.deleted';

export function segmentName(seq: number, firstIndex: number): string {
  return `${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.wal`;
}

export function parseSegmentName(name: string): { readonly seq: number; readonly firstIndex: number } | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (match === null) return undefined;
  return { seq: Number.parseInt(match[1]!, 16), firstIndex: Number.parseInt(match[2]!, 16) };
}

// ---- Encoding. The caller sizes one buffer for a whole batch and encodes records into it.
// `framing` says whether a record stands alone (a checksummed header of RECORD_HEADER_BYTES) or
// sits inside a batch record (INNER_HEADER_BYTES, no checksum: the batch record's covers it).

export type Framing = 'record' | 'inner';

function headerBytes(framing: Framing): number {
  return framing === 'record' ? RECORD_HEADER_BYTES : INNER_HEADER_BYTES;
}

/** The size of a stand-alone (checksummed) record with a payload of `payloadBytes`. */
export function recordBytes(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + payloadBytes;
}

/** Fills in the length and checksum of a record whose payload is already at offset + 9. */
function sealRecord(target: Buffer, offset: number, type: RecordType, payloadBytes: number): number {
  if (payloadBytes > MAX_RECORD_PAYLOAD_BYTES) throw new Error(`record payload of ${payloadBytes} bytes exceeds ${MAX_RECORD_PAYLOAD_BYTES}`);
  putU32(target, offset, payloadBytes);
  target[offset + 8] = type;
  const end = offset + RECORD_HEADER_BYTES + payloadBytes;
  putU32(target, offset + 4, crc32Of(target, offset + 8, end));
  return end;
}

/** Fills in the header of a record whose payload is already past it; returns the record's end. */
function seal(target: Buffer, offset: number, type: RecordType, payloadBytes: number, framing: Framing): number {
  if (framing === 'record') return sealRecord(target, offset, type, payloadBytes);
  putU32(target, offset, payloadBytes);
  target[offset + 4] = type;
  return offset + INNER_HEADER_BYTES + payloadBytes;
}

export function writeEntryRecord(target: Buffer, offset: number, entry: Entry, framing: Framing = 'record'): number {
  const at = offset + headerBytes(framing);
  return seal(target, offset, RecordType.entry, encodeEntryInto(entry, target, at) - at, framing);
}

export function writeHardStateRecord(target: Buffer, offset: number, state: HardState, framing: Framing = 'record'): number {
  const at = offset + headerBytes(framing);
  writeU64(target, at, state.term, 'hardState.term');
  writeU32(target, at + 8, state.vote, 'hardState.vote');
  writeU64(target, at + 12, state.commit, 'hardState.commit');
  return seal(target, offset, RecordType.hardState, HARD_STATE_PAYLOAD_BYTES, framing);
}

export function writeIndexTermRecord(
  target: Buffer, offset: number, type: typeof RecordType.snapshotReset | typeof RecordType.batchEnd, value: IndexTerm, framing: Framing = 'record',
): number {
  const at = offset + headerBytes(framing);
  writeU64(target, at, value.index, 'index');
  writeU64(target, at + 8, value.term, 'term');
  return seal(target, offset, type, INDEX_TERM_PAYLOAD_BYTES, framing);
}

/**
 * Seals a batch record at `offset` whose inner records (written with framing 'inner', a batchEnd
 * last) fill [offset + RECORD_HEADER_BYTES, end): one checksum over them all.
 */
export function sealBatchRecord(target: Buffer, offset: number, end: number): number {
  return sealRecord(target, offset, RecordType.batch, end - offset - RECORD_HEADER_BYTES);
}

export function writeSegmentHeaderRecord(target: Buffer, offset: number, header: SegmentHeader): number {
  const at = offset + RECORD_HEADER_BYTES;
  target.writeUInt32BE(SEGMENT_MAGIC, at);
  target.writeUInt16BE(header.formatVersion, at + 4);
  target.writeUInt16BE(0, at + 6);
  writeU64(target, at + 8, header.seq, 'segment.seq');
  writeU64(target, at + 16, header.firstIndex, 'segment.firstIndex');
  writeU64(target, at + 24, header.prevTerm, 'segment.prevTerm');
  return sealRecord(target, offset, RecordType.segmentHeader, SEGMENT_HEADER_PAYLOAD_BYTES);
}

// ---- Decoding. Payload decoders throw a plain message; the caller adds file and offset.

export class PayloadError extends Error {}

function u64(payload: Buffer, offset: number, field: string): number {
  const value = readU64(payload, offset);
  if (value < 0) throw new PayloadError(`${field} exceeds 2^53`);
  return value;
}

function expectSize(payload: Buffer, bytes: number, what: string): void {
  if (payload.length !== bytes) throw new PayloadError(`${what} payload is ${payload.length} bytes, expected ${bytes}`);
}

export function decodeSegmentHeader(payload: Buffer): SegmentHeader {
  expectSize(payload, SEGMENT_HEADER_PAYLOAD_BYTES, 'segment header');
  const magic = payload.readUInt32BE(0);
  if (magic !== SEGMENT_MAGIC) throw new PayloadError(`bad segment magic 0x${magic.toString(16)}`);
  return {
    formatVersion: payload.readUInt16BE(4),
    seq: u64(payload, 8, 'seq'),
    firstIndex: u64(payload, 16, 'firstIndex'),
    prevTerm: u64(payload, 24, 'prevTerm'),
  };
}

export function decodeHardState(payload: Buffer): HardState {
  expectSize(payload, HARD_STATE_PAYLOAD_BYTES, 'hard state');
  return { term: u64(payload, 0, 'term'), vote: payload.readUInt32BE(8), commit: u64(payload, 12, 'commit') };
}

export function decodeIndexTerm(payload: Buffer): IndexTerm {
  expectSize(payload, INDEX_TERM_PAYLOAD_BYTES, 'index/term');
  return { index: u64(payload, 0, 'index'), term: u64(payload, 8, 'term') };
}

export function decodeEntryPayload(payload: Buffer): Entry {
  try {
    return decodeEntry(payload);
  } catch (error) {
    throw new PayloadError(error instanceof Error ? error.message : String(error));
  }
}

// ---- Scanning.

export interface RecordView {
  /** Never `batch`: the scanner hands out a batch record's inner records instead. */
  readonly type: RecordType;
  readonly offset: number;
  /** The offset of the checksummed record this one is, or sits in (a batch record). */
  readonly unit: number;
  readonly payload: Buffer;
  /** The offset just past this record. */
  readonly end: number;
}

export type ScanFailureKind = 'short-header' | 'short-payload' | 'oversize' | 'checksum' | 'unknown-type' | 'bad-batch';

/**
 * Whether a failure of this kind can be a torn write. A record of a type we do not know, or a
 * batch record whose checksum matches but whose inside is malformed, was written whole by
 * something else: never torn.
 */
export function mayBeTorn(kind: ScanFailureKind): boolean {
  return kind !== 'unknown-type' && kind !== 'bad-batch';
}

const ZEROS = Buffer.alloc(64 << 10);

/** Whether bytes [from, to) of `bytes` (clamped to its length) are all zero. */
export function isZeroRange(bytes: Buffer, from: number, to: number): boolean {
  const end = Math.min(to, bytes.length);
  for (let at = from; at < end; at += ZEROS.length) {
    const length = Math.min(ZEROS.length, end - at);
    if (bytes.compare(ZEROS, 0, length, at, at + length) !== 0) return false;
  }
  return true;
}

export interface ScanFailure {
  readonly offset: number;
  readonly kind: ScanFailureKind;
  readonly reason: string;
}

export interface ScanResult {
  /** The records that check out, from the start up to the first failure. */
  readonly records: readonly RecordView[];
  readonly failure: ScanFailure | undefined;
}

/** Checks the record at `offset`: the record, or why it is bad. */
export function readRecordAt(bytes: Buffer, offset: number): RecordView | ScanFailure {
  const remaining = bytes.length - offset;
  if (remaining < RECORD_HEADER_BYTES) {
    return { offset, kind: 'short-header', reason: `${remaining} bytes left, a record header needs ${RECORD_HEADER_BYTES}` };
  }
  const payloadBytes = bytes.readUInt32BE(offset);
  if (payloadBytes > MAX_RECORD_PAYLOAD_BYTES) {
    return { offset, kind: 'oversize', reason: `record length ${payloadBytes} exceeds the ${MAX_RECORD_PAYLOAD_BYTES}-byte limit` };
  }
  const end = offset + RECORD_HEADER_BYTES + payloadBytes;
  if (end > bytes.length) {
    return { offset, kind: 'short-payload', reason: `record length ${payloadBytes} runs ${end - bytes.length} bytes past the end of the file` };
  }
  const stored = bytes.readUInt32BE(offset + 4);
  const actual = crc32Of(bytes, offset + 8, end);
  if (stored !== actual) {
    return { offset, kind: 'checksum', reason: `checksum mismatch: stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)}` };
  }
  const type = bytes[offset + 8]!;
  if (!KNOWN_TYPES.has(type)) return { offset, kind: 'unknown-type', reason: `unknown record type ${type}` };
  return { type: type as RecordType, offset, unit: offset, payload: bytes.subarray(offset + RECORD_HEADER_BYTES, end), end };
}

/**
 * Walks the inner records of a batch record in bytes [from, limit), appending each to `out`: up to
 * and including a batch end, or up to the first that is not well formed (its header or payload
 * past `limit`, or a type a batch cannot hold), which `problem` then describes.
 */
function walkInner(bytes: Buffer, unit: number, from: number, limit: number, out: RecordView[]): { end: number; problem: string | undefined } {
  let at = from;
  while (at < limit) {
    if (limit - at < INNER_HEADER_BYTES) return { end: at, problem: `${limit - at} bytes left at byte ${at}, a record header needs ${INNER_HEADER_BYTES}` };
    const end = at + INNER_HEADER_BYTES + bytes.readUInt32BE(at);
    const type = bytes[at + 4]!;
    if (end > limit) return { end: at, problem: `the record at byte ${at} runs past the batch` };
    if (!INNER_TYPES.has(type)) return { end: at, problem: `record type ${type} at byte ${at}` };
    out.push({ type: type as RecordType, offset: at, unit, payload: bytes.subarray(at + INNER_HEADER_BYTES, end), end });
    at = end;
    if (type === RecordType.batchEnd) break;
  }
  return { end: at, problem: undefined };
}

/**
 * Appends the inner records of the (checksummed) batch record at `offset`, which ends at `end`,
 * to `out`; the reason it is malformed otherwise (and then appends none): an inner record running
 * past the batch, a type a batch cannot hold, or a batch that does not end with exactly one batch
 * end, last.
 */
function expandBatch(bytes: Buffer, offset: number, end: number, out: RecordView[]): ScanFailure | undefined {
  const start = out.length;
  const walked = walkInner(bytes, offset, offset + RECORD_HEADER_BYTES, end, out);
  let problem = walked.problem;
  if (problem === undefined && walked.end !== end) problem = `a batch end at byte ${out.at(-1)!.offset} before the last record`;
  if (problem === undefined && (out.length === start || out.at(-1)!.type !== RecordType.batchEnd)) problem = 'it does not end with a batch end';
  if (problem === undefined) return undefined;
  out.length = start;
  return { offset, kind: 'bad-batch', reason: `malformed batch record: ${problem}` };
}

export function isFailure(value: RecordView | ScanFailure): value is ScanFailure {
  return 'kind' in value;
}

/**
 * Reads records from `from` on, up to the end or the first bad one. A batch record is handed out
 * as its inner records (all of them, or none when it is malformed).
 */
export function scanRecords(bytes: Buffer, from = 0): ScanResult {
  const records: RecordView[] = [];
  let offset = from;
  while (offset < bytes.length) {
    const record = readRecordAt(bytes, offset);
    if (isFailure(record)) return { records, failure: record };
    if (record.type === RecordType.batch) {
      const failure = expandBatch(bytes, record.offset, record.end, records);
      if (failure !== undefined) return { records, failure };
    } else {
      records.push(record);
    }
    offset = record.end;
  }
  return { records, failure: undefined };
}

/**
 * scanRecords over a whole segment file. A preallocated segment (wal.ts) ends in zeros no save has
 * reached yet: where the records stop and only zeros follow, that is the end of the segment's data
 * (`dataEnd`), not a failure. (A bad record is never all zeros from its start otherwise: its header
 * holds a length or a non-zero type byte.)
 */
export function scanSegment(bytes: Buffer): ScanResult & { readonly dataEnd: number } {
  const scan = scanRecords(bytes);
  const failure = scan.failure;
  if (failure !== undefined && isZeroRange(bytes, failure.offset, bytes.length)) {
    return { records: scan.records, failure: undefined, dataEnd: failure.offset };
  }
  return { ...scan, dataEnd: bytes.length };
}

/**
 * When a batch record starts at `offset` (whatever its checksum says): its inner records from the
 * start for as long as they are well formed (each inside the file and the batch's stated length,
 * of a type a batch holds), up to and including a batch end, and the offset where that stops.
 * For a batch record torn by a crash, that is what was written of the save before the tear.
 * Otherwise no records, and `end` is `offset`.
 */
export function innerPrefix(bytes: Buffer, offset: number): { readonly records: RecordView[]; readonly end: number } {
  const records: RecordView[] = [];
  if (offset + RECORD_HEADER_BYTES > bytes.length || bytes[offset + 8] !== RecordType.batch) return { records, end: offset };
  const limit = Math.min(bytes.length, offset + RECORD_HEADER_BYTES + bytes.readUInt32BE(offset));
  return { records, end: walkInner(bytes, offset, offset + RECORD_HEADER_BYTES, limit, records).end };
}

/**
 * Looks for any record with a valid checksum that starts after `from`. A torn write leaves only
 * garbage or nothing after the tear, so finding one means the bad record is not a torn tail.
 * Checking a candidate costs a checksum over its payload; `budgetBytes` bounds the total so a
 * large garbage tail cannot stall recovery: running out answers 'unknown', which the caller treats
 * as corruption (we could not prove the tail torn, so we do not drop it). When the bad record is a
 * batch record, the search starts past its well-formed inner records (innerPrefix): the headers of
 * a large save's entries look like record headers of tens of MiB, and checking each of them used
 * up the budget on an ordinary torn save.
 */
export function findValidRecordAfter(bytes: Buffer, from: number, budgetBytes: number): number | 'none' | 'unknown' {
  let budget = budgetBytes;
  for (let offset = Math.max(from + 1, innerPrefix(bytes, from).end); offset + RECORD_HEADER_BYTES <= bytes.length; offset++) {
    const type = bytes[offset + 8]!;
    if (!KNOWN_TYPES.has(type)) continue;
    const payloadBytes = bytes.readUInt32BE(offset);
    if (offset + RECORD_HEADER_BYTES + payloadBytes > bytes.length) continue;
    budget -= payloadBytes + 1;
    if (budget < 0) return 'unknown';
    if (!isFailure(readRecordAt(bytes, offset))) return offset;
  }
  return 'none';
}
