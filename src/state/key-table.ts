// The keys of one database, off the JavaScript heap. A database's keys are spread over SLOT_COUNT
// slots by a fixed hash (the slots give SCAN its cursor and snapshots their unit of copy-on-write;
// see keyspace.ts). Each slot that holds keys has one list, an Int32Array of
// [count, (hash, keyRef, valueRef)*]: the key's 32-bit hash, where its bytes are, and its stored
// form. A lookup walks the slot's list comparing hashes, then bytes: with 1M keys a slot holds
// about 15.
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
// The list's order is not kept: a deletion moves the last triple into the hole. A slot's keys are
// visited as a whole by SCAN and by snapshots, so that is enough for both.

import type { Entry } from './keyspace.js';
import { ARENA_VALUE_BYTES_MAX, ValueArena } from './value-arena.js';

/** A stored key's form in the keyspace (see keyspace.ts): an arena handle, or an Entry. */
export type TableStored = number | Entry;

/** Triples a slot's first list has room for; each growth doubles it. */
const FIRST_CAPACITY = 2;

export class KeyTable {
  /** The bytes of keys up to ARENA_VALUE_BYTES_MAX long. */
  readonly keys = new ValueArena();
  private readonly lists: (Int32Array | undefined)[];
  private readonly longKeys: (string | undefined)[] = [];
  private readonly freeLongKeys: number[] = [];
  private readonly objects: (Entry | undefined)[] = [];
  private readonly freeObjects: number[] = [];
  /** Keys held, over every slot. */
  size = 0;

  constructor(readonly slotCount: number) {
    this.lists = new Array<Int32Array | undefined>(slotCount);
  }

  /** How many keys slot `slot` holds. */
  slotSize(slot: number): number {
    return this.lists[slot]?.[0] ?? 0;
  }

  /**
   * Where `key` (whose hash is `hash`) is in slot `slot`'s list: the position of its triple
   * (for storedAt, replaceAt, removeAt), or -1 if the slot does not hold it.
   */
  locate(slot: number, hash: number, key: string): number {
    const list = this.lists[slot];
    if (list === undefined) return -1;
    const h = hash | 0;
    const end = 1 + 3 * list[0]!;
    for (let at = 1; at < end; at += 3) {
      if (list[at] === h && this.keyEquals(list[at + 1]!, key)) return at;
    }
    return -1;
  }

  /** locate() for the key whose bytes are `length` bytes of `source` from `start`. */
  locateBytes(slot: number, hash: number, source: Uint8Array, start: number, length: number): number {
    const list = this.lists[slot];
    if (list === undefined) return -1;
    const h = hash | 0;
    const end = 1 + 3 * list[0]!;
    for (let at = 1; at < end; at += 3) {
      if (list[at] !== h) continue;
      const ref = list[at + 1]!;
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
    const ref = this.lists[slot]![at + 2]!;
    return ref >= 0 ? ref : this.objects[-ref - 1]!;
  }

  /** The key at position `at` of slot `slot`, as a latin1 string (a new string for an arena key). */
  keyAt(slot: number, at: number): string {
    const ref = this.lists[slot]![at + 1]!;
    return ref >= 0 ? this.keys.valueString(ref) : this.longKeys[-ref - 1]!;
  }

  /** The key's record in `keys`, or -1 for a key kept as a string (see keyAt). */
  keyHandleAt(slot: number, at: number): number {
    const ref = this.lists[slot]![at + 1]!;
    return ref >= 0 ? ref : -1;
  }

  /** Gives the key at position `at` a new stored form. */
  replaceAt(slot: number, at: number, stored: TableStored): void {
    const list = this.listAt(slot, at);
    this.releaseValue(list[at + 2]!);
    list[at + 2] = this.valueRef(stored);
  }

  /** Removes the key at position `at` (the slot's last key takes its place). */
  removeAt(slot: number, at: number): void {
    const list = this.listAt(slot, at);
    this.releaseValue(list[at + 2]!);
    const keyRef = list[at + 1]!;
    if (keyRef >= 0) {
      this.keys.free(keyRef);
    } else {
      this.longKeys[-keyRef - 1] = undefined;
      this.freeLongKeys.push(-keyRef - 1);
    }
    const count = list[0]! - 1;
    const last = 1 + 3 * count;
    if (at !== last) {
      list[at] = list[last]!;
      list[at + 1] = list[last + 1]!;
      list[at + 2] = list[last + 2]!;
    }
    list[0] = count;
    this.size--;
    if (count === 0) this.lists[slot] = undefined;
  }

  /** Adds a key the slot does not hold (the caller has looked, or knows: a restore). */
  insert(slot: number, hash: number, key: string, stored: TableStored): void {
    let list = this.lists[slot];
    if (list === undefined) {
      list = new Int32Array(1 + 3 * FIRST_CAPACITY);
      this.lists[slot] = list;
    }
    const count = list[0]!;
    if (1 + 3 * (count + 1) > list.length) {
      const grown = new Int32Array(1 + 3 * 2 * count);
      grown.set(list);
      list = grown;
      this.lists[slot] = list;
    }
    const at = 1 + 3 * count;
    list[at] = hash | 0;
    list[at + 1] = this.keyRef(key);
    list[at + 2] = this.valueRef(stored);
    list[0] = count + 1;
    this.size++;
  }

  /** Calls `visit` with each key of slot `slot` (as a string) and its stored form. */
  forEachInSlot(slot: number, visit: (stored: TableStored, key: string) => void): void {
    const list = this.lists[slot];
    if (list === undefined) return;
    const end = 1 + 3 * list[0]!;
    for (let at = 1; at < end; at += 3) visit(this.storedAt(slot, at), this.keyAt(slot, at));
  }

  /** Each key of slot `slot` with its stored form. Nothing may be written while it runs. */
  *slotEntries(slot: number): Generator<[string, TableStored]> {
    const list = this.lists[slot];
    if (list === undefined) return;
    const end = 1 + 3 * list[0]!;
    for (let at = 1; at < end; at += 3) yield [this.keyAt(slot, at), this.storedAt(slot, at)];
  }

  /** Every key with its stored form, in slot order. Nothing may be written while it runs. */
  *entries(): Generator<[string, TableStored]> {
    for (let slot = 0; slot < this.slotCount; slot++) if (this.lists[slot] !== undefined) yield* this.slotEntries(slot);
  }

  /** The slot's list, checking that `at` is a position in it (a missed locate() fails loudly). */
  private listAt(slot: number, at: number): Int32Array {
    const list = this.lists[slot];
    if (list === undefined || at < 1 || at >= 1 + 3 * list[0]! || (at - 1) % 3 !== 0) {
      throw new Error(`assertion: position ${at} is not a key of slot ${slot}`);
    }
    return list;
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
    const free = this.freeLongKeys.pop();
    if (free !== undefined) {
      this.longKeys[free] = key;
      return -free - 1;
    }
    this.longKeys.push(key);
    return -this.longKeys.length;
  }

  private valueRef(stored: TableStored): number {
    if (typeof stored === 'number') return stored;
    const free = this.freeObjects.pop();
    if (free !== undefined) {
      this.objects[free] = stored;
      return -free - 1;
    }
    this.objects.push(stored);
    return -this.objects.length;
  }

  /** Forgets an Entry's object slot (an arena handle is the keyspace's to free). */
  private releaseValue(ref: number): void {
    if (ref >= 0) return;
    this.objects[-ref - 1] = undefined;
    this.freeObjects.push(-ref - 1);
  }
}
