// The keyspace: 16 databases of string values, with absolute expiry times and, per key, the log
// index that last changed it (for WATCH). This module owns every mutation, so that the things
// derived from the data stay exact: the digest, the memory estimate, the expiry heap, the
// tombstones WATCH needs for deleted keys, and the copy-on-write record of a snapshot in progress.
//
// Keys are latin1 strings at this module's interface (one char per byte, so any binary key
// round-trips), spread over 65536 slots per database by a fixed hash of the key, and held off the
// JavaScript heap in the database's KeyTable (key-table.ts): the key's bytes in an arena, and per
// slot a list of (hash, key, stored form). A key without expiry whose value is short has its value
// and modIndex in the database's ValueArena, and its stored form is the record's handle, a small
// integer (see Stored): no object per key at all, and no garbage when a value is overwritten (a
// plain SET of a value of the same size class writes over the record itself: putBytes). The
// slots give SCAN a cursor that survives writes and resizes exactly as Redis's does (see scan()),
// give RANDOMKEY a cheap random start, and give snapshots a unit small enough to copy when a write
// lands in the slot being serialized.
//
// Time: `nowMs` is set by the state machine before each command (the entry's timeMs on apply, the
// caller's clock on a read). A key is live while `expiresAtMs === 0 || expiresAtMs >= nowMs`, as in
// Redis, where a key expires when now > when.

import { bytesSlotHash, mixNumbersInto, slotHash, stringHash, valueHashInto, type Lanes } from './hash.js';
import { KeyTable } from './key-table.js';
import { ARENA_VALUE_BYTES_MAX, ValueArena } from './value-arena.js';

export const DB_COUNT = 16;
export const SLOT_BITS = 16;
export const SLOT_COUNT = 1 << SLOT_BITS;
const SLOT_MASK = SLOT_COUNT - 1;

/** Tombstones kept per database before the oldest are folded into `tombstoneFloor`. */
export const TOMBSTONES_PER_DB_MAX = 65536;

/**
 * FLUSHDB and SWAPDB record per-key WATCH versions for databases up to this many keys; beyond it
 * they raise the database's epoch (a conservative abort of every transaction watching it).
 */
export const EXACT_WATCH_KEYS_MAX = 65536;

/**
 * Estimated bytes per key beyond the key and value themselves: its triple in the slot's list (12
 * bytes, and the list's room to grow), the key's record header (12) and size-class rounding (8 on
 * average) in the KeyTable's arena, and for an arena value the same again; for an Entry the object
 * (48), its boxed expiry time (16), the value's string header and its place in the table's object
 * array. Measured with V8's heapUsed and external memory on 1M keys (bench/gc-pause.ts: 152 MB for
 * 1M keys of 16 bytes with 64-byte values, 7 MB of it the process's own); see docs/performance.md.
 */
const ARENA_OVERHEAD_BYTES = 64;
const ENTRY_OVERHEAD_BYTES = 144;

/**
 * A stored value: a latin1 string (one char per byte) up to STRING_VALUE_BYTES_MAX, a Buffer
 * beyond (V8 strings stop short of 512 MB). Strings because a key is then a few small objects the
 * garbage collector does not have to trace into, about half the memory of a Buffer per key.
 */
export type StoredValue = string | Buffer;

export const STRING_VALUE_BYTES_MAX = 64 * 1024 * 1024;

/** One stored key. Immutable: a change replaces the entry, so a snapshot can keep the old one. */
export interface Entry {
  readonly value: StoredValue;
  /** Absolute Unix time in ms; 0 when the key has no expiry. */
  readonly expiresAtMs: number;
  /** The log index of the last change to this key. */
  readonly modIndex: number;
}

/** The stored form of bytes (copied: argv may be a slice of a whole log entry). */
export function toStored(bytes: Buffer | string): StoredValue {
  if (typeof bytes === 'string') return bytes;
  if (bytes.length <= STRING_VALUE_BYTES_MAX) return bytes.toString('latin1');
  return Buffer.from(bytes);
}

/**
 * How the keyspace holds a key. Either a number, the handle of a record in its database's
 * ValueArena holding the value's bytes and modIndex, for a key without expiry whose value is at
 * most ARENA_VALUE_BYTES_MAX bytes (the arena frees it when the key changes); or an Entry object
 * (a key with an expiry, a long value, or a value the arena had no room for). An Entry is
 * immutable, so a snapshot can keep the old one; a handle a snapshot may still read is freed only
 * when the snapshot ends (Keyspace.store).
 */
export type Stored = number | Entry;

/**
 * Up to this many chars a JavaScript loop writes a latin1 string faster than Node's latin1Write:
 * the crossover measured about 24 chars; at 64 the loop took 250 ns against latin1Write's 95.
 */
export const SHORT_COPY_MAX = 32;

type Latin1Writer = Buffer & { latin1Write?: (text: string, offset: number, length: number) => number };
const nodeLatin1Write: (buffer: Buffer, text: string, offset: number, length: number) => void =
  typeof (Buffer.prototype as Latin1Writer).latin1Write === 'function'
    ? (buffer, text, offset, length) => (buffer as Latin1Writer).latin1Write!(text, offset, length)
    : (buffer, text, offset, length) => buffer.write(text, offset, length, 'latin1');

