// The keys of one database, off the JavaScript heap. A database's keys are spread over SLOT_COUNT
// slots by a fixed hash (the slots give SCAN its cursor and snapshots their unit of copy-on-write;
// see keyspace.ts). Each slot that holds keys has one block of (hash, keyRef, valueRef) triples:
// the key's 32-bit hash, where its bytes are, and its stored form. The blocks are carved from a
// pool of Int32Array chunks (see `chunks`). A lookup walks the slot's triples comparing hashes,
// then bytes: with 1M keys a slot holds about 15.
//
//   keyRef    >= 0: a record of `keys` (a ValueArena) holding the key's bytes;
//             <  0: -(i + 1), the key as a string in `longKeys[i]` (a key over
//                   ARENA_VALUE_BYTES_MAX bytes, or one the arena had no room for).
//   valueRef  >= 0: the handle of the value's record in the database's value arena (see Stored);
//             <  0: -(i + 1), an Entry object in `objects[i]` (a key with an expiry, a long value).
//
// Before, each slot was a Map from key strings to stored forms: a string per key that every
// mark-compact had to visit (a full GC of 1M keys took 216-247 ms, a write stall by itself during
// a snapshot; docs/performance.md, tenth session), and a V8 hash lookup per write. Now a key with
// a short value and no expiry is no object at all.
//
// A slot's order is not kept: a deletion moves the last triple into the hole. A slot's keys are
// visited as a whole by SCAN and by snapshots, so that is enough for both.

import type { Entry } from './keyspace.js';
import { ARENA_VALUE_BYTES_MAX, ValueArena } from './value-arena.js';

/** A stored key's form in the keyspace (see keyspace.ts): an arena handle, or an Entry. */
export type TableStored = number | Entry;

/** Triples a slot's first block has room for; each growth doubles it. */
const FIRST_CAPACITY_LOG = 1;
/** The first chunk's first size in ints; it doubles up to CHUNK_INTS, and later chunks are that size. */
const FIRST_POOL_INTS = 3 * 1024;
const CHUNK_LOG = 20;
const CHUNK_INTS = 1 << CHUNK_LOG;
const CHUNK_MASK = CHUNK_INTS - 1;

export class KeyTable {
  /** The bytes of keys up to ARENA_VALUE_BYTES_MAX long. */
  readonly keys = new ValueArena();
  /**
   * Every slot's triples, in blocks of 3 * 2^k ints carved from chunks of 4 MiB: with a typed array
   * per slot, 65,536 of them and their ArrayBuffers were what a full GC of 1M keys spent most of its
   * 45-60 ms marking; with one array that doubled, a write waited 16-23 ms for the copy from 16 to
   * 32 MB. An address is chunk << CHUNK_LOG | offset, and a block never spans two chunks. A block
   * freed (its slot grew or emptied) goes on its size's free list.
   */
  private readonly chunks: Int32Array[] = [new Int32Array(FIRST_POOL_INTS)];
  private poolTop = 0;
  /** Ints of the blocks slots hold (the rest below poolTop is on free lists, or a chunk's unused tail). */
  private blockIntsInUse = 0;
  private readonly freeBlocks: number[][] = [];
  /** Per slot: its block's pool address (-1: no block), log2 of its capacity in triples, its key count. */
  private readonly starts: Int32Array;
  private readonly capacityLogs: Uint8Array;
  private readonly counts: Int32Array;
  private readonly longKeys: (string | undefined)[] = [];
  private readonly freeLongKeys: number[] = [];
  private readonly objects: (Entry | undefined)[] = [];
  private readonly freeObjects: number[] = [];
  /** Keys held, over every slot. */
  size = 0;

  constructor(readonly slotCount: number) {
    this.starts = new Int32Array(slotCount).fill(-1);
    this.capacityLogs = new Uint8Array(slotCount);
    this.counts = new Int32Array(slotCount);
  }

  /** How many keys slot `slot` holds. */
  slotSize(slot: number): number {
    return this.counts[slot]!;
  }

  /**
   * Where `key` (whose hash is `hash`) is in slot `slot`: the position of its triple, 1 + 3k for
   * the slot's k-th key (for storedAt, replaceAt, removeAt), or -1 if the slot does not hold it.
   */
  locate(slot: number, hash: number, key: string): number {
    const block = this.starts[slot]!;
    if (block < 0) return -1;
    const pool = this.chunks[block >>> CHUNK_LOG]!;
    const base = (block & CHUNK_MASK) - 1;
    const h = hash | 0;
    const end = 1 + 3 * this.counts[slot]!;
    for (let at = 1; at < end; at += 3) {
      if (pool[base + at] === h && this.keyEquals(pool[base + at + 1]!, key)) return at;
    }
    return -1;
  }

