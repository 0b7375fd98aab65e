// Exact behaviour of log replication in the Raft class: the follower's answers (accept, reject
// with a fast-backtracking hint, stale appends), the leader's flow control (probe, replicate,
// in-flight window by count and bytes, message size), the commit rule, snapshots to lagging
// followers, and the driver's reports. Each test drives one core with hand-made messages
// (mutation-helpers.ts). Written to kill the mutants Stryker found surviving in
// src/raft/raft.ts (npm run mutation).
import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../../../src/raft/index.js';
import { bytes, drain, leader, make, msg, normal, ofType } from './mutation-helpers.js';

const conf3 = { voters: [1, 2, 3], learners: [], removed: [] };

/** Appends as [to, prevIndex, prevTerm, first entry index or 0, entry count, commit]. */
const appendsOf = (messages: Parameters<typeof ofType>[0]) =>
  ofType(messages, 'append').map((m) => [m.to, m.prevIndex, m.prevTerm, m.entries[0]?.index ?? 0, m.entries.length, m.commit]);

describe('follower: appends (Raft §5.3)', () => {
  it('accepts a matching append, commits up to min(commit, last new index) and acknowledges after persisting', () => {
    const node = make(2, { entries: [normal(1, 1), normal(2, 1), normal(3, 1), normal(4, 1)], hardState: { term: 1, vote: 0, commit: 0 } });
    node.step(msg.append(1, 2, 1, 1, 1, [normal(2, 1)], 9));
    expect(node.status().commit).toBe(2);
    const out = drain(node);
    expect(out.messages).toEqual([]);
    expect(out.persisted).toEqual([msg.appendResp(2, 1, 1, 2)]);
    expect(out.committed.map((e) => e.index)).toEqual([1, 2]);
    node.step(msg.append(1, 2, 1, 4, 1, [], 3));
    expect(node.status().commit).toBe(3);
    expect(drain(node).persisted).toEqual([msg.appendResp(2, 1, 1, 4)]);
  });

  it('answers an append below its commit index with the commit index, without touching the log', () => {
    const node = make(2, { entries: [normal(1, 1), normal(2, 1), normal(3, 1)], hardState: { term: 1, vote: 0, commit: 3 } });
    drain(node);
    node.step(msg.append(1, 2, 1, 1, 9, [normal(2, 9)], 3));
    expect(drain(node).persisted).toEqual([msg.appendResp(2, 1, 1, 3)]);
    expect(node.status().lastIndex).toBe(3);
    // At the commit index itself the normal rule applies.
    node.step(msg.append(1, 2, 1, 3, 1, [normal(4, 1)], 3));
    expect(drain(node).persisted).toEqual([msg.appendResp(2, 1, 1, 4)]);
  });

  it('rejects a mismatch with a hint: the last index whose term is at most prevTerm', () => {
    const node = make(2, { entries: [normal(1, 1), normal(2, 1), normal(3, 3), normal(4, 3)], hardState: { term: 3, vote: 0, commit: 0 } });
    node.step(msg.append(1, 2, 3, 4, 2, [], 0));
    expect(drain(node).persisted).toEqual([msg.appendResp(2, 1, 3, 4, true, 2, 1)]);
    // prevIndex beyond our log: the hint starts from our last index.
    node.step(msg.append(1, 2, 3, 9, 3, [], 0));
    expect(drain(node).persisted).toEqual([msg.appendResp(2, 1, 3, 9, true, 4, 3)]);
    node.step(msg.append(1, 2, 3, 9, 2, [], 0));
    expect(drain(node).persisted).toEqual([msg.appendResp(2, 1, 3, 9, true, 2, 1)]);
    expect(node.status().commit).toBe(0);
  });
});