/**
 * Writes the first `length` chars of a latin1 string into `target` at `offset`, one byte each:
 * a loop for short ones, Node's `latin1Write` (undocumented, like latin1Slice) beyond.
 */
export function writeLatin1(target: Buffer, offset: number, text: string, length: number): void {
  if (length <= SHORT_COPY_MAX) {
    for (let i = 0; i < length; i++) target[offset + i] = text.charCodeAt(i);
  } else {
    nodeLatin1Write(target, text, offset, length);
  }
}

type Latin1Slicer = Buffer & { latin1Slice?: (start: number, end: number) => string };

/**
 * `buffer.toString('latin1', start, end)` without its argument handling: Node's Buffers carry
 * `latin1Slice` (undocumented, used by ws and undici); falls back to toString if it is missing.
 */
export const latin1: (buffer: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as Latin1Slicer).latin1Slice === 'function'
    ? (buffer, start, end) => (buffer as Latin1Slicer).latin1Slice!(start, end)
    : (buffer, start, end) => buffer.toString('latin1', start, end);

/**
 * The stored form of `length` bytes of `source` from `start` (a Buffer, or a latin1 string) with
 * an expiry and index, in `db`: an arena record when it can be one, else an Entry (copied: argv
 * may be a slice of a whole log entry).
 */
export function makeStored(db: Db, source: Buffer | string, start: number, length: number, expiresAtMs: number, modIndex: number): Stored {
  if (expiresAtMs === 0 && length <= ARENA_VALUE_BYTES_MAX) {
    const handle = db.arena.store(source, start, length, modIndex);
    if (handle >= 0) return handle;
  }
  const whole = start === 0 && length === source.length;
  const value = typeof source === 'string' ? (whole ? source : source.slice(start, start + length))
    : toStored(whole ? source : source.subarray(start, start + length));
  return { value, expiresAtMs, modIndex };
}

/**
 * The Entry of a stored key. For an arena record, a new object with a copy of the value (a view
 * could outlive the record: SET ... GET reads the old value after storing the new one).
 */
function entryOf(db: Db, stored: Stored): Entry {
  if (typeof stored !== 'number') return stored;
  return { value: db.arena.valueString(stored), expiresAtMs: 0, modIndex: db.arena.modIndex(stored) };
}

function storedValueLength(db: Db, stored: Stored): number {
  return typeof stored === 'number' ? db.arena.length(stored) : stored.value.length;
}

function storedModIndex(db: Db, stored: Stored): number {
  return typeof stored === 'number' ? db.arena.modIndex(stored) : stored.modIndex;
}

/** The value as bytes (a new Buffer for a string value; a stored Buffer itself, not to be changed). */
export function valueBytes(entry: Entry): Buffer {
  return storedValueBytes(entry.value);
}

function storedValueBytes(value: StoredValue): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
}

export function valueLength(entry: Entry): number {
  return entry.value.length;
}

/** Every stored key of a database, expired ones included. */
export function* storedEntries(db: Db): Generator<[string, Stored]> {
  if (db.table !== undefined) yield* db.table.entries();
}

export function isLive(entry: Entry, nowMs: number): boolean {
  return entry.expiresAtMs === 0 || entry.expiresAtMs >= nowMs;
}

function isLiveStored(stored: Stored, nowMs: number): boolean {
  return typeof stored === 'number' || stored.expiresAtMs === 0 || stored.expiresAtMs >= nowMs;
}

const scratch: Lanes = { a: 0, b: 0 };

/**
 * A key's contribution to its database's digest, left in `scratch`: the value's lanes mixed with
 * the key's (`keyHash` is slotHash(key)), the expiry and the index. The same for either stored form.
 */
function entryHashInto(db: Db, key: string, keyHash: number, stored: Stored): void {
  if (typeof stored === 'number') {
    valueHashInto(db.arena.view(stored), 0, scratch);
    scratch.a ^= keyHash;
    scratch.b ^= stringHash(key, 0x1b873593);
    mixNumbersInto(scratch, 0, db.arena.modIndex(stored));
    return;
  }
  valueHashInto(stored.value, 0, scratch);
  scratch.a ^= keyHash;
  scratch.b ^= stringHash(key, 0x1b873593);
  mixNumbersInto(scratch, stored.expiresAtMs, stored.modIndex);
}

/** Counts a key just stored into its database's digest, memory, size and expiry figures; true when it expires. */
function countIn(db: Db, key: string, keyHash: number, stored: Stored): boolean {
  if (db.digestTracked) {
    entryHashInto(db, key, keyHash, stored);
    db.digestA = (db.digestA + scratch.a) >>> 0;
    db.digestB = (db.digestB + scratch.b) >>> 0;
  }
  if (typeof stored === 'number') {
    countArenaIn(db, key.length, stored);
    return false;
  }
  db.memoryBytes += key.length + stored.value.length + ENTRY_OVERHEAD_BYTES;
  db.size++;
  if (stored.expiresAtMs === 0) return false;
  db.expiresCount++;
  db.expiresAtSumMs += stored.expiresAtMs;
  return true;
}

/** countIn's figures for a key of `keyLength` bytes whose value is the arena record `handle`, the digest aside. */
function countArenaIn(db: Db, keyLength: number, handle: number): void {
  db.memoryBytes += keyLength + db.arena.length(handle) + ARENA_OVERHEAD_BYTES;
  db.size++;
}

