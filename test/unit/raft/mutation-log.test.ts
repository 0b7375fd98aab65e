// Exact behaviour of the in-memory log (src/raft/log.ts): index and term arithmetic at the
// snapshot boundary, byte-bounded slices, the follower's append rule, fast-backtracking hints and
// the marks. Written to kill the mutants Stryker found surviving (npm run mutation): each test
// pins one boundary that the scenario tests only cross in passing.
import { describe, expect, it } from 'vitest';
import { entrySize, RaftLog } from '../../../src/raft/log.js';
import type { Entry, Snapshot } from '../../../src/raft/index.js';

const e = (index: number, term: number, data = 1): Entry => ({ index, term, kind: 'normal', data: new Uint8Array(data) });
const snap = (index: number, term: number): Snapshot => ({ meta: { index, term, confState: { voters: [1], learners: [], removed: [] } }, data: new Uint8Array(0) });

/** A log holding entries 1..terms.length with the given terms (1 byte of data each). */
function logOf(terms: number[]): RaftLog {
  const log = new RaftLog();
  log.append(terms.map((t, k) => e(k + 1, t)));
  return log;
}

/** A log compacted to a snapshot at (index, term), then holding entries with `terms` after it. */
function compactedLog(index: number, term: number, terms: number[]): RaftLog {
  const log = new RaftLog();
  log.restore(snap(index, term));
  log.pendingSnapshot = undefined;
  log.applied = index;
  log.stableIndex = index;
  log.append(terms.map((t, k) => e(index + 1 + k, t)));
  return log;
}

describe('entrySize', () => {
  it('counts payload plus a 24-byte header, and a conf change adds its context plus 16', () => {
    expect(entrySize(e(1, 1, 5))).toBe(29);
    expect(entrySize(e(1, 1, 0))).toBe(24);
    const conf: Entry = { index: 1, term: 1, kind: 'conf', data: new Uint8Array(3), change: { type: 'addLearner', nodeId: 2, context: new Uint8Array(4) } };
    expect(entrySize(conf)).toBe(3 + 4 + 16 + 24);
  });
});

describe('RaftLog indexes and terms', () => {
  it('an empty log: first 1, last 0, term 0 at index 0', () => {
    const log = new RaftLog();
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(0);
    expect(log.lastTerm()).toBe(0);
    expect(log.term(0)).toBe(0);
    expect(log.term(1)).toBeUndefined();
    expect(log.term(-1)).toBeUndefined();
  });

  it('after compaction: the snapshot index has the snapshot term, below it nothing', () => {
    const log = compactedLog(5, 3, [3, 4]);
    expect(log.firstIndex()).toBe(6);
    expect(log.lastIndex()).toBe(7);
    expect(log.term(5)).toBe(3);
    expect(log.term(4)).toBeUndefined();
    expect(log.term(6)).toBe(3);
    expect(log.term(7)).toBe(4);
    expect(log.term(8)).toBeUndefined();
    expect(log.lastTerm()).toBe(4);
    expect(log.entryAt(6).index).toBe(6);
    expect(() => log.entryAt(5)).toThrow(/no entry at 5/);
    expect(() => log.entryAt(8)).toThrow(/no entry at 8/);
    expect(log.matchTerm(5, 3)).toBe(true);
    expect(log.matchTerm(7, 3)).toBe(false);
  });

  it('append asserts that entries continue the log', () => {
    const log = logOf([1, 1]);
    expect(() => log.append([e(4, 1)])).toThrow(/append 4 after last 2/);
    expect(() => log.append([e(2, 1)])).toThrow(/append 2 after last 2/);
    log.append([e(3, 2)]);
    expect(log.lastIndex()).toBe(3);
  });
});

