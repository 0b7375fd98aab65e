// The key table (src/state/key-table.ts): each slot's list of (hash, key, stored form) triples,
// checked directly and against a Map model under seeded random operations.
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/state/keyspace.js';
import { type TableStored, KeyTable } from '../../src/state/key-table.js';
import { ARENA_VALUE_BYTES_MAX } from '../../src/state/value-arena.js';
import { bytesSlotHash, slotHash } from '../../src/state/hash.js';

/** The key's bytes inside a larger buffer, at an odd offset: where locateBytes must look. */
function framed(key: string): [Buffer, number] {
  return [Buffer.concat([Buffer.from('\x01\x02\x03', 'latin1'), Buffer.from(key, 'latin1'), Buffer.from('\xff', 'latin1')]), 3];
}

/** A seeded generator of uint32s (a 32-bit LCG), so failures replay. */
function lcg(seed: number): (bound: number) => number {
  let state = seed >>> 0;
  return (bound) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor((state / 2 ** 32) * bound);
  };
}

/** FNV-1a over a latin1 string, unsigned: about half the hashes are >= 2^31. */
function fnv(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

let modCounter = 0;
const entry = (value: string | Buffer = 'v', expiresAtMs = 0): Entry => ({ value, expiresAtMs, modIndex: ++modCounter });

/** Each key with its slot and hash, as the model keeps it. */
interface Held {
  slot: number;
  hash: number;
  stored: TableStored;
}

/** Checks every model key, a few absent ones, the size, each slot's size, and entries(). */
function checkAgainst(table: KeyTable, model: Map<string, Held>, absent: [string, number, number][] = []): void {
  expect(table.size).toBe(model.size);
  const perSlot = new Array<number>(table.slotCount).fill(0);
  for (const [key, { slot, hash, stored }] of model) {
    perSlot[slot]!++;
    const at = table.locate(slot, hash, key);
    expect(at, `locate ${JSON.stringify(key.slice(0, 20))}`).toBeGreaterThanOrEqual(1);
    expect(table.keyAt(slot, at)).toBe(key);
    expect(table.storedAt(slot, at)).toBe(stored);
    expect(table.get(slot, hash, key)).toBe(stored);
    const [bytes, start] = framed(key);
    expect(table.locateBytes(slot, hash, bytes, start, key.length)).toBe(at);
  }
  for (const [key, slot, hash] of absent) {
    if (model.has(key)) continue;
    expect(table.locate(slot, hash, key)).toBe(-1);
    expect(table.get(slot, hash, key)).toBeUndefined();
    const [bytes, start] = framed(key);
    expect(table.locateBytes(slot, hash, bytes, start, key.length)).toBe(-1);
  }
  for (let slot = 0; slot < table.slotCount; slot++) expect(table.slotSize(slot), `slot ${slot}`).toBe(perSlot[slot]);
  const seen = new Set<string>();
  for (const [key, stored] of table.entries()) {
    expect(seen.has(key), `twice: ${JSON.stringify(key.slice(0, 20))}`).toBe(false);
    seen.add(key);
    expect(model.get(key)?.stored).toBe(stored);
  }
  expect(seen.size).toBe(model.size);
}

describe('KeyTable', () => {
  it('finds each of many keys over many slots, with arena handles and Entry objects (the same objects)', () => {
    const table = new KeyTable(16);
    const model = new Map<string, Held>();
    for (let i = 0; i < 600; i++) {
      const key = `key:${i}`;
      const hash = fnv(key);
      const stored = i % 3 === 0 ? entry(`value ${i}`, i) : i * 7;
      table.insert(hash % 16, hash, key, stored);
      model.set(key, { slot: hash % 16, hash, stored });
    }
    const absent = ['key:600', 'key:', 'key:1 ', 'KEY:1', ''].map((key): [string, number, number] => [key, fnv(key) % 16, fnv(key)]);
    checkAgainst(table, model, absent);
    const { slot, hash } = model.get('key:3')!;
    const at = table.locate(slot, hash, 'key:3');
    expect(table.keyHandleAt(slot, at)).toBeGreaterThanOrEqual(0);
    expect(table.keys.valueString(table.keyHandleAt(slot, at))).toBe('key:3');
    expect((table.storedAt(slot, at) as Entry).value).toBe('value 3');
    // The same key under another hash or slot is another key.
    expect(table.locate(slot, hash ^ 1, 'key:3')).toBe(-1);
    expect(table.locate((slot + 1) % 16, hash, 'key:3')).toBe(-1);
  });

  it('tells apart keys of one slot and one hash by their bytes: prefixes, the empty key, every byte', () => {
    const table = new KeyTable(4);
    const allBytes = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
    const keys = ['', 'a', 'ab', 'abc', 'b', 'ba', '\0', '\0\0', 'a\0', '\xff', '\xff\xfe', allBytes, [...allBytes].reverse().join(''), allBytes.slice(1)];
    for (let i = 0; i < 256; i++) keys.push(`k${String.fromCharCode(i)}`);
    const model = new Map<string, Held>();
    keys.forEach((key, i) => {
      const stored = i % 2 === 0 ? i : entry(key);
      table.insert(2, 42, key, stored);
      model.set(key, { slot: 2, hash: 42, stored });
    });
    expect(model.size).toBe(keys.length);
    const absent = ['abcd', 'A', '\0\0\0', 'c', `${allBytes}\0`, 'k', 'k\0\0'].map((key): [string, number, number] => [key, 2, 42]);
    checkAgainst(table, model, absent);
    // Remove the prefixes and the empty key: the longer keys stay, the removed ones are gone.
    for (const key of ['', 'a', '\0', 'k']) {
      if (!model.has(key)) continue;
      table.removeAt(2, table.locate(2, 42, key));
      model.delete(key);
    }
    checkAgainst(table, model, [['', 2, 42], ['a', 2, 42], ['\0', 2, 42]]);
  });

  it('keeps a key of ARENA_VALUE_BYTES_MAX chars in the arena and a longer one as a string, and reuses a freed long key', () => {
    expect(ARENA_VALUE_BYTES_MAX).toBe(4096);
    const table = new KeyTable(8);
    const atMax = 'x'.repeat(4096);
    const longA = `${'x'.repeat(4096)}A`;
    const longB = `${'x'.repeat(4096)}B`;
    const longC = `${'\xff'.repeat(10_000)}`;
    const model = new Map<string, Held>();
    const put = (key: string, stored: TableStored): void => {
      table.insert(5, 7, key, stored);
      model.set(key, { slot: 5, hash: 7, stored });
    };
    put(atMax, 1);
    put(longA, entry('a'));
    put(longB, 2);
    const handle = (key: string): number => table.keyHandleAt(5, table.locate(5, 7, key));
    expect(handle(atMax)).toBeGreaterThanOrEqual(0);
    expect(handle(longA)).toBe(-1);
    expect(handle(longB)).toBe(-1);
    checkAgainst(table, model, [['x'.repeat(4097), 5, 7], ['x'.repeat(4095), 5, 7], [`${'x'.repeat(4096)}C`, 5, 7]]);
    // longA's string slot is freed and taken by longC; longB must be untouched.
    table.removeAt(5, table.locate(5, 7, longA));
    model.delete(longA);
    put(longC, 3);
    expect(handle(longC)).toBe(-1);
    checkAgainst(table, model, [[longA, 5, 7]]);
    table.removeAt(5, table.locate(5, 7, longB));
    model.delete(longB);
    put(longA, 4);
    checkAgainst(table, model, [[longB, 5, 7]]);
  });

  it('finds a key whose hash is >= 2^31 given unsigned or as a signed int32', () => {
    const table = new KeyTable(2);
    const pairs: [number, string][] = [[0xffffffff, 'top'], [0x80000000, 'half'], [0x80000001, 'half+1'], [0, 'zero'], [0x7fffffff, 'max31']];
    pairs.forEach(([hash, key], i) => table.insert(1, i % 2 === 0 ? hash : hash | 0, key, i));
    pairs.forEach(([hash, key], i) => {
      expect(table.get(1, hash, key)).toBe(i);
      expect(table.get(1, hash | 0, key)).toBe(i);
      expect(table.get(1, hash >>> 0, key)).toBe(i);
    });
    expect(table.get(1, 0x7fffffff, 'top')).toBeUndefined();
    expect(table.get(1, 0, 'half')).toBeUndefined();
  });

  it('removes from the middle, the end, and the only key of a slot', () => {
    const table = new KeyTable(4);
    const model = new Map<string, Held>();
    const put = (slot: number, key: string, stored: TableStored): void => {
      table.insert(slot, fnv(key), key, stored);
      model.set(key, { slot, hash: fnv(key), stored });
    };
    const drop = (key: string): number => {
      const { slot, hash } = model.get(key)!;
      const at = table.locate(slot, hash, key);
      table.removeAt(slot, at);
      model.delete(key);
      return at;
    };
    for (let i = 0; i < 5; i++) put(0, `m${i}`, i % 2 === 0 ? entry(`m${i}`) : 100 + i);
    put(1, 'alone', entry('alone'));
    put(3, 'other', 9);
    expect(table.slotSize(0)).toBe(5);
    expect(drop('m2')).toBe(1 + 3 * 2); // the middle
    checkAgainst(table, model, [['m2', 0, fnv('m2')]]);
    expect(drop('m3')).toBe(1 + 3 * 3); // m4 moved into m2's place, so m3 is the last
    checkAgainst(table, model, [['m3', 0, fnv('m3')]]);
    expect(drop('m0')).toBe(1); // the first
    checkAgainst(table, model, [['m0', 0, fnv('m0')]]);
    drop('alone');
    expect(table.slotSize(1)).toBe(0);
    expect([...table.slotEntries(1)]).toEqual([]);
    checkAgainst(table, model, [['alone', 1, fnv('alone')]]);
    // An emptied slot takes keys again.
    put(1, 'again', 5);
    put(1, 'alone', entry());
    checkAgainst(table, model);
    for (const key of [...model.keys()]) drop(key);
    checkAgainst(table, model, [['m1', 0, fnv('m1')], ['again', 1, fnv('again')]]);
    expect(table.size).toBe(0);
  });

  it('switches a stored form between handle and Entry repeatedly, never returning a stale Entry', () => {
    const table = new KeyTable(3);
    const keys = ['p', 'q', 'r', 's'];
    const model = new Map<string, Held>();
    keys.forEach((key, i) => {
      table.insert(i % 3, i, key, entry(key));
      model.set(key, { slot: i % 3, hash: i, stored: table.get(i % 3, i, key)! });
    });
    const random = lcg(7);
    for (let round = 0; round < 200; round++) {
      const key = keys[random(keys.length)]!;
      const held = model.get(key)!;
      const old = held.stored;
      const next = random(2) === 0 ? random(1 << 30) : entry(`${key}${round}`);
      table.replaceAt(held.slot, table.locate(held.slot, held.hash, key), next);
      held.stored = next;
      expect(table.get(held.slot, held.hash, key)).toBe(next);
      if (typeof old !== 'number' && old !== next) {
        for (const [, stored] of table.entries()) expect(stored).not.toBe(old);
      }
      checkAgainst(table, model);
    }
    // Removing a key with an Entry frees its object slot; a new key's Entry takes it, the rest stay.
    const { slot, hash } = model.get('q')!;
    table.replaceAt(slot, table.locate(slot, hash, 'q'), entry('q last'));
    table.removeAt(slot, table.locate(slot, hash, 'q'));
    model.delete('q');
    const fresh = entry('t');
    table.insert(2, 99, 't', fresh);
    model.set('t', { slot: 2, hash: 99, stored: fresh });
    checkAgainst(table, model, [['q', slot, hash]]);
  });

  it('grows one slot to 1,000 keys, then empties it in a random order', () => {
    const table = new KeyTable(4);
    const model = new Map<string, Held>();
    for (let i = 0; i < 1000; i++) {
      const key = `g${i}`;
      const stored = i % 4 === 0 ? entry(key) : i;
      table.insert(3, i % 7, key, stored); // few hashes: most lookups compare bytes
      model.set(key, { slot: 3, hash: i % 7, stored });
      if (i % 100 === 99) checkAgainst(table, model);
    }
    expect(table.slotSize(3)).toBe(1000);
    const order = [...model.keys()];
    const random = lcg(12345);
    for (let i = order.length - 1; i > 0; i--) {
      const j = random(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    order.forEach((key, n) => {
      const { hash } = model.get(key)!;
      table.removeAt(3, table.locate(3, hash, key));
      model.delete(key);
      if (n % 100 === 99) checkAgainst(table, model, [[key, 3, hash]]);
    });
    expect(table.slotSize(3)).toBe(0);
    expect(table.size).toBe(0);
    expect([...table.entries()]).toEqual([]);
  });

  it('agrees with a Map model over 20,000 seeded inserts, replaces and removes', () => {
    const SLOTS = 64;
    const table = new KeyTable(SLOTS);
    const random = lcg(2024);
    const universe = Array.from({ length: 2000 }, (_, i): [string, number, number] => {
      let key: string;
      if (i % 250 === 0) key = `${String.fromCharCode(i & 0xff).repeat(4096 + (i % 3))}${i}`; // long keys
      else if (i % 5 === 0) key = Array.from({ length: 1 + (i % 40) }, (_, j) => String.fromCharCode((i * 31 + j * 97) & 0xff)).join('') + i;
      else key = `user:${i}`;
      const hash = i % 10 === 0 ? 0xdeadbeef : fnv(key); // a tenth share one hash, so one slot
      return [key, hash % SLOTS, hash];
    });
    expect(new Set(universe.map(([key]) => key)).size).toBe(universe.length);
    const model = new Map<string, Held>();
    for (let op = 1; op <= 20_000; op++) {
      const [key, slot, hash] = universe[random(universe.length)]!;
      const held = model.get(key);
      const stored = random(3) === 0 ? entry(key, op) : random(1 << 30);
      if (held === undefined) {
        expect(table.locate(slot, hash, key)).toBe(-1);
        table.insert(slot, hash, key, stored);
        model.set(key, { slot, hash, stored });
      } else if (random(2) === 0) {
        table.replaceAt(slot, table.locate(slot, hash, key), stored);
        held.stored = stored;
      } else {
        table.removeAt(slot, table.locate(slot, hash, key));
        model.delete(key);
      }
      if (op % 2000 === 0) checkAgainst(table, model, universe.filter((_, i) => i % 7 === op % 7));
    }
    expect(model.size).toBeGreaterThan(500);
    checkAgainst(table, model, universe);
  });

  it('visits exactly a slot\'s keys with slotEntries, and entries() in slot order', () => {
    const table = new KeyTable(8);
    const bySlot = new Map<number, Map<string, TableStored>>();
    for (let i = 0; i < 60; i++) {
      const slot = (i * 5) % 7; // slot 7 stays empty
      const key = `s${i}`;
      const stored = i % 2 === 0 ? i : entry(key);
      table.insert(slot, fnv(key), key, stored);
      if (!bySlot.has(slot)) bySlot.set(slot, new Map());
      bySlot.get(slot)!.set(key, stored);
    }
    for (let slot = 0; slot < 8; slot++) {
      const expected = [...(bySlot.get(slot) ?? new Map<string, TableStored>())].sort();
      expect([...table.slotEntries(slot)].sort()).toEqual(expected);
      for (const [key, stored] of table.slotEntries(slot)) expect(bySlot.get(slot)!.get(key)).toBe(stored);
    }
    expect(table.slotSize(7)).toBe(0);
    const slots = [...table.entries()].map(([key]) => [...bySlot].find(([, keys]) => keys.has(key))![0]);
    expect(slots.length).toBe(60);
    expect(slots).toEqual([...slots].sort((a, b) => a - b));
  });
});

describe('bytesSlotHash', () => {
  it('is slotHash of the same bytes, at any offset and for every tail length', () => {
    const random = lcg(7);
    for (let length = 0; length <= 40; length++) {
      for (let trial = 0; trial < 20; trial++) {
        let key = '';
        for (let i = 0; i < length; i++) key += String.fromCharCode(random(256));
        const [bytes, start] = framed(key);
        expect(bytesSlotHash(bytes, start, key.length), `length ${length}`).toBe(slotHash(key));
      }
    }
    // A different byte gives a different hash (the function reads the bytes it is given).
    expect(bytesSlotHash(Buffer.from('key:1'), 0, 5)).not.toBe(bytesSlotHash(Buffer.from('key:2'), 0, 5));
  });
});

describe('KeyTable memory figures', () => {
  it('counts key records and slot blocks in use, and gives them back on removal', () => {
    const table = new KeyTable(64);
    expect(table.bytesInUse).toBe(0);
    const keys = Array.from({ length: 300 }, (_, i) => `key:${i}`);
    for (const key of keys) table.insert(fnv(key) % 64, fnv(key), key, 1);
    const full = table.bytesInUse;
    // At least a 16-byte arena record per key and a 12-byte triple per key.
    expect(full).toBeGreaterThanOrEqual(300 * (16 + 12));
    expect(table.bytesAllocated).toBeGreaterThanOrEqual(full);
    for (const key of keys) table.removeAt(fnv(key) % 64, table.locate(fnv(key) % 64, fnv(key), key));
    expect(table.bytesInUse).toBe(0);
    // Inserting them again reuses the freed records and blocks: nothing new is allocated.
    const allocated = table.bytesAllocated;
    for (const key of keys) table.insert(fnv(key) % 64, fnv(key), key, 1);
    expect(table.bytesInUse).toBe(full);
    expect(table.bytesAllocated).toBe(allocated);
  });
});

describe('KeyTable.insertBytes', () => {
  it('stores a key given as bytes as insert() stores its string: short, at the arena limit, and long', () => {
    const table = new KeyTable(16);
    const keys = ['', 'k', 'x'.repeat(ARENA_VALUE_BYTES_MAX), `${'y'.repeat(ARENA_VALUE_BYTES_MAX)}z`, '\x00\xff\x80'];
    keys.forEach((key, i) => {
      const [bytes, start] = framed(key);
      table.insertBytes(fnv(key) % 16, fnv(key), bytes, start, key.length, i);
    });
    keys.forEach((key, i) => {
      const at = table.locate(fnv(key) % 16, fnv(key), key);
      expect(at, JSON.stringify(key.slice(0, 8))).toBeGreaterThanOrEqual(1);
      expect(table.storedAt(fnv(key) % 16, at)).toBe(i);
      expect(table.keyAt(fnv(key) % 16, at)).toBe(key);
      // The long key is kept as a string; the others as arena records.
      expect(table.keyHandleAt(fnv(key) % 16, at) < 0).toBe(key.length > ARENA_VALUE_BYTES_MAX);
    });
    expect(table.size).toBe(keys.length);
  });
});

describe('KeyTable across pool chunks', () => {
  it('finds, replaces and removes keys whose blocks lie in different chunks of the pool', () => {
    // 400,000 keys over 65,536 slots take more than one 4 MiB chunk of triples (and growth leaves
    // freed blocks behind), so blocks are carved from the first chunk as it grows and from later ones.
    const table = new KeyTable(65536);
    const count = 400_000;
    const slotOf = (key: string): number => fnv(key) & 0xffff;
    for (let i = 0; i < count; i++) table.insert(slotOf(`k${i}`), fnv(`k${i}`), `k${i}`, i);
    expect(table.size).toBe(count);
    expect(table.bytesAllocated).toBeGreaterThan(4 * 1024 * 1024 + count * 16);
    for (let i = 0; i < count; i += 7) expect(table.get(slotOf(`k${i}`), fnv(`k${i}`), `k${i}`), `k${i}`).toBe(i);
    for (let i = 0; i < count; i += 3) {
      const key = `k${i}`;
      const at = table.locate(slotOf(key), fnv(key), key);
      if (i % 2 === 0) table.removeAt(slotOf(key), at);
      else table.replaceAt(slotOf(key), at, count + i);
    }
    for (let i = 0; i < count; i++) {
      const expected = i % 3 !== 0 ? i : i % 2 === 0 ? undefined : count + i;
      const found = table.get(slotOf(`k${i}`), fnv(`k${i}`), `k${i}`);
      if (found !== expected) expect(found, `k${i}`).toBe(expected);
    }
    let slotTotal = 0;
    for (let slot = 0; slot < 65536; slot++) slotTotal += table.slotSize(slot);
    expect(slotTotal).toBe(table.size);
  });
});