/** The reverse of countIn, for a key about to be replaced or deleted. */
function countOut(db: Db, key: string, keyHash: number, stored: Stored): void {
  if (db.digestTracked) {
    entryHashInto(db, key, keyHash, stored);
    db.digestA = (db.digestA - scratch.a) >>> 0;
    db.digestB = (db.digestB - scratch.b) >>> 0;
  }
  db.memoryBytes -= key.length + storedValueLength(db, stored) + overheadOf(stored);
  db.size--;
  if (typeof stored !== 'number' && stored.expiresAtMs !== 0) {
    db.expiresCount--;
    db.expiresAtSumMs -= stored.expiresAtMs;
  }
}

function overheadOf(stored: Stored): number {
  return typeof stored === 'number' ? ARENA_OVERHEAD_BYTES : ENTRY_OVERHEAD_BYTES;
}

/** One database. Swapped whole by SWAPDB; `index` follows it. */
export class Db {
  /** The keys; allocated on the first write, replaced (not cleared) by a flush, so a snapshot keeps the old. */
  table: KeyTable | undefined = undefined;
  /** The values of the keys stored as handles (see Stored); goes with the Db on SWAPDB and FLUSHDB. */
  readonly arena = new ValueArena();
  /** Stored keys, expired ones not yet deleted included. */
  size = 0;
  /** Stored keys that have an expiry. */
  expiresCount = 0;
  /** Sum of expiresAtMs over the keys that have one (for INFO's avg_ttl). */
  expiresAtSumMs = 0;
  /**
   * Whether digestA and digestB are kept: off until the digest is first asked for (see
   * Keyspace.digest), because hashing the old and the new value is a third of a plain SET's apply.
   */
  digestTracked = false;
  digestA = 0;
  digestB = 0;
  memoryBytes = 0;
  /**
   * The modIndex a deleted key had, or the index of the command that deleted it: what WATCH
   * compares for a key that does not exist. Bounded by TOMBSTONES_PER_DB_MAX in index order (a
   * re-deleted key moves to the end); the oldest are folded into `tombstoneFloor`.
   */
  tombstones = new Map<string, number>();
  tombstoneFloor = 0;
  /**
   * The index of the last FLUSHDB or SWAPDB of this database that was too large to record per-key
   * versions (EXACT_WATCH_KEYS_MAX): every key's WATCH version is at least this, so such a command
   * aborts every transaction watching a key in it (documented in docs/compatibility.md).
   */
  epoch = 0;

  constructor(public index: number) {}

  get(key: string): Entry | undefined {
    const stored = this.raw(key);
    return stored === undefined ? undefined : entryOf(this, stored);
  }

  /** The key as stored (see Stored). */
  raw(key: string): Stored | undefined {
    const table = this.table;
    if (table === undefined) return undefined;
    const hash = slotHash(key);
    return table.get(hash & SLOT_MASK, hash, key);
  }

  /** The table, made on the first write. */
  tableForWrite(): KeyTable {
    if (this.table === undefined) this.table = new KeyTable(SLOT_COUNT);
    return this.table;
  }

  /** The version WATCH records and EXEC compares (see StateMachine.modIndex). */
  version(key: string): number {
    const stored = this.raw(key);
    const base = stored !== undefined ? storedModIndex(this, stored) : (this.tombstones.get(key) ?? this.tombstoneFloor);
    return Math.max(base, this.epoch);
  }

  addTombstone(key: string, index: number): void {
    this.tombstones.delete(key);
    this.tombstones.set(key, index);
    if (this.tombstones.size > TOMBSTONES_PER_DB_MAX) {
      for (const [oldest, oldestIndex] of this.tombstones) {
        this.tombstones.delete(oldest);
        this.tombstoneFloor = Math.max(this.tombstoneFloor, oldestIndex);
        break;
      }
    }
  }
}

/** The copy-on-write record of one snapshot in progress, per database it is serializing. */
export interface CowTracker {
  /** The key table the snapshot reads; writes to another table (after a flush) need no copy. */
  readonly table: KeyTable | undefined;
  /** Position of this database in the snapshot's order. */
  readonly ordinal: number;
  /** Old entries (null: the key did not exist) of keys written since the snapshot began, per slot. */
  readonly saved: Map<number, Map<string, Stored | null>>;
}

/** Implemented by the snapshot writer: where it is, so writes behind it need no copy. */
export interface CowCursor {
  readonly trackers: Map<Db, CowTracker>;
  /** Ordinal of the database being serialized, and the next slot it has not copied yet. */
  readonly dbOrdinal: number;
  readonly slot: number;
}

interface HeapItem {
  readonly atMs: number;
  readonly db: Db;
  readonly key: string;
  /** The entry this item was pushed for: the item is current while the key still holds it. */
  readonly entry: Stored;
}

/** A binary min-heap of expiry times with lazy invalidation (an item is stale once its entry is replaced). */
class ExpiryHeap {
  items: HeapItem[] = [];