describe('RaftLog.slice', () => {
  it('is half-open and asserts its bounds', () => {
    const log = compactedLog(2, 1, [1, 1, 1]);
    expect(log.slice(3, 6).map((x) => x.index)).toEqual([3, 4, 5]);
    expect(log.slice(4, 4)).toEqual([]);
    expect(() => log.slice(2, 4)).toThrow(/slice from 2 below first index 3/);
    expect(() => log.slice(3, 7)).toThrow(/slice to 7 beyond last index 5/);
  });

  it('stops before the entry that would exceed maxBytes, but always returns one', () => {
    const log = logOf([1, 1, 1, 1]); // 25 bytes each
    expect(log.slice(1, 5, 50).map((x) => x.index)).toEqual([1, 2]);
    expect(log.slice(1, 5, 49).map((x) => x.index)).toEqual([1]);
    expect(log.slice(1, 5, 75).map((x) => x.index)).toEqual([1, 2, 3]);
    expect(log.slice(2, 5, 1).map((x) => x.index)).toEqual([2]);
    expect(log.slice(1, 5).map((x) => x.index)).toEqual([1, 2, 3, 4]);
  });
});

describe('RaftLog.unstableEntries', () => {
  it('returns what lies after the in-progress mark, and nothing once all was handed out', () => {
    const log = logOf([1, 1, 1]);
    expect(log.unstableEntries().map((x) => x.index)).toEqual([1, 2, 3]);
    log.inProgressIndex = 2;
    expect(log.unstableEntries().map((x) => x.index)).toEqual([3]);
    // The durable mark alone does not decide: entries being written are not handed out again.
    log.stableIndex = 1;
    expect(log.unstableEntries().map((x) => x.index)).toEqual([3]);
    log.inProgressIndex = 3;
    expect(log.unstableEntries()).toEqual([]);
  });

  it('never reaches below the first index after a snapshot', () => {
    const log = compactedLog(4, 1, [1, 2]);
    log.stableIndex = 0;
    expect(log.unstableEntries().map((x) => x.index)).toEqual([5, 6]);
  });
});

