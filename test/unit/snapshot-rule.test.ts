// When a node takes its automatic snapshots (src/server/snapshot-rule.ts): the members of a
// cluster take turns rather than all serializing their keyspace at the same index, and each
// still snapshots about every --snapshot-entries entries.
import { describe, expect, it } from 'vitest';
import { SeededPrng } from '../../src/raft/prng.js';
import { memberRank, snapshotDue, snapshotMayBeDue, type SnapshotRuleInput } from '../../src/server/snapshot-rule.js';

const T = 100_000;
const NO_SIZE = { logBytes: 0, logBytesThreshold: Number.POSITIVE_INFINITY };

/** The indexes at which a member of rank `rank` of `members` snapshots, applying batches of 1..maxBatch entries. */
function snapshotPoints(rank: number, members: number, last: number, seed: number, maxBatch = 500, start = 0): number[] {
  const prng = new SeededPrng(seed);
  const points: number[] = [];
  let snapshotIndex = start;
  for (let applied = start; applied < last;) {
    applied += 1 + prng.nextInt(maxBatch);
    if (snapshotDue({ applied, snapshotIndex, entriesThreshold: T, rank, members, ...NO_SIZE })) {
      points.push(applied);
      snapshotIndex = applied;
    }
  }
  return points;
}

describe('the snapshot rule', () => {
  it('staggers three members a third of the period apart, each snapshotting about every period', () => {
    const points = [0, 1, 2].map((rank) => snapshotPoints(rank, 3, 2_000_000, 11 + rank));
    for (const [rank, own] of points.entries()) {
      expect(own.length).toBeGreaterThanOrEqual(19);
      // Half a period after the start at the soonest (the first point of its grid may come sooner)...
      expect(own[0]!).toBeGreaterThanOrEqual(T / 2);
      expect(own[0]!).toBeLessThan(T + 500);
      for (let k = 1; k < own.length; k++) {
        // ...then on its own grid: one period apart, give or take a batch, at its own phase.
        expect(Math.abs(own[k]! - own[k - 1]! - T)).toBeLessThan(k === 1 ? T / 2 + 500 : 500);
        expect(((own[k]! - Math.floor((T * rank) / 3)) % T + T) % T).toBeLessThan(500);
      }
    }
    // Once on their grids (from each one's second snapshot), no two members snapshot within a
    // third of a period (less a batch) of each other. The first ones of a new cluster can be
    // closer: rank 1's grid point at T/3 comes before T/2, so it takes its first at T/2.
    const all = points.flatMap((own, rank) => own.slice(1).map((at) => ({ at, rank }))).sort((a, b) => a.at - b.at);
    for (let k = 1; k < all.length; k++) {
      if (all[k]!.rank !== all[k - 1]!.rank) expect(all[k]!.at - all[k - 1]!.at).toBeGreaterThan(T / 3 - 500);
    }
  });

  it('brings a member whose last snapshot was off its grid back onto it, never sooner than half a period', () => {
    // Rank 0's grid is the multiples of T; its last snapshot was taken by hand at 0.6 T.
    const points = snapshotPoints(0, 3, 600_000, 5, 100, 60_000);
    expect(points[0]! - 60_000).toBeGreaterThanOrEqual(T / 2);
    expect(points[0]! - 60_000).toBeLessThan(T / 2 + 100);
    for (const at of points.slice(1)) expect(at % T).toBeLessThan(100);
  });

  it('is due at the first point of the grid half a period on or later, at most a period on, never with nothing applied', () => {
    // Rank 1 of 3: its grid is 33,333 + multiples of T.
    const base: SnapshotRuleInput = { applied: 0, snapshotIndex: 0, entriesThreshold: T, rank: 1, members: 3, ...NO_SIZE };
    expect(snapshotDue({ ...base, applied: 10, snapshotIndex: 10 })).toBe(false);
    // Just past a grid point: due at the next one.
    expect(snapshotDue({ ...base, snapshotIndex: 133_334, applied: 233_332 })).toBe(false);
    expect(snapshotDue({ ...base, snapshotIndex: 133_334, applied: 233_333 })).toBe(true);
    // 40,000 before a grid point: due half a period on, past it.
    expect(snapshotDue({ ...base, snapshotIndex: 193_333, applied: 233_333 })).toBe(false);
    expect(snapshotDue({ ...base, snapshotIndex: 193_333, applied: 243_332 })).toBe(false);
    expect(snapshotDue({ ...base, snapshotIndex: 193_333, applied: 243_333 })).toBe(true);
    // And never more than a period on: a period always holds a grid point.
    for (let snapshotIndex = 0; snapshotIndex < 2 * T; snapshotIndex += 7_919) {
      expect(snapshotDue({ ...base, snapshotIndex, applied: snapshotIndex + T })).toBe(true);
    }
    // A single member keeps the plain rule: every T entries.
    const alone = { ...base, rank: 0, members: 1 };
    expect(snapshotDue({ ...alone, applied: T - 1 })).toBe(false);
    expect(snapshotDue({ ...alone, applied: T })).toBe(true);
  });

  it('takes a snapshot by size at once, whatever the count', () => {
    const input: SnapshotRuleInput = { applied: 20, snapshotIndex: 10, entriesThreshold: T, rank: 2, members: 3, logBytes: 64, logBytesThreshold: 64 };
    expect(snapshotDue(input)).toBe(true);
    expect(snapshotDue({ ...input, logBytes: 63 })).toBe(false);
  });

  it('has a pre-check (asked after every cycle, before the rank) that never refuses a snapshot the rule wants', () => {
    const prng = new SeededPrng(29);
    let refused = 0;
    for (let k = 0; k < 20_000; k++) {
      const members = 1 + prng.nextInt(7);
      const snapshotIndex = prng.nextInt(3 * T);
      const input: SnapshotRuleInput = {
        applied: snapshotIndex + prng.nextInt(2 * T) - 10, snapshotIndex, entriesThreshold: T, rank: prng.nextInt(members + 1), members,
        logBytes: prng.nextInt(200), logBytesThreshold: 100 + prng.nextInt(100),
      };
      const may = snapshotMayBeDue(input.applied - input.snapshotIndex, T, input.logBytes, input.logBytesThreshold);
      if (snapshotDue(input)) expect(may).toBe(true);
      if (!may) refused++;
    }
    // It does refuse most of the time early in a period, which is what it is for.
    expect(refused).toBeGreaterThan(2_000);
    expect(snapshotMayBeDue(T / 2 - 1, T, 0, 64)).toBe(false);
    expect(snapshotMayBeDue(T / 2, T, 0, 64)).toBe(true);
    expect(snapshotMayBeDue(1, T, 64, 64)).toBe(true);
    expect(snapshotMayBeDue(0, T, 64, 64)).toBe(false);
  });

  it('ranks members by id, learners included, and puts a node not yet among them last', () => {
    expect(memberRank(7, [9, 7, 3], [])).toEqual({ rank: 1, members: 3 });
    expect(memberRank(5, [9, 7, 3], [5])).toEqual({ rank: 1, members: 4 });
    expect(memberRank(4, [9, 7, 3], [])).toEqual({ rank: 3, members: 4 });
  });
});