describe('leader: answers to appends', () => {
  /** Leader of term 2 over a log of five term-1 entries; its no-op is index 6. */
  const veteran = () => {
    const node = leader({ entries: [1, 2, 3, 4, 5].map((i) => normal(i, 1)), hardState: { term: 1, vote: 0, commit: 0 }, commitNoop: false });
    expect(node.status().term).toBe(2);
    return node;
  };

  it('the first append after election probes from the old last index', () => {
    const fresh = make(1, { entries: [1, 2, 3, 4, 5].map((i) => normal(i, 1)), hardState: { term: 1, vote: 0, commit: 0 }, config: { preVote: false } });
    for (let t = 0; t < 10; t++) fresh.tick();
    drain(fresh);
    fresh.step(msg.voteResp(2, 1, 2));
    expect(appendsOf(drain(fresh).messages)).toEqual([[2, 5, 1, 6, 1, 0], [3, 5, 1, 6, 1, 0]]);
  });

  it('commits old-term entries only with an entry of its own term (Raft §5.4.2)', () => {
    const node = veteran();
    node.step(msg.appendResp(2, 1, 2, 5));
    expect(node.status().commit).toBe(0);
    // Follower 2 now replicates: the no-op follows at once.
    expect(appendsOf(drain(node).messages)).toEqual([[2, 5, 1, 6, 1, 0]]);
    node.step(msg.appendResp(2, 1, 2, 6));
    expect(node.status().commit).toBe(6);
    const out = drain(node);
    expect(out.committed.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    // The new commit index goes out at once to every follower not paused (3 still probes).
    expect(appendsOf(out.messages)).toEqual([[2, 6, 2, 0, 0, 6]]);
  });

  it('a rejection with a term hint skips to the leader\'s last index of at most that term', () => {
    const node = leader({ entries: [normal(1, 1), normal(2, 1), normal(3, 2), normal(4, 2), normal(5, 2)], hardState: { term: 2, vote: 0, commit: 0 }, commitNoop: false });
    expect(node.status().term).toBe(3);
    node.step(msg.appendResp(2, 1, 3, 5, true, 4, 1));
    expect(appendsOf(drain(node).messages)).toEqual([[2, 2, 1, 3, 4, 0]]);
  });

  it('a rejection with hint term 0 uses the hint index as it is', () => {
    const node = veteran();
    node.step(msg.appendResp(2, 1, 2, 5, true, 2, 0));
    expect(appendsOf(drain(node).messages)).toEqual([[2, 2, 1, 3, 4, 0]]);
    expect(node.status().progress.find((p) => p.id === 2)).toMatchObject({ next: 3, state: 'probe', match: 0 });
  });

  it('ignores a stale rejection (not of the append outstanding)', () => {
    const node = veteran();
    node.step(msg.appendResp(2, 1, 2, 4, true, 2, 0));
    expect(drain(node).messages).toEqual([]);
    expect(node.status().progress.find((p) => p.id === 2)?.next).toBe(6);
  });

  it('ignores answers from unknown members', () => {
    const node = veteran();
    node.step(msg.appendResp(9, 1, 2, 6));
    node.step(msg.heartbeatResp(9, 1, 2, 1));
    expect(drain(node).messages).toEqual([]);
    expect(node.status().commit).toBe(0);
  });

  it('an acceptance moves a probing follower to replicate and sends the rest at once', () => {
    const node = veteran();
    node.step(msg.appendResp(2, 1, 2, 5, true, 2, 0));
    drain(node);
    expect(node.propose(bytes('a')).ok).toBe(true);
    // Still probing: the outstanding probe holds the new entry back.
    expect(appendsOf(drain(node).messages)).toEqual([]);
    node.step(msg.appendResp(2, 1, 2, 3));
    const out = drain(node);
    expect(node.status().progress.find((p) => p.id === 2)).toMatchObject({ state: 'replicate', match: 3, next: 8 });
    expect(appendsOf(out.messages)).toEqual([[2, 3, 1, 4, 4, 0]]);
  });

  it('a rejection in replicate falls back to probing from match+1', () => {
    const node = leader();
    expect(node.propose(bytes('a')).ok).toBe(true);
    expect(node.propose(bytes('b')).ok).toBe(true);
    expect(appendsOf(drain(node).messages)).toEqual([[2, 1, 1, 2, 2, 1], [3, 1, 1, 2, 2, 1]]);
    node.step(msg.appendResp(2, 1, 1, 1, true, 1, 1));
    // Stale (at or below match): ignored.
    expect(drain(node).messages).toEqual([]);
    node.step(msg.appendResp(2, 1, 1, 2, true, 1, 1));
    const out = drain(node);
    expect(appendsOf(out.messages)).toEqual([[2, 1, 1, 2, 2, 1]]);
    expect(node.status().progress.find((p) => p.id === 2)).toMatchObject({ state: 'probe', next: 2, match: 1 });
  });

  it('a heartbeat answer from an up-to-date follower sends nothing', () => {
    const node = leader();
    // Everyone is up to date: a heartbeat answer sends nothing.
    node.step(msg.heartbeatResp(2, 1, 1));
    expect(drain(node).messages).toEqual([]);
  });
});

describe('leader: flow control', () => {
  it('stops at maxInflightMsgs appends and resumes as acknowledgements free the window', () => {
    const node = leader({ config: { maxInflightMsgs: 2 } });
    node.propose(bytes('a'));
    expect(appendsOf(drain(node).messages)).toEqual([[2, 1, 1, 2, 1, 1], [3, 1, 1, 2, 1, 1]]);
    node.propose(bytes('b'));
    expect(appendsOf(drain(node).messages)).toEqual([[2, 2, 1, 3, 1, 1], [3, 2, 1, 3, 1, 1]]);
    node.propose(bytes('c'));
    node.propose(bytes('d'));
    expect(appendsOf(drain(node).messages)).toEqual([]);
    node.step(msg.appendResp(2, 1, 1, 2));
    // One slot freed: one append with everything pending.
    expect(appendsOf(drain(node).messages)).toEqual([[2, 3, 1, 4, 2, 2]]);
  });

  it('a heartbeat answer frees one slot of a full window, so lost appends are resent', () => {
    const node = leader({ config: { maxInflightMsgs: 1 } });
    node.propose(bytes('a'));
    drain(node);
    node.propose(bytes('b'));
    expect(appendsOf(drain(node).messages)).toEqual([]);
    node.step(msg.heartbeatResp(2, 1, 1));
    expect(appendsOf(drain(node).messages)).toEqual([[2, 2, 1, 3, 1, 1]]);
    // The window is full again: the next heartbeat answer frees it again.
    node.step(msg.heartbeatResp(3, 1, 1));
    expect(appendsOf(drain(node).messages)).toEqual([[3, 2, 1, 3, 1, 1]]);
  });

  it('stops at maxInflightBytes', () => {
    // Each 1-byte entry counts 25 bytes; 50 bytes fill the window.
    const node = leader({ config: { maxInflightBytes: 50 } });
    node.propose(bytes('a'));
    drain(node);
    node.propose(bytes('b'));
    expect(appendsOf(drain(node).messages)).toHaveLength(2);
    node.propose(bytes('c'));
    expect(appendsOf(drain(node).messages)).toEqual([]);
    node.step(msg.appendResp(2, 1, 1, 2));
    expect(appendsOf(drain(node).messages)).toEqual([[2, 3, 1, 4, 1, 2]]);
  });

  it('splits a backlog into messages of at most maxMsgBytes and pipelines them', () => {
    const node = leader({ config: { maxMsgBytes: 50 } });
    for (const v of ['a', 'b', 'c', 'd', 'e']) node.propose(bytes(v));
    // The broadcast sends one message per follower.
    expect(appendsOf(drain(node).messages)).toEqual([[2, 1, 1, 2, 2, 1], [3, 1, 1, 2, 2, 1]]);
    // An acknowledgement fills the window with the rest, and the commit it causes goes out to
    // both followers (2 gets an empty append, everything being in flight).
    node.step(msg.appendResp(2, 1, 1, 3));
    expect(appendsOf(drain(node).messages)).toEqual([[2, 3, 1, 4, 2, 3], [2, 5, 1, 6, 1, 3], [2, 6, 1, 0, 0, 3], [3, 3, 1, 4, 2, 3]]);
  });

  it('reportUnreachable sends a replicating follower back to probing', () => {
    const node = leader();
    node.propose(bytes('a'));
    drain(node);
    node.reportUnreachable(2);
    expect(node.status().progress.find((p) => p.id === 2)).toMatchObject({ state: 'probe', next: 2 });
    node.reportUnreachable(9);
    const follower = make(2);
    follower.reportUnreachable(1);
    expect(follower.status().progress).toEqual([]);
  });
});

describe('snapshots (§7)', () => {
  /** Leader of term 1 whose log is compacted to index 4, follower 3 never heard from. */
  const compacted = () => {
    const node = leader({ commitNoop: false });
    node.step(msg.appendResp(2, 1, 1, 1));
    for (const v of ['a', 'b', 'c']) node.propose(bytes(v));
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 4));
    drain(node);
    node.compact(4, bytes('image'));
    return node;
  };

  it('a follower that needs compacted entries gets the snapshot, then nothing until it answers', () => {
    const node = compacted();
    expect(node.status().firstIndex).toBe(5);
    expect(node.status().snapshotIndex).toBe(4);
    node.step(msg.heartbeatResp(3, 1, 1));
    const out = drain(node);
    const snaps = ofType(out.messages, 'snapshot');
    expect(snaps.map((m) => [m.to, m.snapshot.meta.index, m.snapshot.meta.term])).toEqual([[3, 4, 1]]);
    expect(snaps[0]?.snapshot.meta.confState).toEqual(conf3);
    expect(new TextDecoder().decode(snaps[0]?.snapshot.data)).toBe('image');
    expect(node.status().progress.find((p) => p.id === 3)?.state).toBe('snapshot');
    node.propose(bytes('d'));
    expect(ofType(drain(node).messages, 'append').map((m) => m.to)).toEqual([2]);
    // The follower's answer to the snapshot moves it on to replicate.
    node.step(msg.appendResp(3, 1, 1, 4));
    const after = drain(node);
    expect(node.status().progress.find((p) => p.id === 3)).toMatchObject({ state: 'replicate', match: 4, next: 6 });
    expect(appendsOf(after.messages)).toEqual([[3, 4, 1, 5, 1, 4]]);
  });

  it('a stale answer below the snapshot keeps the follower waiting for it', () => {
    const node = compacted();
    node.step(msg.heartbeatResp(3, 1, 1));
    drain(node);
    node.step(msg.appendResp(3, 1, 1, 2));
    expect(node.status().progress.find((p) => p.id === 3)).toMatchObject({ state: 'snapshot', match: 2 });
    expect(drain(node).messages).toEqual([]);
  });

  it('a follower that installed a snapshot and is elected sends that snapshot on', () => {
    const node = make(2);
    const snapshot: Snapshot = { meta: { index: 10, term: 1, confState: conf3 }, data: bytes('img') };
    node.step(msg.snapshot(1, 2, 1, snapshot));
    drain(node);
    expect(node.status()).toMatchObject({ applied: 10, commit: 10 });
    for (let t = 0; t < 10; t++) node.tick();
    node.step(msg.preVoteResp(3, 2, 2));
    node.step(msg.voteResp(3, 2, 2));
    expect(node.status().role).toBe('leader');
    drain(node);
    // Follower 1 answers that it holds nothing: it needs the snapshot.
    node.step(msg.appendResp(1, 2, 2, 10, true, 0, 0));
    const out = drain(node);
    expect(ofType(out.messages, 'snapshot').map((m) => [m.to, m.snapshot])).toEqual([[1, snapshot]]);
  });

  it('reportSnapshot: success probes after the snapshot, failure after match; both wait for an answer', () => {
    const node = compacted();
    node.step(msg.heartbeatResp(3, 1, 1));
    drain(node);
    node.reportSnapshot(3, true);
    expect(node.status().progress.find((p) => p.id === 3)).toMatchObject({ state: 'probe', next: 5 });
    node.propose(bytes('d'));
    expect(ofType(drain(node).messages, 'append').map((m) => m.to)).toEqual([2]);
    const failed = compacted();
    failed.step(msg.heartbeatResp(3, 1, 1));
    drain(failed);
    failed.reportSnapshot(3, false);
    expect(failed.status().progress.find((p) => p.id === 3)).toMatchObject({ state: 'probe', next: 1 });
    // Not in snapshot state: ignored.
    failed.reportSnapshot(2, false);
    expect(failed.status().progress.find((p) => p.id === 2)).toMatchObject({ state: 'replicate' });
  });

  it('a follower installs a snapshot beyond its log, adopts its membership, and answers its index', () => {
    const node = make(4, { voters: [1, 2, 3], learners: [4] });
    const snapshot: Snapshot = { meta: { index: 10, term: 2, confState: { voters: [1, 2, 3, 4], learners: [], removed: [5] } }, data: bytes('img') };
    node.step(msg.snapshot(1, 4, 2, snapshot));
    expect(node.status().confState).toEqual(snapshot.meta.confState);
    expect(node.status().commit).toBe(10);
    const out = drain(node);
    expect(out.snapshots).toEqual([snapshot]);
    expect(out.persisted).toEqual([msg.appendResp(4, 1, 2, 10)]);
    expect(out.committed).toEqual([]);
    expect(node.status()).toMatchObject({ applied: 10, firstIndex: 11, lastIndex: 10, snapshotIndex: 10 });
    // Now a voter: it campaigns.
    for (let t = 0; t < 10; t++) node.tick();
    expect(node.status().role).toBe('preCandidate');
    // Its next snapshot meta at the snapshot index is the installed membership.
    expect(node.snapshotMeta(10)).toEqual(snapshot.meta);
  });

  it('a snapshot at or below the commit index is answered with the commit index', () => {
    const node = make(2, { entries: [normal(1, 1), normal(2, 1), normal(3, 1)], hardState: { term: 1, vote: 0, commit: 3 } });
    drain(node);
    node.step(msg.snapshot(1, 2, 1, { meta: { index: 3, term: 1, confState: conf3 }, data: bytes('') }));
    const out = drain(node);
    expect(out.persisted).toEqual([msg.appendResp(2, 1, 1, 3)]);
    expect(out.snapshots).toEqual([]);
  });

  it('a snapshot whose last entry we hold fast-forwards the commit index and keeps the log', () => {
    const node = make(2, { entries: [normal(1, 1), normal(2, 1), normal(3, 1), normal(4, 1)], hardState: { term: 1, vote: 0, commit: 1 } });
    drain(node);
    node.step(msg.snapshot(1, 2, 1, { meta: { index: 3, term: 1, confState: conf3 }, data: bytes('') }));
    const out = drain(node);
    expect(out.persisted).toEqual([msg.appendResp(2, 1, 1, 3)]);
    expect(out.snapshots).toEqual([]);
    expect(out.committed.map((e) => e.index)).toEqual([2, 3]);
    expect(node.status().lastIndex).toBe(4);
  });
});

