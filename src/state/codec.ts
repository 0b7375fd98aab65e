// The binary format of what raftis puts in a Raft log entry's `data`. Three kinds, each carrying
// the leader's clock (`timeMs`), which the state machine uses as "now" when it applies the entry,
// so every replica computes the same expiry decisions and the same absolute TTLs:
//
//   write        [1][timeMs f64][db u8][argc varint]([len varint][bytes])*
//   transaction  [2][timeMs f64][db u8][watchCount varint]([db u8][live u8][modIndex f64][len varint][key])*
//                [commandCount varint]([argc varint]([len varint][bytes])*)*
//   expiry       [3][timeMs f64][count varint]([db u8][len varint][key])*
//
// Numbers are little-endian; a varint is LEB128 (7 bits per byte). timeMs and modIndex are whole
// numbers below 2^53, stored as float64 so they decode without bigint.

export interface WriteEntry {
  readonly kind: 'write';
  readonly timeMs: number;
  readonly db: number;
  readonly argv: readonly Buffer[];
}

/** A key WATCHed by the transaction, with what the client saw when it watched it. */
export interface WatchedKey {
  readonly db: number;
  readonly key: Buffer;
  /** StateMachine.modIndex(db, key, nowMs) at WATCH time. */
  readonly modIndex: number;
  /** Whether the key existed (and had not expired) at WATCH time. */
  readonly live: boolean;
}

export interface TransactionEntry {
  readonly kind: 'transaction';
  readonly timeMs: number;
  /** The client's database when EXEC ran (SELECT inside the transaction may change it). */
  readonly db: number;
  readonly commands: readonly (readonly Buffer[])[];
  readonly watches: readonly WatchedKey[];
}

export interface ExpiryEntry {
  readonly kind: 'expiry';
  readonly timeMs: number;
  readonly deletes: readonly { readonly db: number; readonly key: Buffer }[];
}

export type StateEntry = WriteEntry | TransactionEntry | ExpiryEntry;

const KIND_WRITE = 1;
const KIND_TRANSACTION = 2;
const KIND_EXPIRY = 3;

/** A typed error for bytes that are not a valid entry (a corrupt or foreign log entry). */
export class EntryDecodeError extends Error {
  readonly code = 'ENTRY_DECODE';
}

class Writer {
  private parts: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(64);
  private used = 0;

  private reserve(size: number): void {
    if (this.used + size > this.scratch.length) {
      this.flushScratch();
      if (size > this.scratch.length) this.scratch = Buffer.allocUnsafe(size);
    }
  }

  private flushScratch(): void {
    if (this.used > 0) this.parts.push(Buffer.from(this.scratch.subarray(0, this.used)));
    this.used = 0;
  }

  u8(value: number): void {
    this.reserve(1);
    this.scratch[this.used++] = value;
  }

  f64(value: number): void {
    this.reserve(8);
    this.scratch.writeDoubleLE(value, this.used);
    this.used += 8;
  }

  varint(value: number): void {
    this.reserve(10);
    this.used = putVarint(this.scratch, this.used, value);
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    if (value.length <= 32) {
      this.reserve(value.length);
      this.scratch.set(value, this.used);
      this.used += value.length;
      return;
    }
    this.flushScratch();
    this.parts.push(Buffer.from(value.buffer, value.byteOffset, value.length));
  }

  finish(): Buffer {
    this.flushScratch();
    return Buffer.concat(this.parts);
  }
}

export class Reader {
  offset = 0;
  constructor(private readonly data: Buffer) {}

  private need(size: number): void {
    if (this.offset + size > this.data.length) {
      throw new EntryDecodeError(`entry truncated: need ${size} bytes at ${this.offset} of ${this.data.length}`);
    }
  }

  u8(): number {
    this.need(1);
    return this.data[this.offset++]!;
  }

  f64(): number {
    this.need(8);
    const value = this.data.readDoubleLE(this.offset);
    this.offset += 8;
    return value;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new EntryDecodeError(`varint too long at ${this.offset}`);
  }

  /** A view into the entry (no copy): the state machine copies what it keeps. */
  bytes(): Buffer {
    const length = this.varint();
    this.need(length);
    const value = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  done(): boolean {
    return this.offset === this.data.length;
  }
}

function assertDb(db: number): void {
  if (!Number.isInteger(db) || db < 0 || db > 255) throw new Error(`assertion: db ${db} is not a u8`);
}

function assertTime(timeMs: number): void {
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new Error(`assertion: timeMs ${timeMs} is not a whole ms`);
}

export function encodeWriteEntry(entry: { timeMs: number; db: number; argv: readonly Uint8Array[] }): Buffer {
  return encodeWrite(entry.timeMs, entry.db, entry.argv);
}

/** encodeWriteEntry without the object around its arguments (the leader's path, once per write). */
export function encodeWrite(timeMs: number, db: number, argv: readonly Uint8Array[]): Buffer {
  assertTime(timeMs);
  assertDb(db);
  // Every write goes through here on the leader: sized first, then written into one buffer,
  // with none of Writer's intermediate parts (the bytes are what Writer would produce).
  let size = 1 + 8 + 1 + varintSize(argv.length);
  for (const arg of argv) size += varintSize(arg.length) + arg.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = KIND_WRITE;
  out.writeDoubleLE(timeMs, 1);
  out[9] = db;
  let at = putVarint(out, 10, argv.length);
  for (const arg of argv) {
    at = putVarint(out, at, arg.length);
    // TypedArray.set costs more than the copy for short arguments.
    if (arg.length <= 32) for (let i = 0; i < arg.length; i++) out[at + i] = arg[i]!;
    else out.set(arg, at);
    at += arg.length;
  }
  if (at !== size) throw new Error(`assertion: write entry encoded ${at} bytes, sized ${size}`);
  return out;
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) size++;
  return size;
}

