import { describe, expect, it } from 'vitest';
import { roundOrder } from '../../bench/round-order.js';

describe('roundOrder (bench/compare-ab.ts and bench/floor.ts interleave their targets)', () => {
  it('runs the reference first and alternates the order of the others from round to round', () => {
    const targets = ['redis-server', 'A', 'B'];
    expect(roundOrder(targets, 1)).toEqual(['redis-server', 'A', 'B']);
    expect(roundOrder(targets, 2)).toEqual(['redis-server', 'B', 'A']);
    expect(roundOrder(targets, 3)).toEqual(['redis-server', 'A', 'B']);
    expect(roundOrder(targets, 4)).toEqual(['redis-server', 'B', 'A']);
    expect(targets).toEqual(['redis-server', 'A', 'B']);
  });

  it('over an even number of rounds, puts each of two builds in each position equally often', () => {
    const second = new Map<string, number>();
    for (let round = 1; round <= 6; round++) {
      const name = roundOrder(['redis-server', 'A', 'B'], round)[2]!;
      second.set(name, (second.get(name) ?? 0) + 1);
    }
    expect(second).toEqual(new Map([['B', 3], ['A', 3]]));
  });

  it('handles no targets and a lone reference', () => {
    expect(roundOrder([], 2)).toEqual([]);
    expect(roundOrder(['redis-server'], 2)).toEqual(['redis-server']);
  });
});