describe('RaftLog.maybeAppend (Raft §5.3)', () => {
  it('refuses when prevIndex/prevTerm do not match', () => {
    const log = logOf([1, 2]);
    expect(log.maybeAppend(2, 1, [e(3, 2)])).toBeUndefined();
    expect(log.maybeAppend(3, 2, [])).toBeUndefined();
    expect(log.lastIndex()).toBe(2);
  });

  it('returns the last index the append proves, even when it adds nothing', () => {
    const log = logOf([1, 1, 1, 2]);
    expect(log.maybeAppend(1, 1, [e(2, 1)])).toBe(2);
    expect(log.lastIndex()).toBe(4); // a matching prefix never truncates
    expect(log.maybeAppend(2, 1, [])).toBe(2);
  });

  it('appends only the new suffix and keeps matching entries', () => {
    const log = logOf([1, 1]);
    const kept = log.entryAt(2);
    expect(log.maybeAppend(1, 1, [e(2, 1), e(3, 1), e(4, 2)])).toBe(4);
    expect(log.entryAt(2)).toBe(kept);
    expect([3, 4].map((i) => log.term(i))).toEqual([1, 2]);
  });

  it('truncates a conflicting suffix and lowers stableIndex to just before it', () => {
    const log = logOf([1, 1, 2, 2]);
    log.stableIndex = 3;
    expect(log.maybeAppend(2, 1, [e(3, 3)])).toBe(3);
    expect(log.lastIndex()).toBe(3);
    expect(log.term(3)).toBe(3);
    expect(log.stableIndex).toBe(2);
  });

  it('keeps stableIndex when the truncation starts above it', () => {
    const log = logOf([1, 1, 2, 2]);
    log.stableIndex = 2;
    log.maybeAppend(2, 1, [e(3, 3)]);
    expect(log.stableIndex).toBe(2);
    log.stableIndex = 3;
    log.maybeAppend(3, 3, [e(4, 4)]);
    expect(log.stableIndex).toBe(3);
  });

  it('asserts when a committed entry would be overwritten', () => {
    const log = logOf([1, 1, 2]);
    log.commitTo(3);
    expect(() => log.maybeAppend(2, 1, [e(3, 3)])).toThrow(/conflicting entry at 3/);
    const ok = logOf([1, 1, 2]);
    ok.commitTo(2);
    expect(ok.maybeAppend(2, 1, [e(3, 3)])).toBe(3);
  });

  it('asserts that the entries are numbered from prevIndex+1', () => {
    const log = logOf([1]);
    expect(() => log.maybeAppend(1, 1, [e(3, 1)])).toThrow(/has index 3, expected 2/);
    const two = logOf([1, 1]);
    expect(() => two.maybeAppend(1, 1, [e(2, 1), e(4, 1)])).toThrow(/entry 1 has index 4, expected 3/);
  });

  it('a truncation well above the durable mark leaves the mark alone', () => {
    const log = logOf([1, 1, 2, 2, 2]);
    log.stableIndex = 1;
    log.inProgressIndex = 1;
    log.maybeAppend(3, 2, [e(4, 3)]);
    expect(log.stableIndex).toBe(1);
    expect(log.inProgressIndex).toBe(1);
    expect(log.unstableEntries().map((x) => x.index)).toEqual([2, 3, 4]);
  });

  it('a truncation below the in-progress mark lowers it (and the durable mark) to just before it', () => {
    const log = logOf([1, 1, 2, 2, 2]);
    log.stableIndex = 4;
    log.inProgressIndex = 5;
    log.maybeAppend(2, 1, [e(3, 3)]);
    expect(log.stableIndex).toBe(2);
    expect(log.inProgressIndex).toBe(2);
    expect(log.unstableEntries().map((x) => [x.index, x.term])).toEqual([[3, 3]]);
  });

  it('skips entries covered by the snapshot', () => {
    const log = compactedLog(3, 2, [2]);
    expect(log.maybeAppend(3, 2, [e(4, 2), e(5, 2)])).toBe(5);
    expect(log.lastIndex()).toBe(5);
    // An append that starts below the snapshot matches by the snapshot term at its prevIndex
    // only if prevIndex is the snapshot index; the covered entries are not re-checked.
    const older = compactedLog(3, 2, []);
    expect(older.maybeAppend(3, 2, [e(4, 3)])).toBe(4);
    expect(older.term(4)).toBe(3);
  });
});

describe('RaftLog.findConflictByTerm (fast backtracking)', () => {
  it('returns the largest index at or below `index` whose term is at most `term`', () => {
    const log = logOf([1, 1, 2, 2, 4, 4]);
    expect(log.findConflictByTerm(6, 3)).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(6, 4)).toEqual({ index: 6, term: 4 });
    expect(log.findConflictByTerm(3, 2)).toEqual({ index: 3, term: 2 });
    expect(log.findConflictByTerm(6, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(6, 0)).toEqual({ index: 0, term: 0 });
  });

  it('starts from the last index when asked beyond it', () => {
    const log = logOf([1, 2]);
    expect(log.findConflictByTerm(10, 5)).toEqual({ index: 2, term: 2 });
  });

  it('stops at the snapshot, answering the snapshot index with term 0 when even it is newer', () => {
    const log = compactedLog(5, 3, [3, 4]);
    expect(log.findConflictByTerm(7, 3)).toEqual({ index: 6, term: 3 });
    expect(log.findConflictByTerm(7, 2)).toEqual({ index: 5, term: 0 });
    expect(log.findConflictByTerm(5, 3)).toEqual({ index: 5, term: 3 });
  });
});

describe('RaftLog.isUpToDate (Raft §5.4.1)', () => {
  it('compares last terms first, then last indexes', () => {
    const log = logOf([1, 2, 2]);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(4, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(10, 1)).toBe(false);
  });
});

