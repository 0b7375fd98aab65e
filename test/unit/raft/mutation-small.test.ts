// Exact behaviour of the core's small modules: majority arithmetic (quorum.ts), ReadIndex
// bookkeeping (read-only.ts), membership arithmetic and its encoding (conf.ts), the seeded PRNG
// (prng.ts), config defaults and validation (config.ts) and assertions (assert.ts). Written to
// kill the mutants Stryker found surviving (npm run mutation).
import { describe, expect, it } from 'vitest';
import { quorumIndex, voteOutcome } from '../../../src/raft/quorum.js';
import { ReadOnly } from '../../../src/raft/read-only.js';
import { decodeConfState, encodeConfState, nextConfState } from '../../../src/raft/conf.js';
import { assert, RaftAssertionError } from '../../../src/raft/assert.js';
import { defaultRaftConfig, SeededPrng, validateRaftConfig, type ConfState, type RaftConfig } from '../../../src/raft/index.js';

describe('quorumIndex', () => {
  const of = (matches: Record<number, number>) => (id: number): number => matches[id] ?? 0;
  it('is 0 without voters', () => {
    expect(quorumIndex([], of({}))).toBe(0);
  });
  it('is the index a majority holds, for odd and even sizes', () => {
    expect(quorumIndex([1], of({ 1: 7 }))).toBe(7);
    expect(quorumIndex([1, 2], of({ 1: 7, 2: 3 }))).toBe(3);
    expect(quorumIndex([1, 2, 3], of({ 1: 9, 2: 4, 3: 6 }))).toBe(6);
    expect(quorumIndex([1, 2, 3, 4], of({ 1: 9, 2: 4, 3: 6, 4: 8 }))).toBe(6);
    expect(quorumIndex([1, 2, 3, 4, 5], of({ 1: 1, 2: 5, 3: 2, 4: 4, 5: 3 }))).toBe(3);
    // Numeric, not lexicographic, order.
    expect(quorumIndex([1, 2, 3], of({ 1: 10, 2: 9, 3: 100 }))).toBe(10);
  });
});

describe('voteOutcome', () => {
  const votes = (entries: [number, boolean][]) => new Map(entries);
  it('wins with a majority of grants', () => {
    expect(voteOutcome([1, 2, 3], votes([[1, true], [2, true]]))).toBe('won');
    expect(voteOutcome([1], votes([[1, true]]))).toBe('won');
    expect(voteOutcome([1, 2, 3, 4], votes([[1, true], [2, true]]))).toBe('pending');
    expect(voteOutcome([1, 2, 3, 4], votes([[1, true], [2, true], [3, true]]))).toBe('won');
  });
  it('loses once a majority can no longer be reached', () => {
    expect(voteOutcome([1, 2, 3], votes([[1, true], [2, false]]))).toBe('pending');
    expect(voteOutcome([1, 2, 3], votes([[1, true], [2, false], [3, false]]))).toBe('lost');
    expect(voteOutcome([1, 2, 3, 4], votes([[1, true], [2, false], [3, false]]))).toBe('lost');
    expect(voteOutcome([1, 2, 3, 4], votes([[1, true], [2, false]]))).toBe('pending');
  });
  it('ignores votes of non-voters', () => {
    expect(voteOutcome([1, 2, 3], votes([[1, true], [9, true]]))).toBe('pending');
    expect(voteOutcome([1, 2, 3], votes([[1, true], [8, false], [9, false]]))).toBe('pending');
  });
});