  push(item: HeapItem): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.atMs <= item.atMs) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  heapify(): void {
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i, this.items[i]!);
  }

  pop(): void {
    const last = this.items.pop();
    if (last === undefined || this.items.length === 0) return;
    this.siftDown(0, last);
  }

  /** Places `item` at `start` or below, moving smaller children up. */
  private siftDown(start: number, item: HeapItem): void {
    const items = this.items;
    const length = items.length;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && items[right]!.atMs < items[left]!.atMs ? right : left;
      if (items[child]!.atMs >= item.atMs) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
}

/**
 * Whether the key still holds the entry the item was pushed for, in a database still in the
 * keyspace: FLUSHDB replaces the Db, and the old one keeps its keys (a snapshot may read them).
 */
function isCurrent(dbs: readonly Db[], item: HeapItem): boolean {
  return dbs[item.db.index] === item.db && item.db.raw(item.key) === item.entry;
}

export interface ExpiredKey {
  readonly db: number;
  readonly key: Buffer;
}

export class Keyspace {
  dbs: Db[] = Array.from({ length: DB_COUNT }, (_, index) => new Db(index));
  /** "Now" for the command being run; set by the state machine. */
  nowMs = 0;
  /** The log index of the entry being applied (0 on reads). */
  index = 0;
  /** False on reads: lookups then never delete an expired key. */
  mutable = false;
  /** The snapshot in progress, if any; set by the snapshot, cleared through endSnapshot. */
  cow: CowCursor | null = null;
  /** Pairs of (Db, arena handle) replaced while the snapshot in progress still had to read them. */
  private deferredFrees: (Db | number)[] = [];
  private heap = new ExpiryHeap();

  db(index: number): Db {
    const db = this.dbs[index];
    if (db === undefined) throw new Error(`assertion: db index ${index} out of range`);
    return db;
  }

  /** The live entry of `key`, or undefined. On apply, an expired key found here is deleted. */
  lookup(dbIndex: number, key: string): Entry | undefined {
    const db = this.db(dbIndex);
    const stored = db.raw(key);
    if (stored === undefined) return undefined;
    if (isLiveStored(stored, this.nowMs)) return entryOf(db, stored);
    if (this.mutable) this.store(db, key, undefined, storedModIndex(db, stored));
    return undefined;
  }

  /**
   * The bytes of the value of the key whose bytes are `length` bytes of `source` from `start` (a
   * GET's argument) if it is live, else undefined: `lookup` and `valueBytes` in one, without a
   * string for the key or an Entry for an arena record. For reads (GET): never deletes.
   */
  liveValueBytesOf(dbIndex: number, source: Uint8Array, start: number, length: number): Buffer | undefined {
    const db = this.db(dbIndex);
    const table = db.table;
    if (table === undefined) return undefined;
    const keyHash = bytesSlotHash(source, start, length);
    const slot = keyHash & SLOT_MASK;
    const at = table.locateBytes(slot, keyHash, source, start, length);
    if (at < 0) return undefined;
    const stored = table.storedAt(slot, at);
    if (typeof stored === 'number') return db.arena.copyValue(stored);
    return isLiveStored(stored, this.nowMs) ? storedValueBytes(stored.value) : undefined;
  }

  /**
   * The common case of putBytes() with the key given as bytes too (`keyLength` bytes of `source`
   * from `keyStart`): an existing key whose value is an arena record the new value fits, written
   * over in place, with no string made for the key. Only when no snapshot is in progress and the
   * digest is not kept (both want the key as a string). False if it changed nothing: the caller
   * then calls putBytes().
   */
  rewriteBytes(dbIndex: number, source: Buffer, keyStart: number, keyLength: number, valueStart: number, valueLength: number): boolean {
    this.assertMutable();
    const db = this.db(dbIndex);
    const table = db.table;
    if (table === undefined || this.cow !== null || db.digestTracked) return false;
    const keyHash = bytesSlotHash(source, keyStart, keyLength);
    const slot = keyHash & SLOT_MASK;
    const at = table.locateBytes(slot, keyHash, source, keyStart, keyLength);
    if (at < 0) return false;
    const old = table.storedAt(slot, at);
    if (typeof old !== 'number' || !db.arena.fits(old, valueLength)) return false;
    // countOut and countIn of the same key and record: only the value's length changes.
    db.memoryBytes += valueLength - db.arena.length(old);
    db.arena.rewrite(old, source, valueStart, valueLength, this.index);
    return true;
  }

  /** Sets `key` to a new value and expiry, stamped with the current index. */
  put(dbIndex: number, key: string, value: Buffer | string, expiresAtMs: number): void {
    this.assertMutable();
    const db = this.db(dbIndex);
    this.store(db, key, makeStored(db, value, 0, value.length, expiresAtMs, this.index), 0);
  }

  /** put() of `length` bytes of `source` from `start`, with no expiry, without a view of them. */
  putBytes(dbIndex: number, key: string, source: Buffer, start: number, length: number): void {
    this.assertMutable();
    const db = this.db(dbIndex);
    const keyHash = slotHash(key);
    const slot = keyHash & SLOT_MASK;
    const table = db.table;
    const at = table === undefined ? -1 : table.locate(slot, keyHash, key);
    const old = at < 0 ? undefined : table!.storedAt(slot, at);
    // An overwrite of an arena value by one of the same size class writes over the record: no
    // table update, no free and allocation. Not while a snapshot has yet to copy the old value.
    if (typeof old === 'number' && db.arena.fits(old, length) && !(this.cow !== null && this.snapshotMayRead(db, slot, key))) {
      countOut(db, key, keyHash, old);
      db.arena.rewrite(old, source, start, length, this.index);
      countIn(db, key, keyHash, old);
      return;
    }
    this.storeAt(db, key, keyHash, at, old, makeStored(db, source, start, length, 0, this.index), 0);
  }

