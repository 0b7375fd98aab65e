// Key choice of `raftis bench` against memtier_benchmark's definitions (obj_gen.cpp, client.cpp):
// the exact sequences of S and P (per-side cursors, wrapping, per-client slices with the last
// client taking the leftover), the bounds and spread of R and G, the SET/GET interleaving of
// --ratio, and determinism under a seed. Sequences are pinned exactly where memtier's are
// deterministic, and checked statistically (with wide, seed-fixed margins) where they are random.
import { describe, expect, it } from 'vitest';
import { KeyGenerator, RatioCycle, parallelKeyRange, type KeyGeneratorConfig } from '../../src/bench/key-pattern.js';
import { parseKeyPattern } from '../../src/bench/options.js';
import { Random } from '../../src/bench/random.js';

function config(pattern: string, keyMinimum: number, keyMaximum: number, extra: Partial<KeyGeneratorConfig> = {}): KeyGeneratorConfig {
  return { keyMinimum, keyMaximum, keyPattern: parseKeyPattern(pattern), keyStddev: 0, keyMedian: 0, ...extra };
}

function take(count: number, next: () => number): number[] {
  return Array.from({ length: count }, next);
}

describe('parallelKeyRange (P slices)', () => {
  it.each([
    // min, max, clients, expected slices: memtier's range = (max - min) / clients + 1
    [0, 99, 4, [[0, 24], [25, 49], [50, 74], [75, 99]]],
    [0, 10, 3, [[0, 3], [4, 7], [8, 10]]],
    [5, 5, 1, [[5, 5]]],
    [10, 19, 2, [[10, 14], [15, 19]]],
  ])('[%i, %i] over %i clients', (minimum, maximum, clients, expected) => {
    const slices = Array.from({ length: clients }, (_, index) => {
      const range = parallelKeyRange(minimum, maximum, index, clients);
      return [range.minimum, range.maximum];
    });
    expect(slices).toEqual(expected);
  });

  it('tiles the range exactly: contiguous, no overlap, last slice ends at the maximum', () => {
    for (const [minimum, maximum, clients] of [[0, 10_000_000, 200], [3, 1_000, 7], [0, 12, 13], [100, 1_000_003, 64]] as const) {
      let expectedMinimum = minimum;
      for (let index = 0; index < clients; index++) {
        const range = parallelKeyRange(minimum, maximum, index, clients);
        expect(range.minimum, `client ${index} of ${clients}`).toBe(expectedMinimum);
        expect(range.maximum).toBeGreaterThanOrEqual(range.minimum);
        expectedMinimum = range.maximum + 1;
      }
      expect(expectedMinimum - 1).toBe(maximum);
    }
  });

  it('rejects a client index outside the client count', () => {
    expect(() => parallelKeyRange(0, 9, 2, 2)).toThrow(/outside/);
    expect(() => parallelKeyRange(0, 9, -1, 2)).toThrow(/outside/);
  });
});

describe('S: sequential', () => {
  it('walks from the minimum, wraps after the maximum, with separate SET and GET cursors', () => {
    const keys = new KeyGenerator(config('S:S', 5, 8), 0, 1, 0);
    expect(take(6, () => keys.nextSetKey())).toEqual([5, 6, 7, 8, 5, 6]);
    expect(take(3, () => keys.nextGetKey())).toEqual([5, 6, 7]);
    expect(keys.nextSetKey()).toBe(7);
  });

  it('lets every client walk the whole range (memtier clones the generator per client)', () => {
    const first = new KeyGenerator(config('S:S', 0, 100), 0, 4, 0);
    const last = new KeyGenerator(config('S:S', 0, 100), 3, 4, 0);
    expect(take(3, () => first.nextSetKey())).toEqual([0, 1, 2]);
    expect(take(3, () => last.nextSetKey())).toEqual([0, 1, 2]);
  });
});

describe('P: parallel', () => {
  it('gives each client its own slice and walks it sequentially, wrapping inside the slice', () => {
    const client0 = new KeyGenerator(config('P:P', 0, 9), 0, 2, 0);
    const client1 = new KeyGenerator(config('P:P', 0, 9), 1, 2, 0);
    expect(take(7, () => client0.nextSetKey())).toEqual([0, 1, 2, 3, 4, 0, 1]);
    expect(take(7, () => client1.nextSetKey())).toEqual([5, 6, 7, 8, 9, 5, 6]);
    expect(take(2, () => client1.nextGetKey())).toEqual([5, 6]);
  });

  it('narrows the GET side too when only the SET side is P, as memtier does', () => {
    const keys = new KeyGenerator(config('P:R', 0, 999), 2, 4, 7);
    expect(keys.range).toEqual({ minimum: 500, maximum: 749 });
    const drawn = take(2_000, () => keys.nextGetKey());
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...drawn)).toBeLessThanOrEqual(749);
  });

  it('does not slice when only the GET side is P: it is then a plain sequential GET cursor', () => {
    const keys = new KeyGenerator(config('S:P', 0, 99), 1, 2, 0);
    expect(keys.range).toEqual({ minimum: 0, maximum: 99 });
    expect(take(3, () => keys.nextGetKey())).toEqual([0, 1, 2]);
  });
});

