// The simulator's parts on their own, so that a green seed suite means something: the agenda
// orders events by time and then by insertion; the network drops, duplicates, delays and cuts
// links exactly as told; the simulated disk overwrites log suffixes, installs and compacts
// snapshots and restores what was written (and, for the broken variant, forgets the vote); each
// safety check fires on a hand-made history that breaks its rule and stays quiet on one that
// does not; the key-value state machine and its snapshot image round-trip.
import { describe, expect, it } from 'vitest';
import { SeededPrng } from '../../src/raft/prng.js';
import type { ConfState, Entry, Message } from '../../src/raft/types.js';
import { applyConfChange } from './cluster.js';
import { EventQueue } from './event-queue.js';
import { Invariants, LogMirror, SafetyViolation } from './invariants.js';
import { encodeCommand, KvStateMachine } from './kv.js';
import { Network } from './network.js';
import { optionsForSeed } from './options.js';
import { SimStorage } from './storage.js';
import { formatMessage, Trace } from './trace.js';

const NO_DATA = new Uint8Array(0);

function entry(index: number, term: number, data = `e${index}t${term}`): Entry {
  return { index, term, kind: 'normal', data: new TextEncoder().encode(data) };
}

function violationOf(fn: () => void): SafetyViolation | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof SafetyViolation) return error;
    throw error;
  }
  return undefined;
}

describe('EventQueue', () => {
  it('pops by time, then in insertion order', () => {
    const queue = new EventQueue<string>();
    const prng = new SeededPrng(3);
    const pushed: [number, string][] = [];
    for (let k = 0; k < 500; k++) {
      const time = prng.nextInt(50);
      queue.push(time, `e${k}`);
      pushed.push([time, `e${k}`]);
    }
    const expected = pushed.map(([time, name], order) => ({ time, name, order }))
      .sort((a, b) => a.time - b.time || a.order - b.order)
      .map(({ name }) => name);
    const popped: string[] = [];
    for (let item = queue.pop(); item !== undefined; item = queue.pop()) popped.push(item.event);
    expect(popped).toEqual(expected);
  });

  it('refuses times that are negative or fractional', () => {
    const queue = new EventQueue<string>();
    expect(() => queue.push(-1, 'x')).toThrow();
    expect(() => queue.push(1.5, 'x')).toThrow();
  });
});

describe('Network', () => {
  const calm = { dropRate: 0, duplicateRate: 0, delayMsMin: 3, delayMsMax: 9 };

  it('delivers once within the delay bounds when calm', () => {
    const network = new Network(new SeededPrng(1), calm);
    const delays = Array.from({ length: 2000 }, () => network.plan());
    expect(delays.every((plan) => plan.length === 1)).toBe(true);
    const flat = delays.flat();
    expect(Math.min(...flat)).toBe(3);
    expect(Math.max(...flat)).toBe(9);
  });

  it('drops and duplicates at the rates asked', () => {
    const network = new Network(new SeededPrng(2), { ...calm, dropRate: 0.25, duplicateRate: 0.5 });
    const plans = Array.from({ length: 20_000 }, () => network.plan());
    const dropped = plans.filter((plan) => plan.length === 0).length / plans.length;
    const duplicated = plans.filter((plan) => plan.length === 2).length / plans.length;
    expect(dropped).toBeGreaterThan(0.22);
    expect(dropped).toBeLessThan(0.28);
    expect(duplicated).toBeGreaterThan(0.34);
    expect(duplicated).toBeLessThan(0.41);
  });

  it('cuts symmetric, one-way, isolating and overlapping partitions, and heals', () => {
    const network = new Network(new SeededPrng(3), calm);
    network.splitSymmetric([[1, 2], [3, 4, 5]]);
    expect(network.connected(1, 2)).toBe(true);
    expect(network.connected(1, 3)).toBe(false);
    expect(network.connected(4, 2)).toBe(false);
    expect(network.connected(3, 5)).toBe(true);

    network.splitOneWay([1], [2, 3]);
    expect(network.connected(1, 2)).toBe(false);
    expect(network.connected(2, 1)).toBe(true);
    expect(network.connected(2, 3)).toBe(true);

    network.isolate(3, [1, 2, 3, 4, 5]);
    for (const other of [1, 2, 4, 5]) {
      expect(network.connected(3, other)).toBe(false);
      expect(network.connected(other, 3)).toBe(false);
    }
    expect(network.connected(1, 2)).toBe(true);

    network.overlap([1, 2, 3], [3, 4, 5]);
    expect(network.connected(1, 4)).toBe(false);
    expect(network.connected(5, 2)).toBe(false);
    expect(network.connected(3, 1)).toBe(true);
    expect(network.connected(5, 3)).toBe(true);
    expect(network.connected(1, 2)).toBe(true);
    expect(network.partition().kind).toBe('overlap');

    network.heal();
    expect(network.connected(1, 4)).toBe(true);
    expect(network.partition().kind).toBe('none');
  });
});

