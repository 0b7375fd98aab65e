// The checksum every on-disk record carries (src/storage/binary.ts): crc32Of computes short runs
// in JavaScript and hands longer ones to zlib; both must give zlib's CRC-32 exactly, for any
// bytes, any position in a buffer, and continued from a previous checksum.
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Of, SHORT_CRC_BYTES_MAX } from '../../../src/storage/binary.js';

function randomBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

describe('crc32Of', () => {
  it('equals zlib.crc32 at every length up to past the JavaScript loop, at any offset', () => {
    const buffer = randomBytes(2 * SHORT_CRC_BYTES_MAX + 64, 7);
    for (let length = 0; length <= SHORT_CRC_BYTES_MAX + 20; length++) {
      for (const start of [0, 1, 3, 8, 13]) {
        const end = start + length;
        expect(crc32Of(buffer, start, end), `length ${length} at ${start}`).toBe(crc32(buffer.subarray(start, end)));
      }
    }
    expect(crc32Of(buffer)).toBe(crc32(buffer));
  });

  it('continues from a previous checksum as zlib does, across both ways of computing it', () => {
    const bytes = randomBytes(1000, 11);
    const whole = crc32(bytes);
    for (const cut of [0, 1, 7, 100, SHORT_CRC_BYTES_MAX, 600, 999, 1000]) {
      expect(crc32Of(bytes, cut, bytes.length, crc32Of(bytes, 0, cut)), `cut at ${cut}`).toBe(whole);
    }
    expect(crc32Of(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('refuses a range beyond the bytes rather than reading past them', () => {
    expect(() => crc32Of(Buffer.alloc(10), 5, 11)).toThrow(RangeError);
    expect(() => crc32Of(Buffer.alloc(10), -1, 4)).toThrow(RangeError);
  });
});
