// Fixed-width integer helpers shared by every on-disk format in src/storage. Everything is
// big-endian, like the peer transport, so an entry reads the same on the wire and on disk.
// Indexes and terms are u64 on disk but JavaScript numbers in memory: values above 2^53 - 1 are
// refused on write and reported as malformed on read rather than silently rounded.
import { crc32 } from 'node:zlib';

export const TWO_POW_32 = 0x1_0000_0000;
/** The largest high word of a u64 that still decodes to a safe integer (2^53 - 1). */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

/**
 * A big-endian u32 at `at`, unchecked: the caller has checked `value` (a typed array store keeps
 * the low 8 bits). Byte stores, because Buffer.writeUInt32BE checks its arguments again, which
 * was a sixth of encoding a log entry.
 */
export function putU32(target: Uint8Array, at: number, value: number): void {
  target[at] = value >>> 24;
  target[at + 1] = value >>> 16;
  target[at + 2] = value >>> 8;
  target[at + 3] = value;
}

/** The big-endian u32 at `at`, unchecked: the caller has checked that four bytes are there. */
export function getU32(source: Uint8Array, at: number): number {
  return ((source[at]! << 24) | (source[at + 1]! << 16) | (source[at + 2]! << 8) | source[at + 3]!) >>> 0;
}

export function writeU64(target: Buffer, offset: number, value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`cannot encode ${field}=${value}: not a non-negative safe integer`);
  }
  putU32(target, offset, Math.floor(value / TWO_POW_32));
  putU32(target, offset + 4, value >>> 0);
}

/** Reads a u64, or returns -1 when it does not fit in a safe integer (the caller reports it). */
export function readU64(source: Buffer, offset: number): number {
  if (offset < 0 || offset + 8 > source.length) throw new RangeError(`u64 at ${offset} runs past ${source.length} bytes`);
  const high = getU32(source, offset);
  if (high > MAX_SAFE_HIGH_WORD) return -1;
  return high * TWO_POW_32 + getU32(source, offset + 4);
}

export function writeU32(target: Buffer, offset: number, value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= TWO_POW_32) {
    throw new Error(`cannot encode ${field}=${value}: not a u32`);
  }
  putU32(target, offset, value);
}

/**
 * Up to this many bytes crc32Of computes the checksum in JavaScript: zlib.crc32 checks its
 * arguments and crosses into C++, about 400 ns for a 100-byte log entry (with the view it needs)
 * against 215 ns for the loop below; at 1,000 bytes zlib takes 660 ns and the loop 2,700.
 */
export const SHORT_CRC_BYTES_MAX = 256;

/** CRC-32 lookup tables for slicing by 8 (Intel's method): table k advances a byte by k more. */
const CRC_TABLES = ((): Int32Array => {
  const tables = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]!;
    for (let k = 1; k < 8; k++) {
      c = tables[c & 0xff]! ^ (c >>> 8);
      tables[k * 256 + n] = c;
    }
  }
  return tables;
})();

/** CRC-32 (IEEE, as in zlib and gzip) of `bytes[start, end)`, continuing from `previous`. */
export function crc32Of(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  if (end - start > SHORT_CRC_BYTES_MAX) return crc32(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), previous);
  if (start < 0 || end > bytes.length) throw new RangeError(`crc32 of [${start}, ${end}) beyond ${bytes.length} bytes`);
  const t = CRC_TABLES;
  let c = ~previous;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c = t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]!
      ^ t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Wraps a Uint8Array as a Buffer without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