describe('ReadOnly', () => {
  it('counts unsent and waiting reads, and repeats the latest round only while reads wait', () => {
    const ro = new ReadOnly();
    expect(ro.size).toBe(0);
    expect(ro.hasUnsent()).toBe(false);
    expect(ro.roundToRepeat()).toBe(0);
    expect(ro.latestRound).toBe(0);
    ro.add(1, 10);
    ro.add(2, 10);
    expect(ro.size).toBe(2);
    expect(ro.hasUnsent()).toBe(true);
    expect(ro.roundToRepeat()).toBe(0);
    expect(ro.startRound()).toBe(1);
    expect(ro.latestRound).toBe(1);
    expect(ro.hasUnsent()).toBe(false);
    expect(ro.size).toBe(2);
    expect(ro.roundToRepeat()).toBe(1);
    ro.add(3, 11);
    expect(ro.size).toBe(3);
    expect(ro.startRound()).toBe(2);
    expect(ro.roundToRepeat()).toBe(2);
  });

  it('releases the reads of a round once a majority (the leader included) acknowledged it', () => {
    const ro = new ReadOnly();
    ro.add(1, 10);
    const r1 = ro.startRound();
    ro.add(2, 11);
    const r2 = ro.startRound();
    // Five voters: the leader (1) and two more are a majority.
    expect(ro.acknowledge(2, r2, 1, [1, 2, 3, 4, 5])).toEqual([]);
    expect(ro.acknowledge(3, r1, 1, [1, 2, 3, 4, 5])).toEqual([{ context: 1, index: 10 }]);
    expect(ro.size).toBe(1);
    expect(ro.acknowledge(3, r2, 1, [1, 2, 3, 4, 5])).toEqual([{ context: 2, index: 11 }]);
    expect(ro.size).toBe(0);
    expect(ro.roundToRepeat()).toBe(0);
  });

  it('an older acknowledgement never lowers what a voter has acknowledged', () => {
    const ro = new ReadOnly();
    ro.add(1, 10);
    ro.startRound();
    ro.add(2, 11);
    const r2 = ro.startRound();
    ro.acknowledge(2, r2, 1, [1, 2, 3]);
    // Released already: both rounds are confirmed by voter 2's acknowledgement of round 2.
    ro.add(3, 12);
    const r3 = ro.startRound();
    expect(ro.acknowledge(2, 1, 1, [1, 2, 3])).toEqual([]);
    expect(ro.acknowledge(3, r3, 1, [1, 2, 3])).toEqual([{ context: 3, index: 12 }]);
  });

  it('acknowledgements from non-voters and of unknown rounds release nothing', () => {
    const ro = new ReadOnly();
    ro.add(1, 10);
    const r = ro.startRound();
    expect(ro.acknowledge(9, r, 1, [1, 2, 3])).toEqual([]);
    expect(ro.acknowledge(2, 0, 1, [1, 2, 3])).toEqual([]);
    expect(ro.size).toBe(1);
    // In a two-voter cluster the other voter must acknowledge.
    const two = new ReadOnly();
    two.add(5, 1);
    const t = two.startRound();
    expect(two.acknowledge(2, t - 1, 1, [1, 2])).toEqual([]);
    expect(two.acknowledge(2, t, 1, [1, 2])).toEqual([{ context: 5, index: 1 }]);
  });

  it('releaseAll hands out waiting then unsent reads; dropAll returns their contexts and forgets acks', () => {
    const ro = new ReadOnly();
    ro.add(1, 10);
    ro.startRound();
    ro.add(2, 11);
    expect(ro.releaseAll()).toEqual([{ context: 1, index: 10 }, { context: 2, index: 11 }]);
    expect(ro.size).toBe(0);
    expect(ro.hasUnsent()).toBe(false);
    ro.add(3, 12);
    const r = ro.startRound();
    ro.acknowledge(2, r, 1, [1, 2, 3, 4, 5]);
    ro.add(4, 13);
    expect(ro.dropAll()).toEqual([3, 4]);
    expect(ro.size).toBe(0);
    expect(ro.hasUnsent()).toBe(false);
    // Voter 2's acknowledgement of round r was forgotten: round r+1 needs two fresh ones.
    ro.add(5, 14);
    const next = ro.startRound();
    expect(next).toBe(r + 1);
    expect(ro.acknowledge(3, next, 1, [1, 2, 3, 4, 5])).toEqual([]);
    expect(ro.acknowledge(4, next, 1, [1, 2, 3, 4, 5])).toEqual([{ context: 5, index: 14 }]);
  });
});