describe('compaction bookkeeping', () => {
  it('compact refuses an unapplied index and ignores one at or below the snapshot', () => {
    const node = leader();
    node.propose(bytes('a'));
    drain(node);
    expect(() => node.compact(2, bytes(''))).toThrow(/compact index 2 beyond applied 1/);
    node.compact(1, bytes('s1'));
    expect(node.status().snapshotIndex).toBe(1);
    node.compact(1, bytes('s2'));
    node.compact(0, bytes('s3'));
    expect(node.status().snapshotIndex).toBe(1);
    expect(() => node.snapshotMeta(2)).toThrow(/snapshot index 2 beyond applied 1/);
    expect(() => node.snapshotMeta(0)).toThrow(/has no term/);
  });

  it('snapshot metadata records the membership as of its index, also across compactions', () => {
    const node = leader();
    expect(node.proposeConfChange({ type: 'addLearner', nodeId: 4, context: bytes('') }).ok).toBe(true);
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 2));
    drain(node);
    expect(node.status().confState.learners).toEqual([4]);
    expect(node.snapshotMeta(1).confState).toEqual(conf3);
    expect(node.snapshotMeta(2).confState).toEqual({ voters: [1, 2, 3], learners: [4], removed: [] });
    node.compact(1, bytes(''));
    expect(node.snapshotMeta(1).confState).toEqual(conf3);
    expect(node.snapshotMeta(2).confState.learners).toEqual([4]);
    node.compact(2, bytes(''));
    expect(node.snapshotMeta(2).confState.learners).toEqual([4]);
    expect(node.snapshotMeta(2).term).toBe(1);
  });
});