  /** Replaces an entry as it is (RENAME, MOVE, COPY keep value hashes; the index is restamped). */
  putEntry(dbIndex: number, key: string, entry: Entry): void {
    this.assertMutable();
    const db = this.db(dbIndex);
    this.store(db, key, restamp(db, entry, entry.expiresAtMs, this.index), 0);
  }

  /** Changes the expiry of an existing key. */
  setExpiry(dbIndex: number, key: string, entry: Entry, expiresAtMs: number): void {
    this.assertMutable();
    const db = this.db(dbIndex);
    this.store(db, key, restamp(db, entry, expiresAtMs, this.index), 0);
  }

  /** Deletes a live key; false if there was none. */
  remove(dbIndex: number, key: string): boolean {
    this.assertMutable();
    // lookup() without its Entry: an expired key is deleted all the same, as no logical change.
    const db = this.db(dbIndex);
    const stored = db.raw(key);
    if (stored === undefined) return false;
    if (!isLiveStored(stored, this.nowMs)) {
      this.store(db, key, undefined, storedModIndex(db, stored));
      return false;
    }
    this.store(db, key, undefined, this.index);
    return true;
  }

  /**
   * Deletes a key because its time has passed (the leader's expiry entries): no logical change,
   * so its tombstone keeps its modIndex and a transaction that saw it expired is not aborted.
   */
  removeExpired(dbIndex: number, key: string): boolean {
    this.assertMutable();
    const db = this.db(dbIndex);
    const stored = db.raw(key);
    if (stored === undefined || isLiveStored(stored, this.nowMs)) return false;
    this.store(db, key, undefined, storedModIndex(db, stored));
    return true;
  }

  /**
   * The bulk-load path of a restore: adds a key as a snapshot recorded it (modIndex included) to a
   * keyspace being rebuilt, without looking for an old entry (an image holds each key once; a
   * restore checks the stored count against the keys added, see loadedCountsMatch). Expiry items
   * are queued unordered; finishLoad orders them.
   */
  load(db: Db, key: string, stored: Stored): void {
    const keyHash = slotHash(key);
    const slot = keyHash & SLOT_MASK;
    const table = db.tableForWrite();
    // A key loaded twice replaces itself (so the table holds fewer keys than were counted in).
    const at = table.locate(slot, keyHash, key);
    if (at < 0) table.insert(slot, keyHash, key, stored);
    else table.replaceAt(slot, at, stored);
    if (countIn(db, key, keyHash, stored)) this.heap.items.push({ atMs: (stored as Entry).expiresAtMs, db, key, entry: stored });
  }

  /**
   * load() of a key given as `keyLength` bytes of `source` from `keyStart`, without a string for
   * it when its value is an arena record and the digest is not kept (a restore's common case).
   */
  loadBytes(db: Db, source: Buffer, keyStart: number, keyLength: number, stored: Stored): void {
    if (typeof stored !== 'number' || db.digestTracked) {
      this.load(db, latin1(source, keyStart, keyStart + keyLength), stored);
      return;
    }
    const keyHash = bytesSlotHash(source, keyStart, keyLength);
    const slot = keyHash & SLOT_MASK;
    const table = db.tableForWrite();
    const at = table.locateBytes(slot, keyHash, source, keyStart, keyLength);
    if (at < 0) table.insertBytes(slot, keyHash, source, keyStart, keyLength, stored);
    else table.replaceAt(slot, at, stored);
    countArenaIn(db, keyLength, stored);
  }

  /** Ends a bulk load: orders the expiry heap. */
  finishLoad(): void {
    this.heap.heapify();
  }

  /** False if some key was loaded twice (a database's count exceeds the keys its slots hold). */
  loadedCountsMatch(): boolean {
    for (const db of this.dbs) {
      if ((db.table?.size ?? 0) !== db.size) return false;
    }
    return true;
  }

  private assertMutable(): void {
    if (!this.mutable) throw new Error('assertion: keyspace write outside apply');
  }

  /** The one place a key changes. `entry` undefined deletes, leaving `tombstoneIndex`. */
  private store(db: Db, key: string, entry: Stored | undefined, tombstoneIndex: number): void {
    const keyHash = slotHash(key);
    const slot = keyHash & SLOT_MASK;
    const at = db.table === undefined ? -1 : db.table.locate(slot, keyHash, key);
    this.storeAt(db, key, keyHash, at, at < 0 ? undefined : db.table!.storedAt(slot, at), entry, tombstoneIndex);
  }