describe('conf.ts', () => {
  const conf: ConfState = { voters: [1, 2], learners: [3], removed: [7] };
  const change = (type: 'addLearner' | 'promote' | 'remove', nodeId: number) => ({ type, nodeId, context: new Uint8Array(0) });

  it('nextConfState applies each kind of change', () => {
    expect(nextConfState(conf, change('addLearner', 4))).toEqual({ voters: [1, 2], learners: [3, 4], removed: [7] });
    expect(nextConfState(conf, change('promote', 3))).toEqual({ voters: [1, 2, 3], learners: [], removed: [7] });
    expect(nextConfState(conf, change('remove', 2))).toEqual({ voters: [1], learners: [3], removed: [7, 2] });
    expect(nextConfState(conf, change('remove', 3))).toEqual({ voters: [1, 2], learners: [], removed: [7, 3] });
  });

  it('encodes version, three counts and the ids, big-endian', () => {
    const bytes = encodeConfState({ voters: [1, 258], learners: [3], removed: [] });
    expect([...bytes]).toEqual([1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 0, 0, 0, 3]);
    expect(decodeConfState(bytes)).toEqual({ voters: [1, 258], learners: [3], removed: [] });
  });

  it('round-trips, also from a view into a larger buffer', () => {
    const bytes = encodeConfState(conf);
    expect(decodeConfState(bytes)).toEqual(conf);
    const padded = new Uint8Array(bytes.length + 6);
    padded.set(bytes, 3);
    expect(decodeConfState(padded.subarray(3, 3 + bytes.length))).toEqual(conf);
    expect(decodeConfState(encodeConfState({ voters: [], learners: [], removed: [] }))).toEqual({ voters: [], learners: [], removed: [] });
  });

  it('refuses short, unknown-version and inconsistent encodings', () => {
    expect(() => decodeConfState(new Uint8Array(12))).toThrow(/12 bytes is too short/);
    const bad = encodeConfState(conf);
    bad[0] = 2;
    expect(() => decodeConfState(bad)).toThrow(/unknown conf state version 2/);
    const long = new Uint8Array(encodeConfState(conf).length + 4);
    long.set(encodeConfState(conf));
    expect(() => decodeConfState(long)).toThrow(/does not match its counts/);
  });
});

describe('SeededPrng', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = new SeededPrng(42);
    const b = new SeededPrng(42);
    const c = new SeededPrng(43);
    const seqA = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(seqA);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(seqA);
  });

  it('produces a pinned xoshiro128** sequence for seed 1 (splitmix32 seeding)', () => {
    // Pinned values (the simulator's seeds replay only while this sequence stays the same);
    // the reference implementation below agrees with them.
    const pinned = [2442144158, 3238099751, 3819917871, 2104621829, 2021136066, 4223536128];
    const p = new SeededPrng(1);
    expect(Array.from({ length: 6 }, () => p.nextU32())).toEqual(pinned);
    expect(reference(1, 6)).toEqual(pinned);
  });

  it('matches a straightforward reference implementation for several seeds', () => {
    for (const seed of [0, 1, 2, 0xffffffff, 123456789]) {
      const p = new SeededPrng(seed);
      expect(Array.from({ length: 20 }, () => p.nextU32())).toEqual(reference(seed, 20));
    }
  });

  it('nextInt stays in [0, bound), covers it, and refuses bounds below 1', () => {
    const p = new SeededPrng(7);
    const seen = new Set<number>();
    for (let k = 0; k < 2000; k++) {
      const v = p.nextInt(10);
      expect(Number.isInteger(v) && v >= 0 && v < 10).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(10);
    expect(p.nextInt(1)).toBe(0);
    expect(() => p.nextInt(0)).toThrow(/bound must be >= 1, got 0/);
    expect(() => p.nextInt(Number.NaN)).toThrow(/bound must be >= 1/);
  });

  it('nextInt and nextFloat scale the same 32-bit draw', () => {
    const a = new SeededPrng(99);
    const b = new SeededPrng(99);
    const c = new SeededPrng(99);
    for (let k = 0; k < 50; k++) {
      const u = a.nextU32();
      expect(b.nextFloat()).toBe(u / 2 ** 32);
      expect(c.nextInt(1000)).toBe(Math.floor((u / 2 ** 32) * 1000));
    }
  });
});