/** Writes `value` as a varint (LEB128) at `at`; returns the end. */
function putVarint(target: Buffer, at: number, value: number): number {
  let v = value;
  let end = at;
  while (v >= 0x80) {
    target[end++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  target[end++] = v;
  return end;
}

export function encodeTransactionEntry(entry: {
  timeMs: number; db: number; commands: readonly (readonly Uint8Array[])[]; watches: readonly WatchedKey[];
}): Buffer {
  assertTime(entry.timeMs);
  assertDb(entry.db);
  const writer = new Writer();
  writer.u8(KIND_TRANSACTION);
  writer.f64(entry.timeMs);
  writer.u8(entry.db);
  writer.varint(entry.watches.length);
  for (const watch of entry.watches) {
    assertDb(watch.db);
    writer.u8(watch.db);
    writer.u8(watch.live ? 1 : 0);
    writer.f64(watch.modIndex);
    writer.bytes(watch.key);
  }
  writer.varint(entry.commands.length);
  for (const argv of entry.commands) {
    writer.varint(argv.length);
    for (const arg of argv) writer.bytes(arg);
  }
  return writer.finish();
}

export function encodeExpiryEntry(entry: { timeMs: number; deletes: readonly { db: number; key: Uint8Array }[] }): Buffer {
  assertTime(entry.timeMs);
  const writer = new Writer();
  writer.u8(KIND_EXPIRY);
  writer.f64(entry.timeMs);
  writer.varint(entry.deletes.length);
  for (const item of entry.deletes) {
    assertDb(item.db);
    writer.u8(item.db);
    writer.bytes(item.key);
  }
  return writer.finish();
}

function readArgv(reader: Reader): Buffer[] {
  const argc = reader.varint();
  const argv: Buffer[] = [];
  for (let i = 0; i < argc; i++) argv.push(reader.bytes());
  return argv;
}

/** Where the parts of a plain SET write entry are (see plainSetInto). */
export interface PlainSet {
  timeMs: number;
  db: number;
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}

/**
 * Reads a write entry that is exactly `SET key value` (three arguments, the name in any case)
 * into `out` without decoding it into Buffers, for the state machine's fast path. False for any
 * other entry, valid or not: decodeEntry then decodes it, or rejects it with its own error.
 */
export function plainSetInto(data: Buffer, out: PlainSet): boolean {
  // [1][timeMs f64][db u8][argc 3][3]"set"[key length varint][key][value length varint][value]
  if (data.length < 17 || data[0] !== KIND_WRITE || data[10] !== 3 || data[11] !== 3) return false;
  // A byte ORed with 0x20 is the lower-case letter only for that letter and its upper case.
  if ((data[12]! | 0x20) !== 0x73 || (data[13]! | 0x20) !== 0x65 || (data[14]! | 0x20) !== 0x74) return false;
  const timeMs = data.readDoubleLE(1);
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) return false;
  const keyStart = varintEnd(data, 15);
  if (keyStart < 0) return false;
  const keyEnd = keyStart + varintValue;
  const valueStart = varintEnd(data, keyEnd);
  if (valueStart < 0) return false;
  const valueEnd = valueStart + varintValue;
  if (valueEnd !== data.length) return false;
  out.timeMs = timeMs;
  out.db = data[9]!;
  out.keyStart = keyStart;
  out.keyEnd = keyEnd;
  out.valueStart = valueStart;
  out.valueEnd = valueEnd;
  return true;
}

/** The value of the last varint varintEnd read. */
let varintValue = 0;

/** Reads the varint at `offset` into varintValue (as Reader.varint does); its end, or -1 if it is not one. */
function varintEnd(data: Buffer, offset: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8 && offset + i < data.length; i++) {
    const byte = data[offset + i]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      varintValue = value;
      return offset + i + 1;
    }
    scale *= 0x80;
  }
  return -1;
}

/** Decodes an entry; throws EntryDecodeError for bytes that are not one. */
export function decodeEntry(data: Uint8Array): StateEntry {
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  const reader = new Reader(buffer);
  const kind = reader.u8();
  const timeMs = reader.f64();
  let entry: StateEntry;
  switch (kind) {
    case KIND_WRITE: {
      const db = reader.u8();
      entry = { kind: 'write', timeMs, db, argv: readArgv(reader) };
      break;
    }
    case KIND_TRANSACTION: {
      const db = reader.u8();
      const watchCount = reader.varint();
      const watches: WatchedKey[] = [];
      for (let i = 0; i < watchCount; i++) {
        const watchDb = reader.u8();
        const live = reader.u8() === 1;
        const modIndex = reader.f64();
        watches.push({ db: watchDb, live, modIndex, key: reader.bytes() });
      }
      const commandCount = reader.varint();
      const commands: Buffer[][] = [];
      for (let i = 0; i < commandCount; i++) commands.push(readArgv(reader));
      entry = { kind: 'transaction', timeMs, db, commands, watches };
      break;
    }
    case KIND_EXPIRY: {
      const count = reader.varint();
      const deletes: { db: number; key: Buffer }[] = [];
      for (let i = 0; i < count; i++) {
        const db = reader.u8();
        deletes.push({ db, key: reader.bytes() });
      }
      entry = { kind: 'expiry', timeMs, deletes };
      break;
    }
    default:
      throw new EntryDecodeError(`unknown entry kind ${kind}`);
  }
  if (!reader.done()) throw new EntryDecodeError(`trailing bytes after entry of kind ${kind}`);
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new EntryDecodeError(`bad timeMs ${timeMs}`);
  return entry;
}
