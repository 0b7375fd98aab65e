// Hashes used by the keyspace. They must be identical on every replica and across restarts, so
// they are fixed-seed and depend only on bytes: `slotHash` places a key in the SCAN order, and
// `bytesHash` feeds the keyspace digest that RAFT.DIGEST compares between replicas.

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

/** Two independent MurmurHash3 lanes over bytes, seeded by `seed` (a 64-bit hash in two halves). */
export function bytesHash(bytes: Uint8Array, seed: number): [number, number] {
  let a = seed ^ 0x9747b28c;
  let b = seed ^ 0x2f1a3c5d;
  const length = bytes.length;
  const blocks = length & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    const block = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    a = mixBlock(a, block);
    b = mixBlock(b, block ^ 0x5bd1e995);
  }
  let tail = 0;
  for (let shift = 0; i < length; i++, shift += 8) tail |= bytes[i]! << shift;
  if ((length & 3) !== 0) {
    a = mixBlock(a, tail);
    b = mixBlock(b, tail ^ 0x5bd1e995);
  }
  return [fmix32(a ^ length), fmix32(b ^ length)];
}

/** Mixes a few 32-bit words (of numbers up to 2^53) into two lanes. */
export function mixNumbers(lanes: [number, number], ...values: number[]): [number, number] {
  let [a, b] = lanes;
  for (const value of values) {
    const low = value >>> 0;
    const high = Math.floor(value / 4294967296) >>> 0;
    a = mixBlock(mixBlock(a, low), high);
    b = mixBlock(mixBlock(b, high ^ 0x5bd1e995), low);
  }
  return [fmix32(a), fmix32(b)];
}