describe('SimStorage', () => {
  const conf = { voters: [1, 2, 3], learners: [], removed: [] };

  it('appends, overwrites a suffix, and refuses gaps', () => {
    const storage = new SimStorage(conf);
    storage.persist(undefined, { term: 1, vote: 1, commit: 0 }, [entry(1, 1), entry(2, 1), entry(3, 1)]);
    storage.persist(undefined, { term: 2, vote: 2, commit: 1 }, [entry(2, 2)]);
    expect(storage.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['1/1', '2/2']);
    expect(() => storage.persist(undefined, undefined, [entry(4, 2)])).toThrow(/gap/);
  });

  it('installs a snapshot in place of the log, compacts, and restores what was written', () => {
    const storage = new SimStorage(conf);
    storage.persist(undefined, { term: 1, vote: 1, commit: 2 }, [entry(1, 1), entry(2, 1), entry(3, 1)]);
    storage.compact({ meta: { index: 2, term: 1, confState: conf }, data: NO_DATA });
    expect(storage.snapshotIndex()).toBe(2);
    expect(storage.entries.map((e) => e.index)).toEqual([3]);
    expect(() => storage.persist(undefined, undefined, [entry(2, 1)])).toThrow(/snapshot/);
    expect(() => storage.compact({ meta: { index: 3, term: 9, confState: conf }, data: NO_DATA })).toThrow(/term/);

    storage.persist({ meta: { index: 10, term: 3, confState: conf }, data: NO_DATA }, { term: 3, vote: 2, commit: 10 }, [entry(11, 3)]);
    const restored = storage.restore(false);
    expect(restored.snapshot?.meta.index).toBe(10);
    expect(restored.entries.map((e) => e.index)).toEqual([11]);
    expect(restored.hardState).toEqual({ term: 3, vote: 2, commit: 10 });
    expect(storage.restore(true).hardState).toEqual({ term: 3, vote: 0, commit: 10 });
  });
});

describe('Invariants', () => {
  it('Election Safety: a second leader in a term is a violation, the same one again is not', () => {
    const invariants = new Invariants();
    invariants.recordLeader(3, 1, 'test');
    invariants.recordLeader(3, 1, 'test');
    invariants.recordLeader(4, 2, 'test');
    expect(violationOf(() => invariants.recordLeader(3, 2, 'test'))?.rule).toBe('Election Safety (§5.2)');
  });

  it('Log Matching: same index and term over different prefixes is a violation', () => {
    const invariants = new Invariants();
    const a = new LogMirror();
    const b = new LogMirror();
    invariants.appendEntries(1, a, [entry(1, 1), entry(2, 2)]);
    invariants.appendEntries(2, b, [entry(1, 1), entry(2, 2)]);
    // The same (index, term) with another payload...
    expect(violationOf(() => invariants.appendEntries(3, new LogMirror(), [entry(1, 1, 'different')]))?.rule).toBe('Log Matching (§5.3)');
    // ...or with the same payload on a different prefix.
    const d = new LogMirror();
    invariants.appendEntries(4, d, [entry(1, 2)]);
    expect(violationOf(() => invariants.appendEntries(4, d, [entry(2, 2)]))?.rule).toBe('Log Matching (§5.3)');
  });

  it('State Machine Safety: committing a different entry at a committed index is a violation', () => {
    const invariants = new Invariants();
    const a = new LogMirror();
    invariants.appendEntries(1, a, [entry(1, 1), entry(2, 1)]);
    invariants.commit(1, a, 2);
    const b = new LogMirror();
    invariants.appendEntries(2, b, [entry(1, 1), entry(2, 2)]);
    expect(violationOf(() => invariants.commit(2, b, 2))?.rule).toBe('State Machine Safety (§5.4.3)');
    expect(violationOf(() => invariants.commit(2, b, 1))).toBeUndefined();
  });

  it('Leader Completeness: a leader without a committed entry is a violation', () => {
    const invariants = new Invariants();
    const a = new LogMirror();
    invariants.appendEntries(1, a, [entry(1, 1), entry(2, 1)]);
    invariants.commit(1, a, 2);
    const short = new LogMirror();
    invariants.appendEntries(2, short, [entry(1, 1)]);
    expect(violationOf(() => invariants.checkLeaderLog(2, 2, short))?.rule).toBe('Leader Completeness (§5.4)');
    const other = new LogMirror();
    invariants.appendEntries(3, other, [entry(1, 1), entry(2, 2)]);
    expect(violationOf(() => invariants.checkLeaderLog(3, 2, other))?.rule).toBe('Leader Completeness (§5.4)');
    expect(violationOf(() => invariants.checkLeaderLog(1, 2, a))).toBeUndefined();
  });

  it('State Machine Safety on apply: different entries, different states, or an operation applied twice', () => {
    const invariants = new Invariants();
    const a = new LogMirror();
    invariants.appendEntries(1, a, [entry(1, 1), entry(2, 1)]);
    invariants.commit(1, a, 2);
    invariants.applied(1, a, entry(1, 1), 7, 100);
    expect(violationOf(() => invariants.applied(2, a, entry(1, 1), 7, 101))?.rule).toBe('State Machine Safety (§5.4.3)');
    expect(violationOf(() => invariants.applied(1, a, entry(2, 1), 7, 102))?.rule).toBe('At-most-once');
    expect(violationOf(() => invariants.applied(1, a, entry(3, 1), undefined, 103))?.rule).toBe('State Machine Safety (§5.4.3)');
  });

  it('a snapshot must be of an entry some log held, within the committed prefix', () => {
    const invariants = new Invariants();
    const a = new LogMirror();
    invariants.appendEntries(1, a, [entry(1, 1), entry(2, 1), entry(3, 1)]);
    invariants.commit(1, a, 2);
    const b = new LogMirror();
    expect(violationOf(() => invariants.resetToSnapshot(2, b, 2, 5))?.rule).toBe('Log Matching (§5.3)');
    expect(violationOf(() => invariants.resetToSnapshot(2, b, 3, 1))?.rule).toBe('State Machine Safety (§5.4.3)');
    invariants.resetToSnapshot(2, b, 2, 1);
    invariants.appendEntries(2, b, [entry(3, 1)]);
    expect(b.lastIndex()).toBe(3);
    expect(b.hash(3)).toBe(a.hash(3));
  });
});

