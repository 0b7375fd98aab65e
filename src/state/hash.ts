// Hashes used by the keyspace. They must be identical on every replica and across restarts, so
// they are fixed-seed and depend only on bytes: `slotHash` places a key in the SCAN order, and
// `valueHashInto` feeds the keyspace digest that RAFT.DIGEST compares between replicas.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  let x = h ^ k;
  x = (x << 13) | (x >>> 19);
  return (Math.imul(x, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3 (x86, 32-bit) of a key held as a latin1 string (one char per byte). */
export function slotHash(key: string): number {
  return stringHash(key, 0x5f3759df);
}

/** MurmurHash3 (x86, 32-bit) of a latin1 string with the given seed. */
export function stringHash(key: string, seed: number): number {
  let h = seed | 0;
  const length = key.length;
  const blocks = length & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    const block = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 8) | (key.charCodeAt(i + 2) << 16) | (key.charCodeAt(i + 3) << 24);
    h = mixBlock(h, block);
  }
  const rest = length & 3;
  if (rest !== 0) {
    let tail = key.charCodeAt(i);
    if (rest >= 2) tail ^= key.charCodeAt(i + 1) << 8;
    if (rest === 3) tail ^= key.charCodeAt(i + 2) << 16;
    tail = Math.imul(tail, C1);
    tail = (tail << 15) | (tail >>> 17);
    h ^= Math.imul(tail, C2);
  }
  return fmix32(h ^ length);
}

/** slotHash of the key whose bytes are `length` bytes of `source` from `start`: the same number. */
export function bytesSlotHash(source: Uint8Array, start: number, length: number): number {
  let h = 0x5f3759df;
  const blocks = start + (length & ~3);
  let i = start;
  for (; i < blocks; i += 4) {
    const block = source[i]! | (source[i + 1]! << 8) | (source[i + 2]! << 16) | (source[i + 3]! << 24);
    h = mixBlock(h, block);
  }
  const rest = length & 3;
  if (rest !== 0) {
    let tail = source[i]!;
    if (rest >= 2) tail ^= source[i + 1]! << 8;
    if (rest === 3) tail ^= source[i + 2]! << 16;
    tail = Math.imul(tail, C1);
    tail = (tail << 15) | (tail >>> 17);
    h ^= Math.imul(tail, C2);
  }
  return fmix32(h ^ length);
}

/** A reusable pair of 32-bit lanes, so hot paths hash without allocating. */
export interface Lanes {
  a: number;
  b: number;
}

/**
 * Two independent MurmurHash3 lanes over bytes (a Uint8Array, or a latin1 string holding one byte
 * per char: both give the same lanes for the same bytes), seeded, written into `out`. Only the
 * first `length` bytes (chars) are hashed: the keyspace keeps a key's index after its value's chars.
 */
export function valueHashInto(value: string | Uint8Array, seed: number, out: Lanes, length: number = value.length): void {
  let a = seed ^ 0x9747b28c;
  let b = seed ^ 0x2f1a3c5d;
  const blocks = length & ~3;
  let i = 0;
  let tail = 0;
  if (typeof value === 'string') {
    for (; i < blocks; i += 4) {
      const block = value.charCodeAt(i) | (value.charCodeAt(i + 1) << 8) | (value.charCodeAt(i + 2) << 16) | (value.charCodeAt(i + 3) << 24);
      a = mixBlock(a, block);
      b = mixBlock(b, block ^ 0x5bd1e995);
    }
    for (let shift = 0; i < length; i++, shift += 8) tail |= value.charCodeAt(i) << shift;
  } else {
    for (; i < blocks; i += 4) {
      const block = value[i]! | (value[i + 1]! << 8) | (value[i + 2]! << 16) | (value[i + 3]! << 24);
      a = mixBlock(a, block);
      b = mixBlock(b, block ^ 0x5bd1e995);
    }
    for (let shift = 0; i < length; i++, shift += 8) tail |= value[i]! << shift;
  }
  if ((length & 3) !== 0) {
    a = mixBlock(a, tail);
    b = mixBlock(b, tail ^ 0x5bd1e995);
  }
  out.a = fmix32(a ^ length);
  out.b = fmix32(b ^ length);
}

function mixNumberInto(out: Lanes, value: number): void {
  const low = value >>> 0;
  const high = Math.floor(value / 4294967296) >>> 0;
  out.a = mixBlock(mixBlock(out.a, low), high);
  out.b = mixBlock(mixBlock(out.b, high ^ 0x5bd1e995), low);
}

/** Mixes whole numbers below 2^53 into `out` in place. */
export function mixNumbersInto(out: Lanes, first: number, second: number): void {
  mixNumberInto(out, first);
  mixNumberInto(out, second);
  out.a = fmix32(out.a);
  out.b = fmix32(out.b);
}