  /**
   * store() once the key's position in its slot's list (`at`, -1 if the table does not hold it)
   * and its stored form there (`old`) are known.
   */
  private storeAt(db: Db, key: string, keyHash: number, at: number, old: Stored | undefined,
    entry: Stored | undefined, tombstoneIndex: number): void {
    const slot = keyHash & SLOT_MASK;
    if (old === undefined && entry === undefined) return;
    const table = db.tableForWrite();
    const savedForSnapshot = this.cow !== null && this.saveForSnapshot(db, slot, key, old);
    if (old !== undefined) {
      countOut(db, key, keyHash, old);
      if (typeof old === 'number') {
        // The snapshot in progress reads a record it saved when it gets to its slot: freed then.
        if (savedForSnapshot) this.deferredFrees.push(db, old);
        else db.arena.free(old);
      }
    }
    if (entry === undefined) {
      table.removeAt(slot, at);
      db.addTombstone(key, tombstoneIndex);
      return;
    }
    if (at < 0) {
      table.insert(slot, keyHash, key, entry);
      db.tombstones.delete(key);
    } else {
      table.replaceAt(slot, at, entry);
    }
    if (countIn(db, key, keyHash, entry)) this.pushExpiry(db, key, entry as Entry);
  }

  /**
   * True if the snapshot in progress has yet to copy `key` and has no saved copy of it: it will
   * read the key's live value, so that value must not change in place.
   */
  private snapshotMayRead(db: Db, slot: number, key: string): boolean {
    const cursor = this.cow!;
    const tracker = cursor.trackers.get(db);
    if (tracker === undefined || tracker.table !== db.table) return false;
    if (tracker.ordinal < cursor.dbOrdinal) return false;
    if (tracker.ordinal === cursor.dbOrdinal && slot < cursor.slot) return false;
    return tracker.saved.get(slot)?.has(key) !== true;
  }

  /** Keeps `old` for the snapshot in progress if it has yet to copy `key`; true if `old` was kept. */
  private saveForSnapshot(db: Db, slot: number, key: string, old: Stored | undefined): boolean {
    const cursor = this.cow!;
    const tracker = cursor.trackers.get(db);
    if (tracker === undefined || tracker.table !== db.table) return false;
    // Slots the snapshot has already copied need nothing.
    if (tracker.ordinal < cursor.dbOrdinal) return false;
    if (tracker.ordinal === cursor.dbOrdinal && slot < cursor.slot) return false;
    let saved = tracker.saved.get(slot);
    if (saved === undefined) {
      saved = new Map();
      tracker.saved.set(slot, saved);
    }
    if (saved.has(key)) return false;
    saved.set(key, old ?? null);
    return old !== undefined;
  }

  /**
   * Ends the snapshot `cursor` (finished or cancelled): the keyspace stops keeping copies for it,
   * and the arena records it kept are freed.
   */
  endSnapshot(cursor: CowCursor): void {
    if (this.cow !== cursor) return;
    this.cow = null;
    const deferred = this.deferredFrees;
    this.deferredFrees = [];
    for (let i = 0; i < deferred.length; i += 2) (deferred[i] as Db).arena.free(deferred[i + 1] as number);
  }

  private pushExpiry(db: Db, key: string, entry: Entry): void {
    this.heap.push({ atMs: entry.expiresAtMs, db, key, entry });
    // Stale items (TTL changed, key deleted, database flushed) are dropped lazily; rebuild when
    // they outnumber the live ones so the heap stays bounded.
    let expiresTotal = 0;
    for (const d of this.dbs) expiresTotal += d.expiresCount;
    if (this.heap.items.length > 2 * expiresTotal + 1024) this.rebuildHeap();
  }

  /** Drops the stale items and restores the heap order in O(n) (Floyd's heap construction). */
  private rebuildHeap(): void {
    this.heap.items = this.heap.items.filter((item) => isCurrent(this.dbs, item));
    this.heap.heapify();
  }

  /** Up to `limit` keys whose time has passed at `nowMs`, soonest first, for the leader to delete. */
  expiredKeys(nowMs: number, limit: number): ExpiredKey[] {
    const heap = this.heap;
    // Drop stale items at the top; they carry no information.
    while (heap.items.length > 0 && !isCurrent(this.dbs, heap.items[0]!)) heap.pop();
    const out: ExpiredKey[] = [];
    // Walk the heap's subtree of items with atMs < nowMs (expired: now > when), without popping:
    // the keys stay until an expiry entry deletes them through the log.
    const stack = [0];
    while (stack.length > 0 && out.length < limit) {
      const i = stack.pop()!;
      const item = heap.items[i];
      if (item === undefined || item.atMs >= nowMs) continue;
      if (isCurrent(this.dbs, item)) out.push({ db: item.db.index, key: Buffer.from(item.key, 'latin1') });
      stack.push(2 * i + 2, 2 * i + 1);
    }
    return out;
  }

  /** Count of keys in a database whose time has passed at `nowMs` but that are still stored. */
  expiredCount(dbIndex: number, nowMs: number): number {
    const db = this.db(dbIndex);
    if (db.expiresCount === 0) return 0;
    let count = 0;
    const stack = [0];
    const items = this.heap.items;
    while (stack.length > 0) {
      const i = stack.pop()!;
      const item = items[i];
      if (item === undefined || item.atMs >= nowMs) continue;
      if (item.db === db && isCurrent(this.dbs, item)) count++;
      stack.push(2 * i + 2, 2 * i + 1);
    }
    return count;
  }

