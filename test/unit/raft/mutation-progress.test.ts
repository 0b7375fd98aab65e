// Exact behaviour of the leader's flow control (src/raft/progress.ts): the in-flight window, the
// probe/replicate/snapshot transitions and the rejection arithmetic. Written to kill the mutants
// Stryker found surviving (npm run mutation).
import { describe, expect, it } from 'vitest';
import { Inflights, Progress } from '../../../src/raft/progress.js';

describe('Inflights', () => {
  it('is full at maxCount appends', () => {
    const w = new Inflights(3, 1000);
    expect(w.full()).toBe(false);
    w.add(1, 1);
    w.add(2, 1);
    expect(w.full()).toBe(false);
    expect(w.count).toBe(2);
    w.add(3, 1);
    expect(w.full()).toBe(true);
    expect(w.count).toBe(3);
  });

  it('is full once the bytes reach maxBytes, not before', () => {
    const w = new Inflights(10, 100);
    w.add(1, 60);
    w.add(2, 39);
    expect(w.full()).toBe(false);
    w.add(3, 1);
    expect(w.full()).toBe(true);
    w.freeLE(1);
    expect(w.full()).toBe(false);
    expect(w.count).toBe(2);
  });

  it('asserts that last indexes increase', () => {
    const w = new Inflights(10, 100);
    w.add(5, 1);
    expect(() => w.add(5, 1)).toThrow(/inflight indexes must increase: 5 after 5/);
    expect(() => w.add(4, 1)).toThrow(/must increase/);
    w.add(6, 1);
    expect(w.count).toBe(2);
  });

  it('freeLE releases exactly the appends at or below the index, with their bytes', () => {
    const w = new Inflights(10, 30);
    w.add(2, 10);
    w.add(4, 10);
    w.add(6, 10);
    expect(w.full()).toBe(true);
    w.freeLE(1);
    expect(w.count).toBe(3);
    w.freeLE(4);
    expect(w.count).toBe(1);
    // 10 bytes left: adding 19 more stays below 30, 20 more reaches it.
    w.add(7, 19);
    expect(w.full()).toBe(false);
    w.add(8, 1);
    expect(w.full()).toBe(true);
    w.freeLE(100);
    expect(w.count).toBe(0);
    expect(w.full()).toBe(false);
    w.add(9, 29);
    expect(w.full()).toBe(false);
  });

  it('freeFirstOne releases only the oldest append, and is harmless when empty', () => {
    const w = new Inflights(2, 1000);
    w.freeFirstOne();
    expect(w.count).toBe(0);
    w.add(3, 500);
    w.add(5, 499);
    expect(w.full()).toBe(true);
    w.freeFirstOne();
    expect(w.count).toBe(1);
    expect(w.full()).toBe(false);
    w.add(6, 500);
    expect(w.full()).toBe(true); // count 2 and bytes 999
    w.freeFirstOne();
    w.add(7, 500);
    expect(w.count).toBe(2);
    expect(w.full()).toBe(true); // bytes 1000
  });

  it('reset empties the window and its bytes', () => {
    const w = new Inflights(5, 10);
    w.add(1, 10);
    expect(w.full()).toBe(true);
    w.reset();
    expect(w.count).toBe(0);
    expect(w.full()).toBe(false);
    w.add(1, 9); // indexes restart: the old ones are gone
    expect(w.full()).toBe(false);
  });
});