describe('RaftLog marks', () => {
  it('commitTo only moves forward and never beyond the last index', () => {
    const log = logOf([1, 1, 1]);
    expect(log.commitTo(2)).toBe(true);
    expect(log.committed).toBe(2);
    expect(log.commitTo(2)).toBe(false);
    expect(log.commitTo(1)).toBe(false);
    expect(log.committed).toBe(2);
    expect(log.commitTo(3)).toBe(true);
    expect(() => log.commitTo(4)).toThrow(/commit 4 beyond last index 3/);
  });

  it('restore replaces the log, keeps a lower stable mark, and records the pending snapshot', () => {
    const log = logOf([1, 1, 1]);
    log.stableIndex = 3;
    log.commitTo(1);
    const s = snap(10, 4);
    log.restore(s);
    expect(log.lastIndex()).toBe(10);
    expect(log.firstIndex()).toBe(11);
    expect(log.term(10)).toBe(4);
    expect(log.committed).toBe(10);
    expect(log.stableIndex).toBe(3);
    expect(log.pendingSnapshot).toBe(s);
    const ahead = logOf([1]);
    ahead.stableIndex = 20;
    ahead.restore(snap(10, 4));
    expect(ahead.stableIndex).toBe(10);
  });

  it('restore asserts the snapshot is beyond the commit index', () => {
    const log = logOf([1, 1, 1]);
    log.commitTo(3);
    expect(() => log.restore(snap(3, 1))).toThrow(/restoring snapshot 3 at or below commit 3/);
    log.restore(snap(4, 1));
    expect(log.committed).toBe(4);
  });

  it('compactTo drops entries up to an applied, durable index and keeps its term', () => {
    const log = logOf([1, 2, 3, 3]);
    log.stableIndex = 4;
    log.commitTo(4);
    log.applied = 3;
    log.compactTo(2);
    expect(log.snapshotIndex).toBe(2);
    expect(log.snapshotTerm).toBe(2);
    expect(log.firstIndex()).toBe(3);
    expect(log.lastIndex()).toBe(4);
    expect(log.entryAt(3).term).toBe(3);
    log.compactTo(2);
    log.compactTo(1);
    expect(log.snapshotIndex).toBe(2);
    expect(() => log.compactTo(4)).toThrow(/compact 4 beyond applied 3/);
    log.compactTo(3);
    expect(log.snapshotTerm).toBe(3);
    expect(log.lastIndex()).toBe(4);
  });

  it('compactTo asserts the index is durable', () => {
    const log = logOf([1, 1, 1]);
    log.commitTo(3);
    log.applied = 3;
    log.stableIndex = 1;
    expect(() => log.compactTo(2)).toThrow(/compact 2 beyond stable 1/);
    log.compactTo(1);
    expect(log.snapshotIndex).toBe(1);
  });

  it('assertCoherent checks each invariant', () => {
    const log = logOf([1, 1]);
    log.stableIndex = 2;
    log.inProgressIndex = 2;
    log.assertCoherent();
    log.commitTo(2);
    log.applied = 2;
    log.assertCoherent();
    log.applied = 3;
    expect(() => log.assertCoherent()).toThrow(/applied 3 > committed 2/);
    log.applied = 2;
    log.stableIndex = 3;
    expect(() => log.assertCoherent()).toThrow(/stable 3 > in progress 2/);
    log.inProgressIndex = 3;
    expect(() => log.assertCoherent()).toThrow(/in progress 3 > last index 2/);
    log.stableIndex = 2;
    log.inProgressIndex = 2;
    log.committed = 3;
    log.applied = 1;
    expect(() => log.assertCoherent()).toThrow(/committed 3 > last index 2/);
    const restored = logOf([1]);
    restored.restore(snap(5, 1));
    restored.assertCoherent(); // a pending snapshot may run ahead of applied
    restored.pendingSnapshot = undefined;
    expect(() => restored.assertCoherent()).toThrow(/snapshot index 5 > applied 0/);
    restored.applied = 5;
    restored.assertCoherent();
  });
});
