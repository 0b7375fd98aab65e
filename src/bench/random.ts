// A small seeded pseudo-random generator (xoshiro128**, seeded through splitmix32), so that a
// benchmark's key sequence is a pure function of its seed: two runs with the same flags send the
// same keys, as memtier's do, and the key-pattern tests can pin exact sequences.

function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let state = seed | 0;
    let output: number;
    [state, output] = splitmix32(state);
    this.s0 = output;
    [state, output] = splitmix32(state);
    this.s1 = output;
    [state, output] = splitmix32(state);
    this.s2 = output;
    [, output] = splitmix32(state);
    this.s3 = output;
    // xoshiro's one forbidden state is all zeroes; splitmix32 cannot produce four zero words
    // in a row, but say so where a reader would look.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) throw new Error('xoshiro128** state must not be all zero');
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s1 = this.s1;
    const product = Math.imul(s1, 5);
    const result = Math.imul((product << 7) | (product >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67_108_864 + low) / 9_007_199_254_740_992;
  }

  /** A uniform integer in [minimum, maximum], both inclusive. */
  nextIntInclusive(minimum: number, maximum: number): number {
    return minimum + Math.floor(this.nextDouble() * (maximum - minimum + 1));
  }
}
