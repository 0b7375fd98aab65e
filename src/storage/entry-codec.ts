// Binary encoding of one Raft log entry, shared by the write-ahead log and (so that an entry is
// the same bytes on disk and on the wire) the peer transport. All integers are big-endian:
//
//   u64 term | u64 index | u8 kind | u32 dataLength | data | u8 hasChange
//   and when hasChange is 1: u8 changeType | u32 nodeId | u32 contextLength | context
//
// kind: 0 normal, 1 noop, 2 conf. changeType: 0 addLearner, 1 promote, 2 remove.
// This is byte for byte the layout src/transport/codec.ts uses inside append messages.
import type { ConfChange, ConfChangeType, Entry, EntryKind } from '../raft/types.js';
import { asBuffer, readU64, writeU32, writeU64 } from './binary.js';
import { EntryDecodeError } from './errors.js';

/** The size of an entry with no data and no conf change. */
export const ENTRY_MIN_BYTES = 8 + 8 + 1 + 4 + 1;
const CHANGE_FIXED_BYTES = 1 + 4 + 4;

const KIND_CODES: { readonly [K in EntryKind]: number } = { normal: 0, noop: 1, conf: 2 };
const KINDS: readonly EntryKind[] = ['normal', 'noop', 'conf'];
const CHANGE_CODES: { readonly [K in ConfChangeType]: number } = { addLearner: 0, promote: 1, remove: 2 };
const CHANGE_TYPES: readonly ConfChangeType[] = ['addLearner', 'promote', 'remove'];

export function encodedEntrySize(entry: Entry): number {
  let size = ENTRY_MIN_BYTES + entry.data.length;
  if (entry.change !== undefined) size += CHANGE_FIXED_BYTES + entry.change.context.length;
  return size;
}

/**
 * Writes `entry` into `target` at `offset` and returns the offset just past it. The caller sizes
 * `target` with encodedEntrySize, so a batch of entries is encoded into one allocation.
 */
export function encodeEntryInto(entry: Entry, target: Buffer, offset: number): number {
  let at = offset;
  writeU64(target, at, entry.term, 'entry.term');
  writeU64(target, at + 8, entry.index, 'entry.index');
  target[at + 16] = KIND_CODES[entry.kind];
  writeU32(target, at + 17, entry.data.length, 'entry.data.length');
  at += 21;
  target.set(entry.data, at);
  at += entry.data.length;
  const change = entry.change;
  if (change === undefined) {
    target[at] = 0;
    return at + 1;
  }
  target[at] = 1;
  target[at + 1] = CHANGE_CODES[change.type];
  writeU32(target, at + 2, change.nodeId, 'change.nodeId');
  writeU32(target, at + 6, change.context.length, 'change.context.length');
  at += 10;
  target.set(change.context, at);
  return at + change.context.length;
}

export function encodeEntry(entry: Entry): Buffer {
  const target = Buffer.allocUnsafe(encodedEntrySize(entry));
  const end = encodeEntryInto(entry, target, 0);
  if (end !== target.length) throw new Error(`entry encoded to ${end} bytes, sized ${target.length}`);
  return target;
}

export interface DecodeEntryOptions {
  /**
   * Return `data` and `context` as views into `source` instead of copies. Cheaper, but the entry
   * then keeps the whole source buffer alive and changes if the buffer is reused.
   */
  readonly view?: boolean;
}

/** Decodes the entry starting at `offset`; `end` is the offset just past it. */
export function decodeEntryAt(
  source: Uint8Array,
  offset: number,
  options: DecodeEntryOptions = {},
): { readonly entry: Entry; readonly end: number } {
  const bytes = asBuffer(source);
  const take = (start: number, length: number, field: string): Buffer => {
    if (start + length > bytes.length) {
      throw new EntryDecodeError(offset, `${field} needs ${length} bytes at ${start}, only ${bytes.length - start} remain`);
    }
    const view = bytes.subarray(start, start + length);
    return options.view === true ? view : Buffer.from(view);
  };
  if (offset + ENTRY_MIN_BYTES > bytes.length) {
    throw new EntryDecodeError(offset, `needs at least ${ENTRY_MIN_BYTES} bytes, only ${bytes.length - offset} remain`);
  }
  const term = readU64(bytes, offset);
  const index = readU64(bytes, offset + 8);
  if (term < 0) throw new EntryDecodeError(offset, 'term exceeds 2^53');
  if (index < 0) throw new EntryDecodeError(offset, 'index exceeds 2^53');
  const kind = KINDS[bytes[offset + 16]!];
  if (kind === undefined) throw new EntryDecodeError(offset, `unknown kind code ${bytes[offset + 16]}`);
  const dataLength = bytes.readUInt32BE(offset + 17);
  const data = take(offset + 21, dataLength, 'data');
  let at = offset + 21 + dataLength;
  if (at >= bytes.length) throw new EntryDecodeError(offset, 'missing the conf change flag');
  const hasChange = bytes[at];
  at += 1;
  if (hasChange === 0) return { entry: { term, index, kind, data }, end: at };
  if (hasChange !== 1) throw new EntryDecodeError(offset, `conf change flag is ${hasChange}, not 0 or 1`);
  if (at + CHANGE_FIXED_BYTES > bytes.length) throw new EntryDecodeError(offset, 'conf change truncated');
  const type = CHANGE_TYPES[bytes[at]!];
  if (type === undefined) throw new EntryDecodeError(offset, `unknown conf change type code ${bytes[at]}`);
  const nodeId = bytes.readUInt32BE(at + 1);
  const contextLength = bytes.readUInt32BE(at + 5);
  const context = take(at + 9, contextLength, 'change.context');
  const change: ConfChange = { type, nodeId, context };
  return { entry: { term, index, kind, data, change }, end: at + 9 + contextLength };
}

/** Decodes exactly one entry that fills all of `source`; trailing bytes are an error. */
export function decodeEntry(source: Uint8Array, options: DecodeEntryOptions = {}): Entry {
  const { entry, end } = decodeEntryAt(source, 0, options);
  if (end !== source.length) throw new EntryDecodeError(0, `${source.length - end} trailing bytes after the entry`);
  return entry;
}
