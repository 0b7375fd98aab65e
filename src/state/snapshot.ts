// Snapshots of the keyspace, produced in chunks while writes keep being applied, and restored from
// a stream of chunks. A snapshot is a point-in-time image: the writer registers itself with the
// keyspace as a copy-on-write cursor, and every write to a key it has not serialized yet first
// saves the key's old entry (see Keyspace.saveForSnapshot). Work per chunk is bounded by the
// chunk size and by time (CHUNK_BUDGET_MS: the one clock read in this module; it decides only where
// chunks end, never what the stream holds), so even millions of keys never block the event loop
// for long.
//
// Stream format (numbers little-endian; lengths u32, times and indexes f64):
//   "RFTSNAP1" [version u8 = 1] [appliedIndex f64] [lastTimeMs f64]
//   per database, in index order:
//     [2][db u8][epoch f64][tombstoneFloor f64]      database header
//     ([3][len u32][key][index f64])*                tombstones, oldest first
//     ([1][len u32][key][len u32][value][expiresAtMs f64][modIndex f64])*   keys
//   [0][keyCount f64][digest: 16 ascii hex digits]    trailer, checked on restore
// The digest is Keyspace.digest() at the snapshot's index, or UNTRACKED_DIGEST when the keyspace
// was not keeping it (nobody had asked for RAFT.DIGEST): hashing every write only for this check
// would cost a third of a SET's apply. The bytes themselves are checksummed by the snapshot file
// and its transfer; the digest adds a check of the copy-on-write image when it is there.
// A chunk boundary may fall anywhere, even inside a value.

import {
  DB_COUNT, Db, Keyspace, SLOT_COUNT, latin1, makeStored, writeLatin1,
  type CowCursor, type CowTracker, type Stored,
} from './keyspace.js';
import type { ValueArena } from './value-arena.js';

const MAGIC = Buffer.from('RFTSNAP1', 'latin1');
const VERSION = 1;
/** The trailer's digest of a snapshot taken while the keyspace was not keeping one. */
export const UNTRACKED_DIGEST = '-'.repeat(16);
const TAG_END = 0;
const TAG_KEY = 1;
const TAG_DB = 2;
const TAG_TOMBSTONE = 3;
/**
 * Keys serialized per nextChunk call at most, whatever the byte budget: with small keys the work
 * of a call is bounded by records, not bytes (a few ms at most).
 */
const RECORDS_PER_CHUNK_MAX = 16384;
/** Values at least this long are queued as views rather than copied into the record buffer. */
const INLINE_VALUE_BYTES_MAX = 4096;
/**
 * Serializing stops for the current nextChunk call once it has run this long (checked between
 * slots): with a large keyspace on a busy machine, 16384 keys could otherwise take hundreds of ms.
 */
const CHUNK_BUDGET_MS = 8;

export interface SnapshotMeta {
  /** The log index of the last entry applied when the snapshot began. */
  readonly appliedIndex: number;
  readonly lastTimeMs: number;
  readonly keyCount: number;
  /** Keyspace.digest() at appliedIndex, or UNTRACKED_DIGEST. */
  readonly digest: string;
}

/** A typed error for a snapshot stream that is corrupt or does not match its own trailer. */
export class SnapshotFormatError extends Error {
  readonly code = 'SNAPSHOT_FORMAT';
}

/**
 * Where encoded bytes go: `owned` bytes never change (a long value), so they may be kept as they
 * are; others (the encoder's reused buffer) must be copied before the call returns.
 */
type Sink = (bytes: Buffer, owned: boolean) => void;

/** Accumulates small fields into one reused buffer, handed to the sink in pieces of a few dozen KB. */
class Encoder {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  /** The buffer as a DataView, for the arena to write values into (ValueArena.writeValueTo). */
  private view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
  private used = 0;

  constructor(private readonly sink: Sink) {}

  private reserve(size: number): void {
    if (this.used + size <= this.buffer.length) return;
    this.flush();
    if (size > this.buffer.length) {
      this.buffer = Buffer.allocUnsafe(size);
      this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
    }
  }