  /** Keys that exist and are live at `nowMs`. */
  liveCount(dbIndex: number, nowMs: number): number {
    return this.db(dbIndex).size - this.expiredCount(dbIndex, nowMs);
  }

  /**
   * FLUSHDB. The old slots go to the snapshot if one is reading them. For WATCH, every key that
   * existed gets a tombstone (Redis touches exactly those); a database too large for that raises
   * its epoch instead, which aborts every transaction watching a key in it.
   */
  flush(dbIndex: number): void {
    this.assertMutable();
    const old = this.db(dbIndex);
    const fresh = new Db(dbIndex);
    fresh.digestTracked = old.digestTracked;
    fresh.tombstones = old.tombstones;
    fresh.tombstoneFloor = old.tombstoneFloor;
    fresh.epoch = old.epoch;
    if (old.size <= EXACT_WATCH_KEYS_MAX) {
      for (const [key, entry] of storedEntries(old)) fresh.addTombstone(key, this.deletionVersion(old, entry));
    } else {
      fresh.epoch = this.index;
    }
    this.replaceDb(old, fresh);
  }

  /**
   * The tombstone a deleted entry leaves: the current index, unless its time had already passed,
   * in which case deleting it is no logical change (Redis: "expired key now deleted").
   */
  private deletionVersion(db: Db, stored: Stored): number {
    return isLiveStored(stored, this.nowMs) ? this.index : storedModIndex(db, stored);
  }

  private replaceDb(old: Db, fresh: Db): void {
    // A snapshot still reading `old` keeps reading its (now frozen) slots through its tracker.
    this.dbs[old.index] = fresh;
    if (this.cow !== null) {
      const tracker = this.cow.trackers.get(old);
      if (tracker !== undefined) {
        this.cow.trackers.delete(old);
        // Keyed by the new Db too so its writes are recognized (its slots differ: no copies made).
        this.cow.trackers.set(fresh, tracker);
      }
    }
  }

  /**
   * SWAPDB. The data moves; what WATCH knows of an index (tombstones, floor, epoch) stays with the
   * index. Then, as Redis touches every watched key that exists in either database, every key
   * stored in either gets a new version (a key whose time has passed keeps the one it had: no
   * logical change). Databases too large for that raise their epochs instead.
   */
  swap(a: number, b: number): void {
    this.assertMutable();
    if (a === b) return;
    const dbA = this.db(a);
    const dbB = this.db(b);
    const exact = dbA.size + dbB.size <= EXACT_WATCH_KEYS_MAX;
    // Versions only (not the values, and not arena handles, which restamping frees).
    const beforeA = exact ? this.versionsOf(dbA) : undefined;
    const beforeB = exact ? this.versionsOf(dbB) : undefined;
    this.dbs[a] = dbB;
    this.dbs[b] = dbA;
    dbA.index = b;
    dbB.index = a;
    [dbA.tombstones, dbB.tombstones] = [dbB.tombstones, dbA.tombstones];
    [dbA.tombstoneFloor, dbB.tombstoneFloor] = [dbB.tombstoneFloor, dbA.tombstoneFloor];
    [dbA.epoch, dbB.epoch] = [dbB.epoch, dbA.epoch];
    if (beforeA === undefined || beforeB === undefined) {
      dbA.epoch = this.index;
      dbB.epoch = this.index;
      return;
    }
    this.restampAfterSwap(dbB, beforeA, beforeB);
    this.restampAfterSwap(dbA, beforeB, beforeA);
  }

  /** `target` now holds `after`; its index held `before`. */
  private restampAfterSwap(target: Db, before: Map<string, KeyVersion>, after: Map<string, KeyVersion>): void {
    for (const [key, was] of after) {
      const previous = before.get(key);
      const previousVersion = previous !== undefined ? previous.modIndex : (target.tombstones.get(key) ?? target.tombstoneFloor);
      target.tombstones.delete(key);
      const modIndex = was.live ? this.index : previousVersion;
      // `target` still holds what `after` was read from: this loop changes each key once.
      this.store(target, key, restampStored(target, target.raw(key)!, modIndex), 0);
    }
    for (const [key, was] of before) {
      if (!after.has(key)) target.addTombstone(key, was.live ? this.index : was.modIndex);
    }
  }

  /** Each stored key's modIndex and whether it is live now. */
  private versionsOf(db: Db): Map<string, KeyVersion> {
    const out = new Map<string, KeyVersion>();
    for (const [key, stored] of storedEntries(db)) out.set(key, { modIndex: storedModIndex(db, stored), live: isLiveStored(stored, this.nowMs) });
    return out;
  }

  /** Live keys of a database, in slot order. Stable while nothing is written. */
  *liveKeys(dbIndex: number, nowMs: number): Generator<string> {
    const table = this.db(dbIndex).table;
    if (table === undefined) return;
    for (const [key, stored] of table.entries()) if (isLiveStored(stored, nowMs)) yield key;
  }