  /** locate() for the key whose bytes are `length` bytes of `source` from `start`. */
  locateBytes(slot: number, hash: number, source: Uint8Array, start: number, length: number): number {
    const block = this.starts[slot]!;
    if (block < 0) return -1;
    const pool = this.chunks[block >>> CHUNK_LOG]!;
    const base = (block & CHUNK_MASK) - 1;
    const h = hash | 0;
    const end = 1 + 3 * this.counts[slot]!;
    for (let at = 1; at < end; at += 3) {
      if (pool[base + at] !== h) continue;
      const ref = pool[base + at + 1]!;
      if (ref >= 0 ? this.keys.equalsBytes(ref, source, start, length) : this.longKeyEqualsBytes(ref, source, start, length)) return at;
    }
    return -1;
  }

  /** The stored form of `key`, or undefined. */
  get(slot: number, hash: number, key: string): TableStored | undefined {
    const at = this.locate(slot, hash, key);
    return at < 0 ? undefined : this.storedAt(slot, at);
  }

  /** The stored form at position `at` of slot `slot` (from locate or a walk over positions). */
  storedAt(slot: number, at: number): TableStored {
    const ref = this.intAt(this.starts[slot]! + at + 1);
    return ref >= 0 ? ref : this.objects[-ref - 1]!;
  }

  /** The key at position `at` of slot `slot`, as a latin1 string (a new string for an arena key). */
  keyAt(slot: number, at: number): string {
    const ref = this.intAt(this.starts[slot]! + at);
    return ref >= 0 ? this.keys.valueString(ref) : this.longKeys[-ref - 1]!;
  }

  /** The key's record in `keys`, or -1 for a key kept as a string (see keyAt). */
  keyHandleAt(slot: number, at: number): number {
    const ref = this.intAt(this.starts[slot]! + at);
    return ref >= 0 ? ref : -1;
  }

  /** Gives the key at position `at` a new stored form. */
  replaceAt(slot: number, at: number, stored: TableStored): void {
    const triple = this.tripleAt(slot, at);
    const pool = this.chunks[triple >>> CHUNK_LOG]!;
    const field = (triple & CHUNK_MASK) + 2;
    this.releaseValue(pool[field]!);
    pool[field] = this.valueRef(stored);
  }

  /** Removes the key at position `at` (the slot's last key takes its place). */
  removeAt(slot: number, at: number): void {
    const address = this.tripleAt(slot, at);
    const pool = this.chunks[address >>> CHUNK_LOG]!;
    const triple = address & CHUNK_MASK;
    this.releaseValue(pool[triple + 2]!);
    const keyRef = pool[triple + 1]!;
    if (keyRef >= 0) {
      this.keys.free(keyRef);
    } else {
      unplace(this.longKeys, this.freeLongKeys, -keyRef - 1);
    }
    const count = this.counts[slot]! - 1;
    const last = (this.starts[slot]! & CHUNK_MASK) + 3 * count;
    if (triple !== last) pool.copyWithin(triple, last, last + 3);
    this.counts[slot] = count;
    this.size--;
    if (count === 0) {
      this.freeBlock(this.starts[slot]!, this.capacityLogs[slot]!);
      this.starts[slot] = -1;
    }
  }

  /** Adds a key the slot does not hold (the caller has looked, or knows: a restore). */
  insert(slot: number, hash: number, key: string, stored: TableStored): void {
    this.insertRef(slot, hash, this.keyRef(key), stored);
  }

  /** insert() of the key whose bytes are `length` bytes of `source` from `start` (a restore). */
  insertBytes(slot: number, hash: number, source: Buffer, start: number, length: number, stored: TableStored): void {
    let keyRef = length <= ARENA_VALUE_BYTES_MAX ? this.keys.store(source, start, length, 0) : -1;
    if (keyRef < 0) keyRef = this.keyRef(source.toString('latin1', start, start + length));
    this.insertRef(slot, hash, keyRef, stored);
  }

  private insertRef(slot: number, hash: number, keyRef: number, stored: TableStored): void {
    const count = this.counts[slot]!;
    if (this.starts[slot]! < 0) {
      this.starts[slot] = this.allocateBlock(FIRST_CAPACITY_LOG);
      this.capacityLogs[slot] = FIRST_CAPACITY_LOG;
    } else if (count === 1 << this.capacityLogs[slot]!) {
      const capacityLog = this.capacityLogs[slot]!;
      const grown = this.allocateBlock(capacityLog + 1);
      const start = this.starts[slot]!;
      const from = start & CHUNK_MASK;
      this.chunks[grown >>> CHUNK_LOG]!.set(this.chunks[start >>> CHUNK_LOG]!.subarray(from, from + 3 * count), grown & CHUNK_MASK);
      this.freeBlock(start, capacityLog);
      this.starts[slot] = grown;
      this.capacityLogs[slot] = capacityLog + 1;
    }
    const valueRef = this.valueRef(stored);
    const address = this.starts[slot]! + 3 * count;
    const pool = this.chunks[address >>> CHUNK_LOG]!;
    const triple = address & CHUNK_MASK;
    pool[triple] = hash | 0;
    pool[triple + 1] = keyRef;
    pool[triple + 2] = valueRef;
    this.counts[slot] = count + 1;
    this.size++;
  }