describe('KvStateMachine', () => {
  it('applies writes and compare-and-sets and round-trips its image', () => {
    const machine = new KvStateMachine();
    expect(machine.apply({ f: 'write', key: 'a', value: 'v1', opId: 1 }).ok).toBe(true);
    expect(machine.apply({ f: 'cas', key: 'a', from: 'v0', to: 'v2', opId: 2 }).ok).toBe(false);
    expect(machine.apply({ f: 'cas', key: 'a', from: 'v1', to: 'v3', opId: 3 }).ok).toBe(true);
    expect(machine.apply({ f: 'cas', key: 'b', from: null, to: 'v4', opId: 4 }).ok).toBe(true);
    expect(machine.get('a')).toBe('v3');
    const copy = KvStateMachine.fromImage(machine.image());
    expect(copy.get('b')).toBe('v4');
    expect(copy.digest()).toBe(machine.digest());
    copy.apply({ f: 'write', key: 'b', value: 'v5', opId: 5 });
    expect(copy.digest()).not.toBe(machine.digest());
    expect(encodeCommand({ f: 'write', key: 'a', value: 'v', opId: 9 }).length).toBeGreaterThan(0);
  });
});

describe('membership and options', () => {
  it('applies conf changes as the core does', () => {
    let conf: ConfState = { voters: [1, 2, 3], learners: [], removed: [] };
    conf = applyConfChange(conf, { type: 'addLearner', nodeId: 4, context: NO_DATA });
    conf = applyConfChange(conf, { type: 'promote', nodeId: 4, context: NO_DATA });
    conf = applyConfChange(conf, { type: 'remove', nodeId: 1, context: NO_DATA });
    expect(conf).toEqual({ voters: [2, 3, 4], learners: [], removed: [1] });
  });

  it('draws the same options for the same seed, cycles cluster sizes, and honours overrides', () => {
    expect(optionsForSeed(5)).toEqual(optionsForSeed(5));
    expect([optionsForSeed(3).nodes, optionsForSeed(4).nodes, optionsForSeed(5).nodes]).toEqual([3, 5, 7]);
    const pinned = optionsForSeed(5, { nodes: 3, raft: { preVote: false } });
    expect(pinned.nodes).toBe(3);
    expect(pinned.raft.preVote).toBe(false);
    expect(pinned.raft.electionTicks).toBe(optionsForSeed(5).raft.electionTicks);
  });
});

describe('Trace', () => {
  it('keeps the most recent records in order and formats messages', () => {
    const trace = new Trace(3, false);
    for (let k = 1; k <= 5; k++) trace.add(k, 1, 'fault', `event ${k}`);
    expect(trace.tail().map((line) => line.trim().split(' ').pop())).toEqual(['3', '4', '5']);
    const msg: Message = { type: 'append', group: 1, from: 1, to: 2, term: 3, prevIndex: 4, prevTerm: 2, entries: [entry(5, 3)], commit: 4 };
    expect(formatMessage(msg)).toBe('append 1->2 t3 prev=4/t2 entries=5..5(t3) commit=4');
  });
});