/** xoshiro128** seeded with four splitmix32 outputs, written out from the published algorithm. */
function reference(seed: number, count: number): number[] {
  let x = BigInt(seed >>> 0);
  const M = 0xffffffffn;
  const mul = (a: bigint, b: bigint): bigint => (a * b) & M;
  const split = (): bigint => {
    x = (x + 0x9e3779b9n) & M;
    let z = x;
    z = mul(z ^ (z >> 16n), 0x85ebca6bn);
    z = mul(z ^ (z >> 13n), 0xc2b2ae35n);
    return z ^ (z >> 16n);
  };
  const rot = (v: bigint, k: bigint): bigint => ((v << k) | (v >> (32n - k))) & M;
  const s = [split(), split(), split(), split()];
  const out: number[] = [];
  for (let n = 0; n < count; n++) {
    out.push(Number(mul(rot(mul(s[1]!, 5n), 7n), 9n)));
    const t = (s[1]! << 9n) & M;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rot(s[3]!, 11n);
  }
  return out;
}

describe('config', () => {
  const prng = new SeededPrng(1);
  it('defaults are sized for a 100 ms tick', () => {
    const c = defaultRaftConfig(3, prng);
    expect(c).toEqual({
      id: 3, group: 1, electionTicks: 10, heartbeatTicks: 1, prng, preVote: true, checkQuorum: true,
      maxInflightMsgs: 256, maxInflightBytes: 32 * 1024 * 1024, maxMsgBytes: 1024 * 1024,
      promoteLagEntries: 64, maxPendingReads: 100_000,
    });
    expect(defaultRaftConfig(3, prng, { electionTicks: 20, preVote: false }).electionTicks).toBe(20);
  });

  it('validation refuses each bad value at its boundary', () => {
    const ok = defaultRaftConfig(1, prng);
    const bad = (o: Partial<RaftConfig>): (() => void) => () => validateRaftConfig({ ...ok, ...o });
    expect(bad({ id: 0 })).toThrow(/node id must be a positive integer, got 0/);
    expect(bad({ id: -1 })).toThrow(/positive integer/);
    expect(bad({ id: 1.5 })).toThrow(/positive integer/);
    expect(bad({ id: 1 })).not.toThrow();
    expect(bad({ heartbeatTicks: 0 })).toThrow(/heartbeatTicks must be >= 1/);
    expect(bad({ heartbeatTicks: 1, electionTicks: 2 })).not.toThrow();
    expect(bad({ heartbeatTicks: 2, electionTicks: 2 })).toThrow(/must exceed heartbeatTicks/);
    expect(bad({ heartbeatTicks: 3, electionTicks: 2 })).toThrow(/must exceed heartbeatTicks/);
    expect(bad({ maxInflightMsgs: 0 })).toThrow(/maxInflightMsgs must be >= 1/);
    expect(bad({ maxInflightMsgs: 1 })).not.toThrow();
    expect(bad({ maxMsgBytes: 0 })).toThrow(/maxMsgBytes must be >= 1/);
    expect(bad({ maxMsgBytes: 1 })).not.toThrow();
    expect(() => defaultRaftConfig(0, prng)).toThrow(RaftAssertionError);
  });
});

describe('assert', () => {
  it('throws a RaftAssertionError naming the broken part, evaluating a lazy message only on failure', () => {
    let built = 0;
    const lazy = (): string => { built++; return 'lazy part'; };
    assert(true, lazy);
    expect(built).toBe(0);
    expect(() => assert(false, lazy)).toThrow('raft assertion failed: lazy part');
    expect(built).toBe(1);
    try {
      assert(false, 'plain part');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RaftAssertionError);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe('RaftAssertionError');
      expect((error as Error).message).toBe('raft assertion failed: plain part');
    }
  });
});