describe('Progress transitions', () => {
  it('starts probing at `next` with nothing matched', () => {
    const pr = new Progress(2, 7, true, 4, 100);
    expect(pr.id).toBe(2);
    expect(pr.next).toBe(7);
    expect(pr.match).toBe(0);
    expect(pr.state).toBe('probe');
    expect(pr.learner).toBe(true);
    expect(pr.probeSent).toBe(false);
    expect(pr.recentActive).toBe(false);
    expect(pr.pendingSnapshot).toBe(0);
    expect(pr.isPaused()).toBe(false);
    expect(new Progress(3, 1, false, 4, 100).learner).toBe(false);
  });

  it('becomeReplicate resumes right after match, with an empty window', () => {
    const pr = new Progress(2, 10, false, 2, 100);
    pr.match = 4;
    pr.probeSent = true;
    pr.becomeReplicate();
    expect(pr.state).toBe('replicate');
    expect(pr.next).toBe(5);
    expect(pr.probeSent).toBe(false);
    pr.inflights.add(5, 1);
    pr.inflights.add(6, 1);
    expect(pr.isPaused()).toBe(true);
    pr.becomeReplicate();
    expect(pr.isPaused()).toBe(false);
  });

  it('becomeProbe from replicate restarts after match and clears the window', () => {
    const pr = new Progress(2, 1, false, 1, 100);
    pr.match = 3;
    pr.becomeReplicate();
    pr.next = 9;
    pr.inflights.add(8, 1);
    pr.becomeProbe();
    expect(pr.state).toBe('probe');
    expect(pr.next).toBe(4);
    expect(pr.inflights.count).toBe(0);
    expect(pr.probeSent).toBe(false);
  });

  it('becomeProbe from snapshot restarts after the snapshot, or after match if that is higher', () => {
    const pr = new Progress(2, 1, false, 4, 100);
    pr.match = 3;
    pr.becomeSnapshot(10);
    expect(pr.state).toBe('snapshot');
    expect(pr.pendingSnapshot).toBe(10);
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect(pr.next).toBe(11);
    expect(pr.pendingSnapshot).toBe(0);
    pr.becomeSnapshot(10);
    pr.match = 12;
    pr.becomeProbe();
    expect(pr.next).toBe(13);
    // A failed snapshot (pendingSnapshot cleared) probes right after match.
    pr.becomeSnapshot(20);
    pr.pendingSnapshot = 0;
    pr.becomeProbe();
    expect(pr.next).toBe(13);
  });

  it('becomeSnapshot clears probeSent and the window', () => {
    const pr = new Progress(2, 1, false, 4, 100);
    pr.probeSent = true;
    pr.becomeSnapshot(5);
    expect(pr.probeSent).toBe(false);
    const rp = new Progress(2, 1, false, 4, 100);
    rp.becomeReplicate();
    rp.inflights.add(1, 1);
    rp.becomeSnapshot(5);
    expect(rp.inflights.count).toBe(0);
  });

  it('becomeReplicate and becomeProbe clear a pending snapshot', () => {
    const pr = new Progress(2, 1, false, 4, 100);
    pr.becomeSnapshot(5);
    pr.becomeReplicate();
    expect(pr.pendingSnapshot).toBe(0);
    pr.probeSent = true;
    pr.becomeProbe();
    expect(pr.probeSent).toBe(false);
  });

  it('isPaused: probe waits for its one append, replicate for room in the window', () => {
    const pr = new Progress(2, 1, false, 1, 100);
    pr.probeSent = true;
    expect(pr.isPaused()).toBe(true);
    pr.probeSent = false;
    expect(pr.isPaused()).toBe(false);
    pr.becomeReplicate();
    pr.probeSent = true; // ignored in replicate
    expect(pr.isPaused()).toBe(false);
    pr.inflights.add(1, 1);
    expect(pr.isPaused()).toBe(true);
  });
});

describe('Progress.maybeUpdate', () => {
  it('moves match up only, clears probeSent when it does, and keeps next beyond the index', () => {
    const pr = new Progress(2, 5, false, 4, 100);
    pr.probeSent = true;
    expect(pr.maybeUpdate(3)).toBe(true);
    expect(pr.match).toBe(3);
    expect(pr.next).toBe(5);
    expect(pr.probeSent).toBe(false);
    pr.probeSent = true;
    expect(pr.maybeUpdate(3)).toBe(false);
    expect(pr.probeSent).toBe(true);
    expect(pr.maybeUpdate(2)).toBe(false);
    expect(pr.match).toBe(3);
    expect(pr.maybeUpdate(8)).toBe(true);
    expect(pr.next).toBe(9);
    // An old acknowledgement never pulls next back.
    pr.next = 12;
    pr.maybeUpdate(10);
    expect(pr.next).toBe(12);
  });

  it('next follows a stale acknowledgement only forward', () => {
    const pr = new Progress(2, 2, false, 4, 100);
    pr.match = 5;
    expect(pr.maybeUpdate(5)).toBe(false);
    expect(pr.next).toBe(6);
  });
});

describe('Progress.maybeDecrTo', () => {
  it('in replicate: ignores a rejection at or below match, else falls back to match+1', () => {
    const pr = new Progress(2, 1, false, 4, 100);
    pr.match = 5;
    pr.becomeReplicate();
    pr.next = 10;
    expect(pr.maybeDecrTo(5, 0)).toBe(false);
    expect(pr.maybeDecrTo(4, 0)).toBe(false);
    expect(pr.next).toBe(10);
    expect(pr.maybeDecrTo(6, 2)).toBe(true);
    expect(pr.next).toBe(6);
    expect(pr.state).toBe('replicate');
  });

  it('in probe: ignores a rejection of anything but next-1', () => {
    const pr = new Progress(2, 8, false, 4, 100);
    pr.probeSent = true;
    expect(pr.maybeDecrTo(6, 3)).toBe(false);
    expect(pr.maybeDecrTo(8, 3)).toBe(false);
    expect(pr.next).toBe(8);
    expect(pr.probeSent).toBe(true);
  });

  it('in probe: jumps to hint+1, never beyond the rejected index nor below match+1', () => {
    const pr = new Progress(2, 8, false, 4, 100);
    pr.probeSent = true;
    expect(pr.maybeDecrTo(7, 3)).toBe(true);
    expect(pr.next).toBe(4);
    expect(pr.probeSent).toBe(false);
    const high = new Progress(2, 8, false, 4, 100);
    expect(high.maybeDecrTo(7, 9)).toBe(true);
    expect(high.next).toBe(7);
    const low = new Progress(2, 8, false, 4, 100);
    low.match = 5;
    expect(low.maybeDecrTo(7, 1)).toBe(true);
    expect(low.next).toBe(6);
    const exact = new Progress(2, 8, false, 4, 100);
    expect(exact.maybeDecrTo(7, 6)).toBe(true);
    expect(exact.next).toBe(7);
  });
});