describe('R: uniform random', () => {
  it('stays within the range and reaches both ends of a small one', () => {
    const keys = new KeyGenerator(config('R:R', 10, 19), 0, 1, 1);
    const seen = new Set(take(2_000, () => keys.nextSetKey()));
    expect([...seen].sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('is roughly uniform (chi-square over 20 buckets, fixed seed)', () => {
    const keys = new KeyGenerator(config('R:R', 0, 19), 0, 1, 42);
    const counts = new Array<number>(20).fill(0);
    const draws = 40_000;
    for (let i = 0; i < draws; i++) counts[keys.nextGetKey()]! += 1;
    const expected = draws / 20;
    const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    // 19 degrees of freedom: p = 0.001 at 43.8.
    expect(chiSquare).toBeLessThan(43.8);
  });

  it('repeats for the same seed and differs for another', () => {
    const a = new KeyGenerator(config('R:R', 0, 10_000_000), 0, 1, 5);
    const b = new KeyGenerator(config('R:R', 0, 10_000_000), 0, 1, 5);
    const c = new KeyGenerator(config('R:R', 0, 10_000_000), 0, 1, 6);
    const sequenceA = take(20, () => a.nextSetKey());
    expect(take(20, () => b.nextSetKey())).toEqual(sequenceA);
    expect(take(20, () => c.nextSetKey())).not.toEqual(sequenceA);
  });
});

describe('G: Gaussian', () => {
  function moments(values: readonly number[]) {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    return { mean, stddev: Math.sqrt(variance) };
  }

  it('centres on the middle of the range with stddev (max - min) / 6 by default', () => {
    const keys = new KeyGenerator(config('G:G', 0, 60_000), 0, 1, 3);
    const values = take(50_000, () => keys.nextSetKey());
    expect(values.every((value) => Number.isInteger(value) && value >= 0 && value <= 60_000)).toBe(true);
    const { mean, stddev } = moments(values);
    expect(Math.abs(mean - 30_000)).toBeLessThan(150);
    // Redrawing outside ±3σ trims the tails a little: the spread is just under 10 000.
    expect(stddev).toBeGreaterThan(9_300);
    expect(stddev).toBeLessThan(10_100);
  });

  it('honours --key-median and --key-stddev', () => {
    const keys = new KeyGenerator(config('R:G', 0, 100_000, { keyMedian: 20_000, keyStddev: 1_000 }), 0, 1, 9);
    const { mean, stddev } = moments(take(20_000, () => keys.nextGetKey()));
    expect(Math.abs(mean - 20_000)).toBeLessThan(50);
    expect(Math.abs(stddev - 1_000)).toBeLessThan(50);
  });

  it('keeps to a narrow range and returns the only key of a one-key range', () => {
    const narrow = new KeyGenerator(config('G:G', 7, 9), 0, 1, 2);
    const seen = new Set(take(1_000, () => narrow.nextSetKey()));
    expect([...seen].sort()).toEqual([7, 8, 9]);
    const single = new KeyGenerator(config('G:G', 4, 4), 0, 1, 2);
    expect(take(3, () => single.nextGetKey())).toEqual([4, 4, 4]);
  });
});

describe('RatioCycle (--ratio SET:GET)', () => {
  function pattern(sets: number, gets: number, count: number): string {
    const cycle = new RatioCycle(sets, gets);
    return take(count, () => (cycle.nextIsSet() ? 1 : 0))
      .map((isSet) => (isSet ? 'S' : 'G'))
      .join('');
  }

  it.each([
    [1, 10, 24, 'SGGGGGGGGGGSGGGGGGGGGGSG'],
    [2, 3, 12, 'SSGGGSSGGGSS'],
    [1, 1, 6, 'SGSGSG'],
    [1, 0, 4, 'SSSS'],
    [0, 1, 4, 'GGGG'],
  ])('%i:%i', (sets, gets, count, expected) => {
    expect(pattern(sets, gets, count)).toBe(expected);
  });

  it('refuses 0:0', () => {
    expect(() => new RatioCycle(0, 0)).toThrow(/sends nothing/);
  });
});

describe('Random', () => {
  it('gives doubles in [0, 1) and integers within inclusive bounds', () => {
    const random = new Random(123);
    const doubles = take(10_000, () => random.nextDouble());
    expect(doubles.every((value) => value >= 0 && value < 1)).toBe(true);
    const integers = new Set(take(10_000, () => random.nextIntInclusive(-3, 3)));
    expect([...integers].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
  });
});
