// Snapshots of the keyspace, produced in chunks while writes keep being applied, and restored from
// a stream of chunks. A snapshot is a point-in-time image: the writer registers itself with the
// keyspace as a copy-on-write cursor, and every write to a key it has not serialized yet first
// saves the key's old entry (see Keyspace.saveForSnapshot). Work per chunk is bounded by the
// chunk size, so even millions of keys never block the event loop for long.
//
// Stream format (numbers little-endian; lengths u32, times and indexes f64):
//   "RFTSNAP1" [version u8 = 1] [appliedIndex f64] [lastTimeMs f64]
//   per database, in index order:
//     [2][db u8][epoch f64][tombstoneFloor f64]      database header
//     ([3][len u32][key][index f64])*                tombstones, oldest first
//     ([1][len u32][key][len u32][value][expiresAtMs f64][modIndex f64])*   keys
//   [0][keyCount f64][digest: 16 ascii hex digits]    trailer, checked on restore
// A chunk boundary may fall anywhere, even inside a value.

import { DB_COUNT, Db, Keyspace, SLOT_COUNT, type CowCursor, type CowTracker, type Entry } from './keyspace.js';

const MAGIC = Buffer.from('RFTSNAP1', 'latin1');
const VERSION = 1;
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

export interface SnapshotMeta {
  /** The log index of the last entry applied when the snapshot began. */
  readonly appliedIndex: number;
  readonly lastTimeMs: number;
  readonly keyCount: number;
  readonly digest: string;
}

/** A typed error for a snapshot stream that is corrupt or does not match its own trailer. */
export class SnapshotFormatError extends Error {
  readonly code = 'SNAPSHOT_FORMAT';
}

/** Accumulates small fields into one buffer; long values are queued as views. */
class Encoder {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  private used = 0;

  constructor(private readonly out: Buffer[]) {}

  private reserve(size: number): void {
    if (this.used + size <= this.buffer.length) return;
    this.flush();
    if (size > this.buffer.length) this.buffer = Buffer.allocUnsafe(size);
  }

