// Cheap non-cryptographic digests for the simulator's checks. A digest is a 53-bit integer (two
// independent 32-bit mixes packed into one safe integer), so comparing two is one `===`, and a
// collision between two different logs in one run is too unlikely to hide a bug.

export const HASH_EMPTY = 0;

const MASK_21 = 0x1f_ffff;

function mixWord(h: number, word: number): number {
  h = Math.imul(h ^ word, 0x5bd1e995);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Folds a sequence of 32-bit words into a digest, starting from `seed`. */
export class Digest {
  private h1: number;
  private h2: number;

  constructor(seed = 0) {
    this.h1 = (0x811c9dc5 ^ Math.floor(seed / 0x20_0000)) >>> 0;
    this.h2 = (0x01000193 ^ (seed & MASK_21) ^ 0x9e3779b9) >>> 0;
  }

  word(value: number): this {
    const low = value >>> 0;
    const high = Math.floor(value / 0x1_0000_0000) >>> 0;
    this.h1 = mixWord(mixWord(this.h1, low), high);
    this.h2 = mixWord(mixWord(this.h2, Math.imul(low, 0x27d4eb2d) ^ 0x165667b1), high ^ 0x3c6ef372);
    return this;
  }

  bytes(data: Uint8Array): this {
    this.word(data.length);
    let h1 = this.h1;
    let h2 = this.h2;
    for (let at = 0; at < data.length; at++) {
      const byte = data[at] as number;
      h1 = Math.imul(h1 ^ byte, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ (byte + 0x9e), 0x85ebca6b) >>> 0;
    }
    this.h1 = h1;
    this.h2 = h2;
    return this;
  }

  string(text: string): this {
    this.word(text.length);
    let h1 = this.h1;
    let h2 = this.h2;
    for (let at = 0; at < text.length; at++) {
      const code = text.charCodeAt(at);
      h1 = Math.imul(h1 ^ code, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ (code + 0x9e), 0x85ebca6b) >>> 0;
    }
    this.h1 = h1;
    this.h2 = h2;
    return this;
  }

  /** The digest as a safe integer: 32 bits of one mix, 21 of the other. */
  value(): number {
    let h1 = this.h1;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b) >>> 0;
    h1 = (h1 ^ (h1 >>> 13)) >>> 0;
    let h2 = this.h2;
    h2 = Math.imul(h2 ^ (h2 >>> 16), 0xc2b2ae35) >>> 0;
    h2 = (h2 ^ (h2 >>> 13)) >>> 0;
    return h1 * 0x20_0000 + (h2 & MASK_21);
  }
}