describe('restart', () => {
  it('restores term, vote and commit; hands committed entries out again; applies committed conf entries', () => {
    const confEntry = { index: 2, term: 1, kind: 'conf' as const, data: new Uint8Array(0), change: { type: 'addLearner' as const, nodeId: 4, context: new Uint8Array(0) } };
    const node = make(2, { entries: [normal(1, 1), confEntry, normal(3, 1)], hardState: { term: 3, vote: 1, commit: 2 } });
    expect(node.status()).toMatchObject({ term: 3, vote: 1, commit: 2, applied: 0, lastIndex: 3, role: 'follower', leader: 0 });
    // An entry without encoded data falls back to applying the change to the current membership.
    expect(node.status().confState).toEqual({ voters: [1, 2, 3], learners: [4], removed: [] });
    const out = drain(node);
    expect(out.committed.map((e) => e.index)).toEqual([1, 2]);
    expect(out.entries).toEqual([]);
    expect(out.hardStates).toEqual([]);
  });

  it('restarts from a snapshot: marks at the snapshot, its membership', () => {
    const snapshot: Snapshot = { meta: { index: 5, term: 2, confState: { voters: [1, 2], learners: [], removed: [3] } }, data: bytes('') };
    const node = make(2, { snapshot, entries: [normal(6, 2)], hardState: { term: 2, vote: 0, commit: 5 } });
    expect(node.status()).toMatchObject({ commit: 5, applied: 5, firstIndex: 6, lastIndex: 6, snapshotIndex: 5, confState: snapshot.meta.confState });
    expect(node.hasReady()).toBe(false);
    expect(node.snapshotMeta(5)).toEqual(snapshot.meta);
  });

  it('refuses a restored commit beyond the log', () => {
    expect(() => make(2, { entries: [normal(1, 1)], hardState: { term: 1, vote: 0, commit: 2 } })).toThrow(/restored commit 2 beyond last index 1/);
  });
});