  /**
   * One SCAN step, Redis's reverse-binary cursor over a virtual table of 2^bits buckets, where a
   * key's bucket is the low `bits` bits of its slot hash. As in Redis (dict.c dictScan), a key
   * present for the whole iteration is returned at least once, even if the table "resizes"
   * (here: `bits` follows the key count) between calls.
   * Returns the next cursor (0 when done). `visit` gets every live key of each bucket visited.
   */
  scan(dbIndex: number, cursor: bigint, count: number, nowMs: number, visit: (key: string) => void): bigint {
    const db = this.db(dbIndex);
    const table = db.table;
    if (table === undefined || db.size === 0) return 0n;
    const bits = Math.min(32, Math.max(2, Math.ceil(Math.log2(db.size + 1))));
    const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
    let v = Number(cursor & 0xffffffffn) & mask;
    v >>>= 0;
    let visited = 0;
    // As in Redis's scanGenericCommand: at most count*10 (+1) buckets per call.
    let iterationsLeft = count * 10;
    do {
      if (bits <= SLOT_BITS) {
        for (let slot = v; slot < SLOT_COUNT; slot += 1 << bits) {
          for (const [key, stored] of table.slotEntries(slot)) {
            if (isLiveStored(stored, nowMs)) visit(key);
            visited++;
          }
        }
      } else {
        for (const [key, stored] of table.slotEntries(v & SLOT_MASK)) {
          if (((slotHash(key) & mask) >>> 0) !== v) continue;
          if (isLiveStored(stored, nowMs)) visit(key);
          visited++;
        }
      }
      v = nextCursor(v, bits);
    } while (v !== 0 && iterationsLeft-- !== 0 && visited < count);
    return BigInt(v);
  }

  /** A live key chosen from `randomSlot` (any 32-bit number) onward, or undefined if none is live. */
  randomKey(dbIndex: number, nowMs: number, random: number): string | undefined {
    const table = this.db(dbIndex).table;
    if (table === undefined) return undefined;
    const start = random & SLOT_MASK;
    for (let step = 0; step < SLOT_COUNT; step++) {
      const slot = (start + step) & SLOT_MASK;
      if (table.slotSize(slot) === 0) continue;
      const live: string[] = [];
      for (const [key, stored] of table.slotEntries(slot)) if (isLiveStored(stored, nowMs)) live.push(key);
      if (live.length > 0) return live[(random >>> SLOT_BITS) % live.length];
    }
    return undefined;
  }

  /**
   * The digest of the whole keyspace: independent of insertion order, 16 hex digits. The first
   * call hashes every stored key (O(keys)) and turns tracking on, so that later calls cost
   * O(databases); until then writes skip the hashing. A restore turns it off again.
   */
  digest(): string {
    const lanes: Lanes = { a: 0x12345678, b: 0x9abcdef0 };
    for (const db of this.dbs) {
      if (!db.digestTracked) trackDigest(db);
      if (db.size === 0) continue;
      mixNumbersInto(lanes, db.index, db.size);
      mixNumbersInto(lanes, db.digestA, db.digestB);
    }
    return (lanes.a >>> 0).toString(16).padStart(8, '0') + (lanes.b >>> 0).toString(16).padStart(8, '0');
  }

  /** Whether writes keep the digest up to date (digest() has been called since the last untrack). */
  get digestTracked(): boolean {
    return this.dbs.every((db) => db.digestTracked);
  }

  /** Stops keeping the digest: the next digest() hashes every key again. */
  untrackDigest(): void {
    for (const db of this.dbs) {
      db.digestTracked = false;
      db.digestA = 0;
      db.digestB = 0;
    }
  }
}

/** Computes a database's digest sums from its keys, and keeps them from now on. */
function trackDigest(db: Db): void {
  let a = 0;
  let b = 0;
  if (db.table !== undefined) {
    for (const [key, stored] of db.table.entries()) {
      entryHashInto(db, key, slotHash(key), stored);
      a = (a + scratch.a) >>> 0;
      b = (b + scratch.b) >>> 0;
    }
  }
  db.digestA = a;
  db.digestB = b;
  db.digestTracked = true;
}

/** An entry's value with a new expiry and index, in its stored form in `db` (no copy of a long value). */
function restamp(db: Db, entry: Entry, expiresAtMs: number, modIndex: number): Stored {
  const value = entry.value;
  if (expiresAtMs === 0 && value.length <= ARENA_VALUE_BYTES_MAX) return makeStored(db, value, 0, value.length, 0, modIndex);
  return { value, expiresAtMs, modIndex };
}

interface KeyVersion {
  readonly modIndex: number;
  readonly live: boolean;
}

/** A stored key of `db` with a new index, as a new record (a copy within the arena) or Entry. */
function restampStored(db: Db, stored: Stored, modIndex: number): Stored {
  if (typeof stored !== 'number') return restamp(db, stored, stored.expiresAtMs, modIndex);
  const arena = db.arena;
  const handle = arena.store(arena.slabOf(stored), arena.valueOffset(stored), arena.length(stored), modIndex);
  return handle >= 0 ? handle : { value: arena.valueString(stored), expiresAtMs: 0, modIndex };
}

function reverseBits(value: number, bits: number): number {
  let v = value >>> 0;
  let out = 0;
  for (let i = 0; i < bits; i++) {
    out = ((out << 1) | (v & 1)) >>> 0;
    v >>>= 1;
  }
  return out;
}

/** dictScan's cursor step: increment the reversed cursor (high bits first). */
function nextCursor(v: number, bits: number): number {
  const size = 2 ** bits;
  return reverseBits((reverseBits(v, bits) + 1) % size, bits);
}