  flush(): void {
    if (this.used === 0) return;
    this.sink(this.buffer.subarray(0, this.used), false);
    this.used = 0;
  }

  u8(value: number): void {
    this.reserve(1);
    this.buffer[this.used++] = value;
  }

  u32(value: number): void {
    this.reserve(4);
    this.buffer.writeUInt32LE(value, this.used);
    this.used += 4;
  }

  f64(value: number): void {
    this.reserve(8);
    this.buffer.writeDoubleLE(value, this.used);
    this.used += 8;
  }

  /** A length-prefixed latin1 string: the first `length` chars of `text`. */
  latin1(text: string, length: number = text.length): void {
    this.u32(length);
    this.reserve(length);
    writeLatin1(this.buffer, this.used, text, length);
    this.used += length;
  }

  value(value: string | Buffer): void {
    if (typeof value === 'string') {
      if (value.length < INLINE_VALUE_BYTES_MAX) {
        this.latin1(value);
      } else {
        this.u32(value.length);
        this.flush();
        this.sink(Buffer.from(value, 'latin1'), true);
      }
      return;
    }
    this.u32(value.length);
    if (value.length < INLINE_VALUE_BYTES_MAX) {
      this.reserve(value.length);
      value.copy(this.buffer, this.used);
      this.used += value.length;
    } else {
      this.flush();
      this.sink(value, true);
    }
  }

  /**
   * A key's whole record when its value is an arena record (no expiry): one reserve, and the
   * fields written straight into the buffer.
   */
  arenaKey(key: string, arena: ValueArena, handle: number): void {
    const keyLength = key.length;
    const valueLength = arena.length(handle);
    const at = this.arenaKeyHead(keyLength, valueLength);
    writeLatin1(this.buffer, at, key, keyLength);
    this.arenaKeyTail(at + keyLength, arena, handle, valueLength);
  }

  /** arenaKey() for a key whose bytes are a record of `keys` (a database's KeyTable). */
  arenaKeyRecord(keys: ValueArena, keyHandle: number, arena: ValueArena, handle: number): void {
    const keyLength = keys.length(keyHandle);
    const valueLength = arena.length(handle);
    const at = this.arenaKeyHead(keyLength, valueLength);
    this.arenaKeyTail(at + keys.writeValueTo(keyHandle, this.buffer, this.view, at), arena, handle, valueLength);
  }

  /** Reserves an arena key's record and writes its tag and key length; where the key's bytes go. */
  private arenaKeyHead(keyLength: number, valueLength: number): number {
    this.reserve(1 + 4 + keyLength + 4 + valueLength + 16);
    const at = this.used;
    this.view.setUint8(at, TAG_KEY);
    this.view.setUint32(at + 1, keyLength, true);
    return at + 5;
  }

  /** The rest of an arena key's record from `at`, just past the key: the value, no expiry, its modIndex. */
  private arenaKeyTail(at: number, arena: ValueArena, handle: number, valueLength: number): void {
    const view = this.view;
    view.setUint32(at, valueLength, true);
    const end = at + 4 + arena.writeValueTo(handle, this.buffer, view, at + 4);
    view.setFloat64(end, 0, true);
    view.setFloat64(end + 8, arena.modIndex(handle), true);
    this.used = end + 16;
  }

  get pendingBytes(): number {
    return this.used;
  }
}

interface DbPlan {
  readonly db: Db;
  readonly index: number;
  readonly tracker: CowTracker;
  readonly epoch: number;
  readonly tombstoneFloor: number;
  readonly tombstones: readonly [string, number][];
}

/**
 * Serializes the keyspace as it was when created. Call nextChunk until it returns null; writes
 * may be applied between calls. Created by StateMachine.beginSnapshot.
 */
