// Micro-benchmark: what a SET costs in the keyspace's data structure, against two others, to size
// the redesign docs/performance.md names ("keys and values off the JavaScript heap"). Not a test,
// and the prototype below is not used by the server.
//
//   npx tsx bench/keyspace-table.ts [--entries 400000] [--keys 100000] [--value-bytes 64] [--rounds 5]
//
// Each variant stores `entries` SETs of 16-byte keys (over `keys` distinct ones, in the same
// pseudo-random order) from a buffer holding key and value, as a replica applies them:
//   keyspace   Keyspace.putBytes, what StateMachine.applyPlainSet does for every plain SET: a latin1
//              key string, the value in the database's ValueArena (a packed value string before
//              the eighth session), 65,536 Maps per database, the derived counts;
//   one Map    a single Map of key strings to ValueArena handles, the old record freed on each
//              overwrite (no slots, no counts);
//   table      an open-addressing hash table over one large Buffer: an Int32Array of record
//              offsets, and records holding the key's and value's bytes and the index. No string
//              and no object per key, so nothing for the garbage collector to trace or copy.
// Prints ns per SET for each round (the first rounds include V8's warm-up).
import { parseArgs } from 'node:util';
import { Keyspace, latin1 } from '../src/state/keyspace.js';
import { ValueArena } from '../src/state/value-arena.js';

const { values: flags } = parseArgs({
  options: {
    entries: { type: 'string', default: '400000' },
    keys: { type: 'string', default: '100000' },
    'value-bytes': { type: 'string', default: '64' },
    rounds: { type: 'string', default: '5' },
  },
});
const count = Number(flags.entries);
const keyCount = Number(flags.keys);
const valueBytes = Number(flags['value-bytes']);
const KEY_BYTES = 16;

let seed = 1;
const random = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
  return seed;
};
const value = Buffer.alloc(valueBytes, 'x');
const inputs: Buffer[] = [];
for (let i = 0; i < count; i++) {
  inputs.push(Buffer.concat([Buffer.from(`key:${String(random() % keyCount).padStart(KEY_BYTES - 4, '0')}`), value]));
}

/** The prototype: linear probing over a power-of-two table; records appended to an arena. */
class ByteTable {
  private readonly mask: number;
  private readonly slots: Int32Array;
  private readonly hashes: Int32Array;
  private readonly arena: Buffer;
  private top = 0;

  constructor(keysMax: number, arenaBytes: number) {
    let size = 1;
    while (size < keysMax * 2) size <<= 1;
    this.mask = size - 1;
    this.slots = new Int32Array(size).fill(-1);
    this.hashes = new Int32Array(size);
    this.arena = Buffer.alloc(arenaBytes);
  }

  /** Stores value bytes [valueStart, valueEnd) under key bytes [keyStart, keyEnd) of `source`. */
  put(source: Buffer, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number, index: number): void {
    const keyLength = keyEnd - keyStart;
    const valueLength = valueEnd - valueStart;
    let hash = 0x811c9dc5 | 0;
    for (let i = keyStart; i < keyEnd; i++) hash = Math.imul(hash ^ source[i]!, 0x01000193);
    hash ^= hash >>> 15;
    let slot = hash & this.mask;
    const arena = this.arena;
    for (;;) {
      const at = this.slots[slot]!;
      if (at < 0) break;
      if (this.hashes[slot] === hash && arena[at] === keyLength && this.sameKey(at, source, keyStart, keyLength)) {
        const valueAt = at + 9 + keyLength;
        if (arena.readUInt32LE(at + 1) === valueLength) {
          for (let i = 0; i < valueLength; i++) arena[valueAt + i] = source[valueStart + i]!;
          arena.writeUInt32LE(index >>> 0, at + 5);
          return;
        }
        break;
      }
      slot = (slot + 1) & this.mask;
    }
    // A new key (or a new length: the old record is left behind, as a real one would free it).
    const at = this.top;
    this.top += 9 + keyLength + valueLength;
    arena[at] = keyLength;
    arena.writeUInt32LE(valueLength, at + 1);
    arena.writeUInt32LE(index >>> 0, at + 5);
    source.copy(arena, at + 9, keyStart, keyEnd);
    for (let i = 0; i < valueLength; i++) arena[at + 9 + keyLength + i] = source[valueStart + i]!;
    this.slots[slot] = at;
    this.hashes[slot] = hash;
  }

  private sameKey(at: number, source: Buffer, keyStart: number, keyLength: number): boolean {
    for (let i = 0; i < keyLength; i++) if (this.arena[at + 9 + i] !== source[keyStart + i]) return false;
    return true;
  }
}

function measure(name: string, setAll: (round: number) => void): void {
  const figures: string[] = [];
  for (let round = 1; round <= Number(flags.rounds); round++) {
    const start = process.hrtime.bigint();
    setAll(round);
    figures.push((Number(process.hrtime.bigint() - start) / count).toFixed(0));
  }
  process.stdout.write(`${name.padEnd(10)} ns per SET by round: ${figures.join(' ')}\n`);
}

const keyspace = new Keyspace();
keyspace.mutable = true;
measure('keyspace', (round) => {
  for (let i = 0; i < count; i++) {
    const input = inputs[i]!;
    keyspace.index = round * count + i + 1;
    keyspace.putBytes(0, latin1(input, 0, KEY_BYTES), input, KEY_BYTES, valueBytes);
  }
});

const map = new Map<string, number>();
const arena = new ValueArena();
measure('one Map', (round) => {
  for (let i = 0; i < count; i++) {
    const input = inputs[i]!;
    const key = latin1(input, 0, KEY_BYTES);
    const old = map.get(key);
    if (old !== undefined) arena.free(old);
    map.set(key, arena.store(input, KEY_BYTES, valueBytes, round * count + i + 1));
  }
});

const table = new ByteTable(keyCount, keyCount * (9 + KEY_BYTES + valueBytes) + 1024);
measure('table', (round) => {
  for (let i = 0; i < count; i++) {
    const input = inputs[i]!;
    table.put(input, 0, KEY_BYTES, KEY_BYTES, KEY_BYTES + valueBytes, round * count + i + 1);
  }
});