  flush(): void {
    if (this.used === 0) return;
    this.out.push(Buffer.from(this.buffer.subarray(0, this.used)));
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

  latin1(text: string): void {
    const length = text.length;
    this.u32(length);
    this.reserve(length);
    if (length <= 64) {
      // Buffer.write costs more than the copy itself for short strings.
      const buffer = this.buffer;
      let at = this.used;
      for (let i = 0; i < length; i++) buffer[at++] = text.charCodeAt(i);
      this.used = at;
    } else {
      this.used += this.buffer.write(text, this.used, 'latin1');
    }
  }

  value(value: string | Buffer): void {
    if (typeof value === 'string') {
      if (value.length < INLINE_VALUE_BYTES_MAX) {
        this.latin1(value);
      } else {
        this.u32(value.length);
        this.flush();
        this.out.push(Buffer.from(value, 'latin1'));
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
      this.out.push(value);
    }
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
  private readonly queue: Buffer[] = [];
  private queueHeadOffset = 0;
  private readonly encoder = new Encoder(this.queue);
  private stage: 'header' | 'db' | 'end' | 'done' = 'header';
  private recordsThisCall = 0;
  private cancelled = false;

  constructor(private readonly keyspace: Keyspace, appliedIndex: number, lastTimeMs: number) {
    let keyCount = 0;
    keyspace.dbs.forEach((db, ordinal) => {
      const tracker: CowTracker = { slots: db.slots, ordinal, saved: new Map() };
      this.trackers.set(db, tracker);
      this.plans.push({
        db, index: ordinal, tracker, epoch: db.epoch, tombstoneFloor: db.tombstoneFloor,
        tombstones: [...db.tombstones],
      });
      keyCount += db.size;
    });
    this.meta = { appliedIndex, lastTimeMs, keyCount, digest: keyspace.digest() };
    if (keyspace.cow !== null && keyspace.cow instanceof SnapshotWriter) keyspace.cow.cancel();
    keyspace.cow = this;
  }

  /** Stops this snapshot; the keyspace stops keeping copies for it. */
  cancel(): void {
    this.cancelled = true;
    if (this.keyspace.cow === this) this.keyspace.cow = null;
  }

  /**
   * The next part of the stream, at most `maxBytes` long (shorter when it has serialized
   * RECORDS_PER_CHUNK_MAX keys), or null when done.
   */
  nextChunk(maxBytes: number): Buffer | null {
    if (this.cancelled) throw new Error('snapshot cancelled: a newer snapshot began');
    if (maxBytes < 1) throw new Error(`assertion: maxBytes ${maxBytes} < 1`);
    const parts: Buffer[] = [];
    let size = 0;
    this.recordsThisCall = 0;
    while (size < maxBytes) {
      if (this.queue.length === 0) {
        if (size > 0 && this.recordsThisCall >= RECORDS_PER_CHUNK_MAX) break;
        if (!this.produce()) break;
        continue;
      }
      const head = this.queue[0]!;
      const take = Math.min(maxBytes - size, head.length - this.queueHeadOffset);
      parts.push(head.subarray(this.queueHeadOffset, this.queueHeadOffset + take));
      size += take;
      this.queueHeadOffset += take;
      if (this.queueHeadOffset === head.length) {
        this.queue.shift();
        this.queueHeadOffset = 0;
      }
    }
    if (size === 0) return null;
    return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts, size);
  }

  /** Queues more of the stream: one slot's keys, a database header, or the trailer. */
  private produce(): boolean {
    const encoder = this.encoder;
    switch (this.stage) {
      case 'header': {
        encoder.flush();
        this.queue.push(MAGIC);
        encoder.u8(VERSION);
        encoder.f64(this.meta.appliedIndex);
        encoder.f64(this.meta.lastTimeMs);
        this.startDb();
        break;
      }
      case 'db': {
        const plan = this.plans[this.dbOrdinal]!;
        // Copy slots until a few dozen KB are queued.
        while (this.slot < SLOT_COUNT && encoder.pendingBytes < 32 * 1024 && this.queue.length < 64) {
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
        this.queue.push(Buffer.from(this.meta.digest, 'latin1'));
        this.stage = 'done';
        if (this.keyspace.cow === this) this.keyspace.cow = null;
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
    if (plan.tracker.slots === undefined) this.slot = SLOT_COUNT;
  }

  private copySlot(plan: DbPlan, slot: number): void {
    const saved = plan.tracker.saved.get(slot);
    const map = plan.tracker.slots?.[slot];
    if (map !== undefined) {
      for (const [key, entry] of map) if (saved === undefined || !saved.has(key)) this.writeKey(key, entry);
    }
    if (saved !== undefined) {
      for (const [key, entry] of saved) if (entry !== null) this.writeKey(key, entry);
      plan.tracker.saved.delete(slot);
    }
  }

  private writeKey(key: string, entry: Entry): void {
    this.recordsThisCall++;
    const encoder = this.encoder;
    encoder.u8(TAG_KEY);
    encoder.latin1(key);
    encoder.value(entry.value);
    encoder.f64(entry.expiresAtMs);
    encoder.f64(entry.modIndex);
  }
}

function isWholeNumber(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** A request for the next `size` bytes of the stream. */
type Need = number;

/** Rebuilds a keyspace from a snapshot stream, chunk by chunk. Created by StateMachine.beginRestore. */
export class SnapshotRestorer {
  readonly keyspace = new Keyspace();
  private readonly chunks: Buffer[] = [];
  private available = 0;
  private headOffset = 0;
  private readonly parser: Generator<Need, void, Buffer>;
  private need: Need;
  private finished = false;
  private header: { appliedIndex: number; lastTimeMs: number } | undefined;
  private trailer: { keyCount: number; digest: string } | undefined;

  constructor() {
    this.parser = this.parse();
    this.need = this.parser.next(Buffer.alloc(0)).value as Need;
  }

  /** Feeds the next chunk; throws SnapshotFormatError on a corrupt stream. */
  push(chunk: Uint8Array): void {
    if (this.finished) throw new SnapshotFormatError('bytes after the end of the snapshot');
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (buffer.length === 0) return;
    this.chunks.push(buffer);
    this.available += buffer.length;
    while (!this.finished && this.available >= this.need) {
      const bytes = this.take(this.need);
      const step = this.parser.next(bytes);
      if (step.done === true) this.finished = true;
      else this.need = step.value;
    }
  }

  private take(size: number): Buffer {
    this.available -= size;
    const head = this.chunks[0];
    if (size === 0) return Buffer.alloc(0);
    if (head !== undefined && head.length - this.headOffset >= size) {
      const view = head.subarray(this.headOffset, this.headOffset + size);
      this.headOffset += size;
      if (this.headOffset === head.length) {
        this.chunks.shift();
        this.headOffset = 0;
      }
      return view;
    }
    const out = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const chunk = this.chunks[0]!;
      const count = Math.min(size - filled, chunk.length - this.headOffset);
      chunk.copy(out, filled, this.headOffset, this.headOffset + count);
      filled += count;
      this.headOffset += count;
      if (this.headOffset === chunk.length) {
        this.chunks.shift();
        this.headOffset = 0;
      }
    }
    return out;
  }

  private *parse(): Generator<Need, void, Buffer> {
    const magic = yield MAGIC.length;
    if (!magic.equals(MAGIC)) throw new SnapshotFormatError('not a raftis snapshot (bad magic)');
    const head = yield 17;
    if (head[0] !== VERSION) throw new SnapshotFormatError(`unsupported snapshot version ${head[0]}`);
    this.header = { appliedIndex: head.readDoubleLE(1), lastTimeMs: head.readDoubleLE(9) };
    const ks = this.keyspace;
    ks.mutable = true;
    let db: Db | undefined;
    for (;;) {
      const tag = (yield 1)[0]!;
      if (tag === TAG_END) {
        const tail = yield 8 + 16;
        this.trailer = { keyCount: tail.readDoubleLE(0), digest: tail.toString('latin1', 8, 24) };
        return;
      }
      if (tag === TAG_DB) {
        const fields = yield 17;
        const index = fields[0]!;
        if (index >= DB_COUNT) throw new SnapshotFormatError(`database ${index} out of range`);
        db = ks.db(index);
        db.epoch = fields.readDoubleLE(1);
        db.tombstoneFloor = fields.readDoubleLE(9);
        if (!isWholeNumber(db.epoch) || !isWholeNumber(db.tombstoneFloor)) throw new SnapshotFormatError(`database ${index}: bad header`);
        continue;
      }
      if (db === undefined) throw new SnapshotFormatError(`record of tag ${tag} before any database header`);
      const keyLength = (yield 4).readUInt32LE(0);
      const key = (yield keyLength).toString('latin1');
      if (tag === TAG_TOMBSTONE) {
        const index = (yield 8).readDoubleLE(0);
        if (!isWholeNumber(index)) throw new SnapshotFormatError(`tombstone ${JSON.stringify(key)}: bad index ${index}`);
        db.tombstones.set(key, index);
        continue;
      }
      if (tag !== TAG_KEY) throw new SnapshotFormatError(`unknown record tag ${tag}`);
      const valueLength = (yield 4).readUInt32LE(0);
      // Copied into its stored form (the chunk may be large and the value small).
      const value = yield valueLength;
      const times = yield 16;
      const expiresAtMs = times.readDoubleLE(0);
      const modIndex = times.readDoubleLE(8);
      if (!isWholeNumber(expiresAtMs) || !isWholeNumber(modIndex)) {
        throw new SnapshotFormatError(`key ${JSON.stringify(key)}: bad expiry ${expiresAtMs} or index ${modIndex}`);
      }
      ks.load(db.index, key, value, expiresAtMs, modIndex);
    }
  }

  /** Checks the trailer against what was rebuilt; returns the restored keyspace and its position. */
  finish(): { keyspace: Keyspace; appliedIndex: number; lastTimeMs: number } {
    if (!this.finished || this.header === undefined || this.trailer === undefined) {
      throw new SnapshotFormatError('snapshot stream ended early');
    }
    if (this.available !== 0) throw new SnapshotFormatError(`${this.available} bytes after the snapshot trailer`);
    const ks = this.keyspace;
    ks.mutable = false;
    let keyCount = 0;
    for (const db of ks.dbs) keyCount += db.size;
    if (keyCount !== this.trailer.keyCount) {
      throw new SnapshotFormatError(`snapshot holds ${keyCount} keys, trailer says ${this.trailer.keyCount}`);
    }
    const digest = ks.digest();
    if (digest !== this.trailer.digest) {
      throw new SnapshotFormatError(`snapshot digest ${digest} does not match trailer ${this.trailer.digest}`);
    }
    return { keyspace: ks, appliedIndex: this.header.appliedIndex, lastTimeMs: this.header.lastTimeMs };
  }
}