export class SnapshotWriter implements CowCursor {
  readonly trackers = new Map<Db, CowTracker>();
  dbOrdinal = 0;
  slot = 0;
  readonly meta: SnapshotMeta;
  private readonly plans: DbPlan[] = [];
  /** The buffer nextChunkReusingBuffer fills again on each call. */
  private reusable: Buffer = Buffer.alloc(0);
  /** The chunk being filled by nextChunk, and how much of it is. */
  private out: Buffer = Buffer.alloc(0);
  private filled = 0;
  /** Bytes produced beyond the last chunk's end, owned (copied if they were not). */
  private carry: Buffer[] = [];
  private readonly encoder = new Encoder((bytes, owned) => this.accept(bytes, owned));
  private stage: 'header' | 'db' | 'end' | 'done' = 'header';
  private recordsThisCall = 0;
  private deadlineMs = 0;
  private cancelled = false;

  constructor(private readonly keyspace: Keyspace, appliedIndex: number, lastTimeMs: number) {
    let keyCount = 0;
    keyspace.dbs.forEach((db, ordinal) => {
      const tracker: CowTracker = { table: db.table, ordinal, saved: new Map() };
      this.trackers.set(db, tracker);
      this.plans.push({
        db, index: ordinal, tracker, epoch: db.epoch, tombstoneFloor: db.tombstoneFloor,
        tombstones: [...db.tombstones],
      });
      keyCount += db.size;
    });
    this.meta = { appliedIndex, lastTimeMs, keyCount, digest: keyspace.digestTracked ? keyspace.digest() : UNTRACKED_DIGEST };
    if (keyspace.cow !== null && keyspace.cow instanceof SnapshotWriter) keyspace.cow.cancel();
    keyspace.cow = this;
  }

  /** Stops this snapshot; the keyspace stops keeping copies for it. */
  cancel(): void {
    this.cancelled = true;
    this.keyspace.endSnapshot(this);
  }

  /**
   * The next part of the stream, at most `maxBytes` long (shorter when it has serialized
   * RECORDS_PER_CHUNK_MAX keys), or null when done.
   */
  nextChunk(maxBytes: number): Buffer | null {
    return this.fill(Buffer.allocUnsafe(maxBytes), false);
  }

  /**
   * As nextChunk, but the chunk is a view of one buffer this writer keeps and fills again on
   * the next call: valid only until then. For a caller that writes each chunk out before asking
   * for the next (RaftNode.takeSnapshot): a 1 GB image is then not 1,000 fresh 1 MiB buffers,
   * whose external memory made V8 run full collections of a large heap back to back (a third of
   * the leader's time in the first second of a 1 GB snapshot, and 0.5 s write stalls).
   */
  nextChunkReusingBuffer(maxBytes: number): Buffer | null {
    if (this.reusable.length !== maxBytes) this.reusable = Buffer.allocUnsafe(maxBytes);
    return this.fill(this.reusable, true);
  }

  private fill(out: Buffer, reused: boolean): Buffer | null {
    const maxBytes = out.length;
    if (this.cancelled) throw new Error('snapshot cancelled: a newer snapshot began');
    if (maxBytes < 1) throw new Error(`assertion: maxBytes ${maxBytes} < 1`);
    // Records are encoded straight into the chunk (one allocation per chunk, or none when
    // reused); what does not fit is carried over to the next call.
    this.out = out;
    this.filled = 0;
    const carried = this.carry;
    this.carry = [];
    for (const bytes of carried) this.accept(bytes, true);
    this.recordsThisCall = 0;
    this.deadlineMs = performance.now() + CHUNK_BUDGET_MS;
    while (this.filled < maxBytes && this.carry.length === 0) {
      if (this.filled > 0 && (this.recordsThisCall >= RECORDS_PER_CHUNK_MAX || performance.now() >= this.deadlineMs)) break;
      if (!this.produce()) break;
    }
    const size = this.filled;
    this.out = Buffer.alloc(0);
    this.filled = 0;
    if (size === 0) return null;
    // A chunk cut short by the time budget is copied, so that it does not hold on to maxBytes
    // (a reused buffer is held anyway).
    return !reused && size < maxBytes >> 2 ? Buffer.from(out.subarray(0, size)) : out.subarray(0, size);
  }