  /** Bytes of key records and blocks in use (keys' arena records, whole size class; slots' blocks). */
  get bytesInUse(): number {
    return this.keys.bytesInUse + 4 * this.blockIntsInUse;
  }

  /** Bytes the table holds outside the heap: the key arena's slabs and the pool's chunks. */
  get bytesAllocated(): number {
    let chunkBytes = 0;
    for (const chunk of this.chunks) chunkBytes += chunk.byteLength;
    return this.keys.bytesAllocated + chunkBytes;
  }

  /** The int at pool address `address`. */
  private intAt(address: number): number {
    return this.chunks[address >>> CHUNK_LOG]![address & CHUNK_MASK]!;
  }

  /** The pool address of the triple at position `at` of slot `slot`, checked: a missed locate() fails loudly. */
  private tripleAt(slot: number, at: number): number {
    if (this.starts[slot]! < 0 || at < 1 || at >= 1 + 3 * this.counts[slot]! || (at - 1) % 3 !== 0) {
      throw new Error(`assertion: position ${at} is not a key of slot ${slot}`);
    }
    return this.starts[slot]! + at - 1;
  }

  /**
   * A block of 3 * 2^capacityLog ints: a freed one of that size, or the pool's next, in the last
   * chunk if it fits there (the first chunk grows up to CHUNK_INTS), else at the start of a new one.
   */
  private allocateBlock(capacityLog: number): number {
    const ints = 3 << capacityLog;
    if (ints > CHUNK_INTS) throw new Error(`assertion: a slot of ${1 << capacityLog} keys does not fit a chunk of the key table`);
    this.blockIntsInUse += ints;
    const free = this.freeBlocks[capacityLog]?.pop();
    if (free !== undefined) return free;
    let start = this.poolTop;
    // A block never spans two chunks: the rest of this one is left unused.
    if ((start & CHUNK_MASK) + ints > CHUNK_INTS) start = ((start >>> CHUNK_LOG) + 1) << CHUNK_LOG;
    const number = start >>> CHUNK_LOG;
    if (number === this.chunks.length) {
      this.chunks.push(new Int32Array(CHUNK_INTS));
    } else {
      const chunk = this.chunks[number]!;
      const needed = (start & CHUNK_MASK) + ints;
      if (needed > chunk.length) {
        let length = chunk.length * 2;
        while (needed > length) length *= 2;
        const grown = new Int32Array(Math.min(length, CHUNK_INTS));
        grown.set(chunk.subarray(0, this.poolTop & CHUNK_MASK));
        this.chunks[number] = grown;
      }
    }
    this.poolTop = start + ints;
    return start;
  }

  private freeBlock(start: number, capacityLog: number): void {
    this.blockIntsInUse -= 3 << capacityLog;
    (this.freeBlocks[capacityLog] ??= []).push(start);
  }

  /** Each key of slot `slot` with its stored form. Nothing may be written while it runs. */
  *slotEntries(slot: number): Generator<[string, TableStored]> {
    const end = 1 + 3 * this.counts[slot]!;
    for (let at = 1; at < end; at += 3) yield [this.keyAt(slot, at), this.storedAt(slot, at)];
  }

  /** Every key with its stored form, in slot order. Nothing may be written while it runs. */
  *entries(): Generator<[string, TableStored]> {
    for (let slot = 0; slot < this.slotCount; slot++) if (this.counts[slot] !== 0) yield* this.slotEntries(slot);
  }

  private longKeyEqualsBytes(ref: number, source: Uint8Array, start: number, length: number): boolean {
    const key = this.longKeys[-ref - 1]!;
    if (key.length !== length) return false;
    for (let i = 0; i < length; i++) if (key.charCodeAt(i) !== source[start + i]) return false;
    return true;
  }

  private keyEquals(ref: number, key: string): boolean {
    return ref >= 0 ? this.keys.equalsString(ref, key) : this.longKeys[-ref - 1] === key;
  }

  private keyRef(key: string): number {
    if (key.length <= ARENA_VALUE_BYTES_MAX) {
      const handle = this.keys.store(key, 0, key.length, 0);
      if (handle >= 0) return handle;
    }
    return -place(this.longKeys, this.freeLongKeys, key) - 1;
  }

  private valueRef(stored: TableStored): number {
    return typeof stored === 'number' ? stored : -place(this.objects, this.freeObjects, stored) - 1;
  }

  /** Forgets an Entry's object slot (an arena handle is the keyspace's to free). */
  private releaseValue(ref: number): void {
    if (ref >= 0) return;
    unplace(this.objects, this.freeObjects, -ref - 1);
  }
}

/** Puts `item` at a free index of `items` (from `free`, else a new one at the end); the index. */
function place<T>(items: (T | undefined)[], free: number[], item: T): number {
  const index = free.pop();
  if (index === undefined) return items.push(item) - 1;
  items[index] = item;
  return index;
}

/** Empties index `index` of `items` and gives it to `free`. */
function unplace<T>(items: (T | undefined)[], free: number[], index: number): void {
  items[index] = undefined;
  free.push(index);
}