  /** Takes produced bytes into the chunk being filled; the rest is carried over. */
  private accept(bytes: Buffer, owned: boolean): void {
    const room = this.out.length - this.filled;
    if (this.carry.length === 0 && room > 0) {
      const count = Math.min(room, bytes.length);
      bytes.copy(this.out, this.filled, 0, count);
      this.filled += count;
      if (count === bytes.length) return;
      bytes = bytes.subarray(count);
    }
    this.carry.push(owned ? bytes : Buffer.from(bytes));
  }

  /** Queues more of the stream: one slot's keys, a database header, or the trailer. */
  private produce(): boolean {
    const encoder = this.encoder;
    switch (this.stage) {
      case 'header': {
        encoder.flush();
        this.accept(MAGIC, true);
        encoder.u8(VERSION);
        encoder.f64(this.meta.appliedIndex);
        encoder.f64(this.meta.lastTimeMs);
        this.startDb();
        break;
      }
      case 'db': {
        const plan = this.plans[this.dbOrdinal]!;
        // Copy slots until a few dozen KB are queued, or the call's time is up (at least one slot).
        let first = true;
        while (this.slot < SLOT_COUNT && encoder.pendingBytes < 32 * 1024 && this.carry.length === 0
          && (first || (this.slot & 7) !== 0 || performance.now() < this.deadlineMs)) {
          first = false;
          this.copySlot(plan, this.slot);
          this.slot++;
        }
        if (this.slot >= SLOT_COUNT) {
          this.dbOrdinal++;
          this.slot = 0;
          if (this.dbOrdinal < this.plans.length) this.startDb();
          else this.stage = 'end';
        }
        break;
      }
      case 'end': {
        encoder.u8(TAG_END);
        encoder.f64(this.meta.keyCount);
        encoder.flush();
        this.accept(Buffer.from(this.meta.digest, 'latin1'), true);
        this.stage = 'done';
        this.keyspace.endSnapshot(this);
        return true;
      }
      case 'done':
        return false;
      default: {
        const never: never = this.stage;
        throw new Error(`unknown stage ${String(never)}`);
      }
    }
    encoder.flush();
    return true;
  }

  private startDb(): void {
    const plan = this.plans[this.dbOrdinal]!;
    const encoder = this.encoder;
    encoder.u8(TAG_DB);
    encoder.u8(plan.index);
    encoder.f64(plan.epoch);
    encoder.f64(plan.tombstoneFloor);
    for (const [key, index] of plan.tombstones) {
      encoder.u8(TAG_TOMBSTONE);
      encoder.latin1(key);
      encoder.f64(index);
    }
    this.stage = 'db';
    // A database empty when the snapshot began has nothing to copy.
    if (plan.tracker.table === undefined) this.slot = SLOT_COUNT;
  }

  private copySlot(plan: DbPlan, slot: number): void {
    const saved = plan.tracker.saved.get(slot);
    const table = plan.tracker.table;
    const db = plan.db;
    const count = table === undefined ? 0 : table.slotSize(slot);
    // The slot's live keys, but those written since the snapshot began (their saved copies follow).
    // Positions are walked directly: no string and no array per key for an arena key and value.
    for (let k = 0, at = 1; k < count; k++, at += 3) {
      const stored = table!.storedAt(slot, at);
      const keyHandle = table!.keyHandleAt(slot, at);
      if (saved === undefined && keyHandle >= 0 && typeof stored === 'number') {
        this.recordsThisCall++;
        this.encoder.arenaKeyRecord(table!.keys, keyHandle, db.arena, stored);
        continue;
      }
      const key = table!.keyAt(slot, at);
      if (saved === undefined || !saved.has(key)) this.writeKey(db, key, stored);
    }
    if (saved !== undefined) {
      for (const [key, entry] of saved) if (entry !== null) this.writeKey(db, key, entry);
      plan.tracker.saved.delete(slot);
    }
  }

  /** One key's record; an arena handle is read from `db` (the Db as it was when the snapshot began). */
  private writeKey(db: Db, key: string, stored: Stored): void {
    this.recordsThisCall++;
    const encoder = this.encoder;
    if (typeof stored === 'number') {
      encoder.arenaKey(key, db.arena, stored);
      return;
    }
    encoder.u8(TAG_KEY);
    encoder.latin1(key);
    encoder.value(stored.value);
    encoder.f64(stored.expiresAtMs);
    encoder.f64(stored.modIndex);
  }
}

function isWholeNumber(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

const HEADER_BYTES = MAGIC.length + 17;

/**
 * Rebuilds a keyspace from a snapshot stream, chunk by chunk. Created by StateMachine.beginRestore.
 * Each chunk is parsed in place with a plain loop over an offset (no Buffer view per field); the
 * bytes of a record that straddles chunks are kept (as views) until enough have arrived, then
 * joined once. Keys go in through Keyspace.load, the bulk path that looks for no old entry.
 */
export class SnapshotRestorer {
  readonly keyspace = new Keyspace();
  /** Unparsed bytes: the start of a record that straddles chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** How many unparsed bytes the parser needs before it can go on. */
  private needed = HEADER_BYTES;
  private started = false;
  private finished = false;
  private db: Db | undefined;
  private header: { appliedIndex: number; lastTimeMs: number } | undefined;
  private trailer: { keyCount: number; digest: string } | undefined;

  /** Feeds the next chunk; throws SnapshotFormatError on a corrupt stream. */
  push(chunk: Uint8Array): void {
    if (this.finished) throw new SnapshotFormatError('bytes after the end of the snapshot');
    const incoming = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (incoming.length === 0) return;
    const total = this.pendingBytes + incoming.length;
    if (total < this.needed) {
      this.pending.push(incoming);
      this.pendingBytes = total;
      return;
    }
    let buffer = incoming;
    if (this.pendingBytes > 0) {
      this.pending.push(incoming);
      buffer = Buffer.concat(this.pending, total);
    }
    const at = this.parse(buffer);
    const rest = buffer.length - at;
    if (this.finished && rest > 0) throw new SnapshotFormatError(`${rest} bytes after the snapshot trailer`);
    this.pending = rest > 0 ? [buffer.subarray(at)] : [];
    this.pendingBytes = rest;
  }

  /** Parses every whole record of `buffer`; returns where the first incomplete one starts. */
  private parse(buffer: Buffer): number {
    const end = buffer.length;
    let at = 0;
    if (!this.started) {
      if (!buffer.subarray(0, MAGIC.length).equals(MAGIC)) throw new SnapshotFormatError('not a raftis snapshot (bad magic)');
      if (buffer[MAGIC.length] !== VERSION) throw new SnapshotFormatError(`unsupported snapshot version ${buffer[MAGIC.length]}`);
      this.header = { appliedIndex: buffer.readDoubleLE(MAGIC.length + 1), lastTimeMs: buffer.readDoubleLE(MAGIC.length + 9) };
      this.started = true;
      at = HEADER_BYTES;
    }
    const ks = this.keyspace;
    this.needed = 1;
    while (at < end) {
      const tag = buffer[at]!;
      if (tag === TAG_KEY) {
        if (at + 5 > end) {
          this.needed = 5;
          break;
        }
        const keyStart = at + 5;
        const keyEnd = keyStart + buffer.readUInt32LE(at + 1);
        if (keyEnd + 4 > end) {
          this.needed = keyEnd + 4 - at;
          break;
        }
        const valueStart = keyEnd + 4;
        const valueLength = buffer.readUInt32LE(keyEnd);
        const valueEnd = valueStart + valueLength;
        if (valueEnd + 16 > end) {
          this.needed = valueEnd + 16 - at;
          break;
        }
        const db = this.db;
        if (db === undefined) throw new SnapshotFormatError(`record of tag ${tag} before any database header`);
        const expiresAtMs = buffer.readDoubleLE(valueEnd);
        const modIndex = buffer.readDoubleLE(valueEnd + 8);
        if (!isWholeNumber(expiresAtMs) || !isWholeNumber(modIndex)) {
          throw new SnapshotFormatError(`key ${JSON.stringify(latin1(buffer, keyStart, keyEnd))}: bad expiry ${expiresAtMs} or index ${modIndex}`);
        }
        // Copied into its stored form (the chunk may be large and the value small).
        const stored = makeStored(db, buffer, valueStart, valueLength, expiresAtMs, modIndex);
        ks.loadBytes(db, buffer, keyStart, keyEnd - keyStart, stored);
        at = valueEnd + 16;
        continue;
      }
      if (tag === TAG_DB) {
        if (at + 18 > end) {
          this.needed = 18;
          break;
        }
        const index = buffer[at + 1]!;
        if (index >= DB_COUNT) throw new SnapshotFormatError(`database ${index} out of range`);
        const db = ks.db(index);
        db.epoch = buffer.readDoubleLE(at + 2);
        db.tombstoneFloor = buffer.readDoubleLE(at + 10);
        if (!isWholeNumber(db.epoch) || !isWholeNumber(db.tombstoneFloor)) throw new SnapshotFormatError(`database ${index}: bad header`);
        this.db = db;
        at += 18;
        continue;
      }
      if (tag === TAG_TOMBSTONE) {
        if (at + 5 > end) {
          this.needed = 5;
          break;
        }
        const keyEnd = at + 5 + buffer.readUInt32LE(at + 1);
        if (keyEnd + 8 > end) {
          this.needed = keyEnd + 8 - at;
          break;
        }
        const db = this.db;
        if (db === undefined) throw new SnapshotFormatError(`record of tag ${tag} before any database header`);
        const key = buffer.toString('latin1', at + 5, keyEnd);
        const index = buffer.readDoubleLE(keyEnd);
        if (!isWholeNumber(index)) throw new SnapshotFormatError(`tombstone ${JSON.stringify(key)}: bad index ${index}`);
        db.tombstones.set(key, index);
        at = keyEnd + 8;
        continue;
      }
      if (tag === TAG_END) {
        if (at + 25 > end) {
          this.needed = 25;
          break;
        }
        this.trailer = { keyCount: buffer.readDoubleLE(at + 1), digest: buffer.toString('latin1', at + 9, at + 25) };
        this.finished = true;
        return at + 25;
      }
      throw new SnapshotFormatError(`unknown record tag ${tag}`);
    }
    return at;
  }

  /** Checks the trailer against what was rebuilt; returns the restored keyspace and its position. */
  finish(): { keyspace: Keyspace; appliedIndex: number; lastTimeMs: number } {
    if (!this.finished || this.header === undefined || this.trailer === undefined) {
      throw new SnapshotFormatError('snapshot stream ended early');
    }
    const ks = this.keyspace;
    let keyCount = 0;
    for (const db of ks.dbs) keyCount += db.size;
    if (keyCount !== this.trailer.keyCount) {
      throw new SnapshotFormatError(`snapshot holds ${keyCount} keys, trailer says ${this.trailer.keyCount}`);
    }
    if (!ks.loadedCountsMatch()) throw new SnapshotFormatError('snapshot holds a key more than once');
    ks.finishLoad();
    if (this.trailer.digest !== UNTRACKED_DIGEST) {
      const digest = ks.digest();
      if (digest !== this.trailer.digest) {
        throw new SnapshotFormatError(`snapshot digest ${digest} does not match trailer ${this.trailer.digest}`);
      }
      // Checked; a restored replica keeps no digest until asked, as a fresh one.
      ks.untrackDigest();
    }
    return { keyspace: ks, appliedIndex: this.header.appliedIndex, lastTimeMs: this.header.lastTimeMs };
  }
}
