// Exact behaviour of the leader's other duties in the Raft class: ReadIndex rounds and leases,
// leadership transfer, membership changes, and the Ready/advance contract. Each test drives one
// core with hand-made messages (mutation-helpers.ts). Written to kill the mutants Stryker found
// surviving in src/raft/raft.ts (npm run mutation).
import { describe, expect, it } from 'vitest';
import { bytes, drain, leader, make, msg, normal, ofType } from './mutation-helpers.js';

const change = (type: 'addLearner' | 'promote' | 'remove', nodeId: number) => ({ type, nodeId, context: bytes('') });

describe('ReadIndex (thesis §6.4)', () => {
  it('is refused on a follower and answers with the commit index and term on the leader', () => {
    expect(make(2).readIndex(1)).toEqual({ ok: false, error: 'not-leader' });
    const node = leader();
    expect(node.readIndex(1)).toEqual({ ok: true, index: 1, term: 1 });
  });

  it('starts one heartbeat round for the reads of a Ready and serves them once a majority answers', () => {
    const node = leader({ voters: [1, 2, 3, 4, 5] });
    expect(node.hasReady()).toBe(false);
    node.readIndex(10);
    expect(node.hasReady()).toBe(true);
    node.readIndex(11);
    const out = drain(node);
    const beats = ofType(out.messages, 'heartbeat');
    // Two followers complete a majority of five with the leader: the round goes to them alone.
    expect(beats.map((m) => [m.to, m.readRound, m.commit])).toEqual([[2, 1, 1], [3, 1, 1]]);
    expect(out.readStates).toEqual([]);
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    expect(drain(node).readStates).toEqual([]);
    node.step(msg.heartbeatResp(3, 1, 1, 0));
    expect(drain(node).readStates).toEqual([]);
    node.step(msg.heartbeatResp(3, 1, 1, 1));
    expect(drain(node).readStates).toEqual([{ context: 10, index: 1 }, { context: 11, index: 1 }]);
  });

  it('sends a round to the voters that acknowledged the latest rounds, and to all with lease reads', () => {
    const node = leader({ voters: [1, 2, 3, 4, 5] });
    node.readIndex(10);
    drain(node);
    // 4 and 5 answered the round (3 and 2 did not): they are the quickest now.
    node.step(msg.heartbeatResp(5, 1, 1, 1));
    node.step(msg.heartbeatResp(4, 1, 1, 1));
    expect(drain(node).readStates).toEqual([{ context: 10, index: 1 }]);
    node.readIndex(11);
    // Quickest first: 5 reached round 1 before 4 did.
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => [m.to, m.readRound])).toEqual([[5, 2], [4, 2]]);
    // This time 4 reaches round 2 first; 3 catches up only to round 1.
    node.step(msg.heartbeatResp(4, 1, 1, 2));
    node.step(msg.heartbeatResp(5, 1, 1, 2));
    node.step(msg.heartbeatResp(3, 1, 1, 1));
    drain(node);
    node.readIndex(12);
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.to)).toEqual([4, 5]);
    const lease = leader({ voters: [1, 2, 3, 4, 5], config: { leaseReads: true } });
    lease.readIndex(10);
    expect(ofType(drain(lease).messages, 'heartbeat').map((m) => m.to)).toEqual([2, 3, 4, 5]);
  });

  it('prefers the follower that answered first over a slow one that answers the same round later', () => {
    const node = leader();
    node.readIndex(10);
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.to)).toEqual([2]);
    // 2 is slow: the periodic heartbeat carries round 1 to both, 3 answers it first, 2 later.
    let repeated: number[] = [];
    for (let t = 0; t < 5 && repeated.length === 0; t++) {
      node.tick();
      repeated = ofType(drain(node).messages, 'heartbeat').filter((m) => m.readRound === 1).map((m) => m.to);
    }
    expect(repeated).toEqual([2, 3]);
    node.step(msg.heartbeatResp(3, 1, 1, 1));
    expect(drain(node).readStates).toEqual([{ context: 10, index: 1 }]);
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    drain(node);
    node.readIndex(11);
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.to)).toEqual([3]);
  });

  it('orders followers with no acknowledgement by id, whatever order the configuration lists them in', () => {
    const node = leader({ voters: [1, 5, 4, 3, 2] });
    node.readIndex(10);
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.to)).toEqual([2, 3]);
  });

  it('a late or repeated acknowledgement neither lowers a follower\'s round nor makes it look slower', () => {
    const node = leader();
    node.readIndex(10);
    drain(node);
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    node.step(msg.heartbeatResp(3, 1, 1, 1));
    drain(node);
    node.readIndex(11);
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.to)).toEqual([2]);
    node.step(msg.heartbeatResp(2, 1, 1, 2));
    node.step(msg.heartbeatResp(3, 1, 1, 2));
    // A delayed answer to round 1 and a repeated answer to round 2, both from 2.
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    node.step(msg.heartbeatResp(2, 1, 1, 2));
    expect(drain(node).readStates).toEqual([{ context: 11, index: 1 }]);
    node.readIndex(12);
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.to)).toEqual([2]);
  });

  it('sends a two-voter round to the other voter only, not to learners', () => {
    const node = leader({ voters: [1, 2], learners: [3] });
    node.readIndex(10);
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.to)).toEqual([2]);
  });

  it('keeps reads waiting through a membership change that leaves other voters', () => {
    const node = leader();
    expect(node.proposeConfChange(change('addLearner', 4)).ok).toBe(true);
    drain(node);
    node.readIndex(10);
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 2));
    const out = drain(node);
    expect(node.status().confState.learners).toEqual([4]);
    expect(out.droppedReads).toEqual([]);
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    expect(drain(node).readStates).toEqual([{ context: 10, index: 1 }]);
  });

  it('sends a round to two of three followers with four voters', () => {
    const node = leader({ voters: [1, 2, 3, 4] });
    node.readIndex(10);
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.to)).toEqual([2, 3]);
  });

  it('drops the reads waiting for a round when the leader is left the only voter', () => {
    const node = leader({ voters: [1, 2], config: { checkQuorum: false } });
    expect(node.proposeConfChange(change('remove', 2)).ok).toBe(true);
    drain(node);
    node.readIndex(10);
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.to)).toEqual([2]);
    // 2 acknowledges the removal (committing it) but never the round.
    node.step(msg.appendResp(2, 1, 1, 2));
    const out = drain(node);
    expect(node.status().confState.voters).toEqual([1]);
    expect(out.droppedReads).toEqual([10]);
    // A new read is served at once by the single voter.
    node.readIndex(11);
    expect(drain(node).readStates).toEqual([{ context: 11, index: 2 }]);
  });

  it('periodic heartbeats repeat the latest round while reads wait for it', () => {
    const node = leader();
    node.readIndex(10);
    drain(node); // the round's heartbeats are lost
    node.tick();
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.readRound)).toEqual([1, 1]);
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    expect(drain(node).readStates).toEqual([{ context: 10, index: 1 }]);
    node.tick();
    expect(ofType(drain(node).messages, 'heartbeat').map((m) => m.readRound)).toEqual([0, 0]);
  });

  it('a learner\'s answer does not confirm a round', () => {
    const node = leader({ learners: [4] });
    node.readIndex(10);
    const beats = ofType(drain(node).messages, 'heartbeat');
    expect(beats.map((m) => m.to)).toEqual([2]);
    node.step(msg.heartbeatResp(4, 1, 1, 1));
    expect(drain(node).readStates).toEqual([]);
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    expect(drain(node).readStates).toEqual([{ context: 10, index: 1 }]);
  });

  it('holds reads until the no-op commits, then runs a round at the new commit index', () => {
    const node = leader({ commitNoop: false });
    expect(node.readIndex(7)).toEqual({ ok: true, index: 0, term: 1 });
    expect(ofType(drain(node).messages, 'heartbeat')).toEqual([]);
    node.step(msg.appendResp(2, 1, 1, 1));
    const out = drain(node);
    expect(ofType(out.messages, 'heartbeat').map((m) => [m.to, m.readRound])).toEqual([[2, 1]]);
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    expect(drain(node).readStates).toEqual([{ context: 7, index: 1 }]);
  });

  it('a single voter serves reads at once, and reads held for its no-op when it commits', () => {
    const node = make(1, { voters: [1] });
    for (let t = 0; t < 10; t++) node.tick();
    expect(node.status().role).toBe('leader');
    node.readIndex(5);
    const first = drain(node);
    expect(first.readStates).toEqual([{ context: 5, index: 1 }]);
    expect(first.messages).toEqual([]);
    node.readIndex(6);
    expect(node.hasReady()).toBe(true);
    expect(drain(node).readStates).toEqual([{ context: 6, index: 1 }]);
  });

  it('refuses reads beyond maxPendingReads, counting those held for the no-op', () => {
    const held = leader({ commitNoop: false, config: { maxPendingReads: 2 } });
    expect(held.readIndex(1).ok).toBe(true);
    expect(held.readIndex(2).ok).toBe(true);
    expect(held.readIndex(3)).toEqual({ ok: false, error: 'too-many-reads' });
    const node = leader({ config: { maxPendingReads: 2 } });
    expect(node.readIndex(1).ok).toBe(true);
    expect(node.readIndex(2).ok).toBe(true);
    expect(node.readIndex(3)).toEqual({ ok: false, error: 'too-many-reads' });
    drain(node);
    expect(node.readIndex(3)).toEqual({ ok: false, error: 'too-many-reads' });
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    drain(node);
    expect(node.readIndex(3).ok).toBe(true);
  });

  it('a leader that steps down drops its pending and held reads', () => {
    const node = leader({ commitNoop: false });
    node.readIndex(1);
    node.step(msg.appendResp(2, 1, 1, 1));
    node.readIndex(2);
    drain(node);
    node.readIndex(3);
    node.step(msg.heartbeat(3, 1, 5, 0));
    const out = drain(node);
    expect(out.droppedReads.sort()).toEqual([1, 2, 3]);
    expect(node.status().role).toBe('follower');
    expect(node.status().leader).toBe(3);
  });
});

describe('lease reads (thesis §6.4.1)', () => {
  /** Leader of term 1 with leases; its first heartbeat (tick 11, round 1) acknowledged by 2. */
  const leased = (overrides = {}) => {
    const node = leader({ config: { leaseReads: true, ...overrides } });
    node.tick();
    const beats = ofType(drain(node).messages, 'heartbeat');
    expect(beats.map((m) => m.readRound)).toEqual([1, 1]);
    node.step(msg.heartbeatResp(2, 1, 1, 1));
    drain(node);
    return node;
  };

  it('serves a read without a round while a majority acknowledged a heartbeat less than electionTicks-1 ago', () => {
    const node = leased();
    for (let t = 0; t < 8; t++) node.tick();
    drain(node);
    node.readIndex(5);
    const out = drain(node);
    expect(out.readStates).toEqual([{ context: 5, index: 1 }]);
    node.tick();
    drain(node);
    node.readIndex(6);
    const late = drain(node);
    expect(late.readStates).toEqual([]);
    expect(ofType(late.messages, 'heartbeat').map((m) => m.readRound)).toEqual([11, 11]);
  });

  it('every heartbeat starts a round; a newer acknowledgement extends the lease, an older one does not shorten it', () => {
    const node = leased();
    for (let t = 0; t < 4; t++) node.tick(); // rounds 2..5 at ticks 12..15
    drain(node);
    node.step(msg.heartbeatResp(2, 1, 1, 5));
    node.step(msg.heartbeatResp(2, 1, 1, 2));
    for (let t = 0; t < 12; t++) node.tick(); // tick 27: 12 after the round of tick 15
    drain(node);
    node.readIndex(1);
    expect(drain(node).readStates).toEqual([]);
    const fresh = leased({ checkQuorum: true });
    for (let t = 0; t < 4; t++) fresh.tick();
    drain(fresh);
    fresh.step(msg.heartbeatResp(2, 1, 1, 5));
    fresh.step(msg.heartbeatResp(2, 1, 1, 2));
    for (let t = 0; t < 8; t++) fresh.tick(); // tick 23: 8 after tick 15
    fresh.step(msg.heartbeatResp(3, 1, 1, 0));
    drain(fresh);
    fresh.readIndex(1);
    expect(drain(fresh).readStates).toEqual([{ context: 1, index: 1 }]);
  });

  it('acknowledgements from an earlier leadership do not make a lease', () => {
    const node = leased();
    // Deposed, then elected again at once through a transfer, within what was the old lease.
    node.step(msg.heartbeat(3, 1, 5, 1));
    drain(node);
    node.step(msg.timeoutNow(3, 1, 5));
    node.step(msg.voteResp(2, 1, 6));
    expect(node.status().role).toBe('leader');
    drain(node);
    node.step(msg.appendResp(2, 1, 6, 2));
    drain(node);
    expect(node.status().commit).toBe(2);
    node.readIndex(9);
    expect(drain(node).readStates).toEqual([]);
  });

  it('a learner\'s acknowledgement does not count for the lease', () => {
    const node = leader({ learners: [4], config: { leaseReads: true } });
    node.tick();
    drain(node);
    node.step(msg.heartbeatResp(4, 1, 1, 1));
    drain(node);
    node.readIndex(5);
    expect(drain(node).readStates).toEqual([]);
  });

  it('without an acknowledgement there is no lease, and before the no-op commits reads are held', () => {
    const node = leader({ config: { leaseReads: true } });
    node.readIndex(1);
    expect(drain(node).readStates).toEqual([]);
    const held = leader({ commitNoop: false, config: { leaseReads: true } });
    held.tick();
    drain(held);
    held.step(msg.heartbeatResp(2, 1, 1, 1));
    drain(held);
    held.readIndex(2);
    expect(drain(held).readStates).toEqual([]);
  });
});

describe('leadership transfer (thesis §3.10)', () => {
  it('sends TimeoutNow at once to an up-to-date voter and refuses proposals meanwhile', () => {
    const node = leader();
    node.transferLeadership(2);
    expect(node.status().transferee).toBe(2);
    const out = drain(node);
    expect(out.messages).toEqual([msg.timeoutNow(1, 2, 1)]);
    expect(node.propose(bytes('x'))).toEqual({ ok: false, error: 'transferring' });
    expect(node.proposeConfChange(change('addLearner', 4))).toEqual({ ok: false, error: 'transferring' });
    // Asking again for the same target sends nothing more.
    node.transferLeadership(2);
    expect(node.hasReady()).toBe(false);
  });

  it('ignores a transfer on a follower, to itself, or to a non-voter', () => {
    make(2).transferLeadership(3);
    const node = leader({ learners: [4] });
    node.transferLeadership(1);
    node.transferLeadership(4);
    node.transferLeadership(9);
    expect(node.status().transferee).toBe(0);
    expect(node.hasReady()).toBe(false);
  });

  it('catches a lagging target up first, then sends TimeoutNow when it matches the last index', () => {
    const node = leader();
    node.propose(bytes('a'));
    drain(node);
    node.transferLeadership(3);
    const catchUp = drain(node);
    expect(ofType(catchUp.messages, 'append').map((m) => [m.to, m.prevIndex])).toEqual([[3, 2]]);
    expect(ofType(catchUp.messages, 'timeoutNow')).toEqual([]);
    node.step(msg.appendResp(2, 1, 1, 2));
    expect(ofType(drain(node).messages, 'timeoutNow')).toEqual([]);
    node.step(msg.appendResp(3, 1, 1, 2));
    expect(ofType(drain(node).messages, 'timeoutNow')).toEqual([msg.timeoutNow(1, 3, 1)]);
  });

  it('gives up exactly one election timeout after the transfer started', () => {
    const node = leader({ config: { checkQuorum: false } });
    for (let t = 0; t < 5; t++) node.tick();
    node.transferLeadership(2);
    for (let t = 0; t < 9; t++) node.tick();
    expect(node.status().transferee).toBe(2);
    node.tick();
    expect(node.status().transferee).toBe(0);
    expect(node.propose(bytes('x')).ok).toBe(true);
  });

  it('the target campaigns at once in the next term, asking voters to ignore their lease', () => {
    const node = make(2, { entries: [normal(1, 1)], hardState: { term: 1, vote: 0, commit: 1 } });
    node.step(msg.heartbeat(1, 2, 1, 1));
    drain(node);
    node.step(msg.timeoutNow(1, 2, 1));
    expect(node.status().role).toBe('candidate');
    expect(node.status().term).toBe(2);
    expect(node.status().leader).toBe(0);
    const votes = ofType(drain(node).messages, 'vote');
    expect(votes.map((m) => [m.to, m.term, m.lastLogIndex, m.lastLogTerm, m.transfer])).toEqual([[1, 2, 1, 1, true], [3, 2, 1, 1, true]]);
  });

  it('a leader or a learner ignores TimeoutNow', () => {
    const node = leader();
    node.step(msg.timeoutNow(2, 1, 1));
    expect(node.status().role).toBe('leader');
    const learner = make(4, { learners: [4] });
    learner.step(msg.timeoutNow(1, 4, 0));
    expect(learner.status().role).toBe('follower');
  });

  it('removing the target aborts the transfer', () => {
    const node = leader({ config: { checkQuorum: false } });
    expect(node.proposeConfChange(change('remove', 3)).ok).toBe(true);
    drain(node);
    node.transferLeadership(3);
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 2));
    drain(node);
    expect(node.status().confState.voters).toEqual([1, 2]);
    expect(node.status().transferee).toBe(0);
  });
});

describe('membership changes (thesis §4.1)', () => {
  it('refuses a change on a follower, before the no-op commits, and while one is pending', () => {
    expect(make(2).proposeConfChange(change('addLearner', 4))).toEqual({ ok: false, error: 'not-leader' });
    const early = leader({ commitNoop: false });
    expect(early.proposeConfChange(change('addLearner', 4))).toEqual({ ok: false, error: 'no-op-uncommitted' });
    const node = leader();
    expect(node.proposeConfChange(change('addLearner', 4))).toEqual({ ok: true, index: 2, term: 1 });
    expect(node.proposeConfChange(change('addLearner', 5))).toEqual({ ok: false, error: 'conf-change-pending' });
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 2));
    drain(node);
    expect(node.status().commit).toBe(2);
    expect(node.proposeConfChange(change('addLearner', 5))).toEqual({ ok: true, index: 3, term: 1 });
  });

  it('validates the change against the current membership', () => {
    const node = leader({ voters: [1, 2, 3], learners: [4] });
    const invalid = { ok: false, error: 'invalid-conf-change' };
    for (const c of [change('addLearner', 0), change('addLearner', -2), change('addLearner', 1.5), change('addLearner', 2), change('addLearner', 4),
      change('promote', 2), change('promote', 5), change('remove', 5)]) {
      expect(node.proposeConfChange(c)).toEqual(invalid);
    }
    expect(node.proposeConfChange(change('remove', 4)).ok).toBe(true);
    const solo = make(1, { voters: [1] });
    for (let t = 0; t < 10; t++) solo.tick();
    drain(solo);
    expect(solo.proposeConfChange(change('remove', 1))).toEqual(invalid);
    expect(solo.proposeConfChange(change('addLearner', 2)).ok).toBe(true);
  });

  it('a removed id is never reused; a promote needs a learner', () => {
    const node = leader();
    node.proposeConfChange(change('remove', 3));
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 2));
    drain(node);
    expect(node.status().confState).toEqual({ voters: [1, 2], learners: [], removed: [3] });
    expect(node.proposeConfChange(change('addLearner', 3))).toEqual({ ok: false, error: 'invalid-conf-change' });
    expect(node.status().progress.map((p) => p.id).sort()).toEqual([1, 2]);
  });

  it('a new learner gets a Progress at the end of the log and is promoted once close enough', () => {
    const node = leader({ config: { promoteLagEntries: 2 } });
    node.proposeConfChange(change('addLearner', 4));
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 2));
    drain(node);
    expect(node.status().progress.find((p) => p.id === 4)).toEqual({ id: 4, match: 0, next: 3, state: 'probe', voter: false, recentActive: true });
    for (const v of ['a', 'b', 'c', 'd']) node.propose(bytes(v));
    drain(node); // last index 6
    node.step(msg.appendResp(4, 1, 1, 3));
    expect(node.status().lastIndex).toBe(6); // 3 + 2 < 6: not yet
    node.step(msg.appendResp(4, 1, 1, 4));
    expect(node.status().lastIndex).toBe(7); // 4 + 2 >= 6: promote proposed
    const out = drain(node);
    const promote = out.entries.find((e) => e.kind === 'conf');
    expect(promote?.change).toEqual({ type: 'promote', nodeId: 4, context: new Uint8Array(0) });
    node.step(msg.appendResp(2, 1, 1, 7));
    drain(node);
    expect(node.status().confState).toEqual({ voters: [1, 2, 3, 4], learners: [], removed: [] });
    expect(node.status().progress.find((p) => p.id === 4)?.voter).toBe(true);
  });

  it('no promotion while another change is pending or before the no-op commits', () => {
    const node = leader({ learners: [4], commitNoop: false, config: { promoteLagEntries: 64 } });
    node.step(msg.appendResp(4, 1, 1, 1));
    expect(node.status().lastIndex).toBe(1);
    node.step(msg.appendResp(2, 1, 1, 1));
    expect(node.status().commit).toBe(1);
    node.step(msg.heartbeatResp(4, 1, 1));
    expect(node.status().lastIndex).toBe(2);
    expect(drain(node).entries.map((e) => e.change?.type)).toEqual(['promote']);
    node.step(msg.heartbeatResp(4, 1, 1));
    expect(node.status().lastIndex).toBe(2);
  });

  it('a smaller quorum commits more as soon as the removal is applied', () => {
    const node = leader({ voters: [1, 2, 3, 4] });
    node.proposeConfChange(change('remove', 4));
    node.propose(bytes('x'));
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 3));
    expect(node.status().commit).toBe(1);
    node.step(msg.appendResp(3, 1, 1, 2));
    expect(node.status().confState.voters).toEqual([1, 2, 3]);
    expect(node.status().commit).toBe(3);
    expect(appendsOfCommit(drain(node).messages)).toContain(3);
  });

  it('a leader steps down once its own removal commits and the remaining voters holding it know', () => {
    const node = leader();
    node.proposeConfChange(change('remove', 1));
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 2));
    // Committed: it tells the voters that hold the removal (node 2; node 3 has not acknowledged
    // entry 2 and learns it from the next leader) the commit index in a heartbeat round, and
    // refuses commands and reads until they answer.
    expect(node.status().role).toBe('leader');
    expect(node.status().commit).toBe(2);
    const told = ofType(drain(node).messages, 'heartbeat');
    expect(told.map((m) => [m.to, m.term, m.commit])).toEqual([[2, 1, 2]]);
    const round = told[0]!.readRound;
    expect(round).toBeGreaterThan(0);
    expect(node.propose(new Uint8Array([1]))).toEqual({ ok: false, error: 'transferring' });
    expect(node.readIndex(7)).toEqual({ ok: false, error: 'transferring' });
    // An answer to an older round does not count; the round's own answer does.
    node.step(msg.heartbeatResp(2, 1, 1, round - 1));
    expect(node.status().role).toBe('leader');
    node.step(msg.heartbeatResp(2, 1, 1, round));
    expect(node.status().role).toBe('follower');
    expect(node.status().leader).toBe(0);
    expect(node.status().progress).toEqual([]);
  });

  it('a conf entry carries the whole membership, so a member that never saw the bootstrap learns it', () => {
    const node = make(4, { voters: [], learners: [] });
    const data = new Uint8Array([1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    node.step(msg.append(1, 4, 1, 0, 0, [normal(1, 1), { index: 2, term: 1, kind: 'conf', data, change: change('addLearner', 4) }], 2));
    expect(node.status().confState).toEqual({ voters: [1, 2, 3], learners: [4], removed: [] });
  });

  it('a follower applies conf entries as they commit', () => {
    const node = make(2, { entries: [normal(1, 1)], hardState: { term: 1, vote: 0, commit: 1 } });
    drain(node);
    const data = new Uint8Array([1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    const entry = { index: 2, term: 1, kind: 'conf' as const, data, change: change('addLearner', 4) };
    node.step(msg.append(1, 2, 1, 1, 1, [entry], 1));
    expect(node.status().confState.learners).toEqual([]);
    node.step(msg.heartbeat(1, 2, 1, 2));
    expect(node.status().confState).toEqual({ voters: [1, 2, 3], learners: [4], removed: [] });
  });
});

const appendsOfCommit = (messages: Parameters<typeof ofType>[0]) => ofType(messages, 'append').map((m) => m.commit);

describe('Ready and advance', () => {
  it('no call may come between ready() and advance(), and advance needs a ready', () => {
    const node = make(1);
    node.tick();
    expect(() => node.advance()).toThrow(/advance\(\) without a ready\(\)/);
    node.ready();
    expect(node.hasReady()).toBe(false);
    expect(() => node.tick()).toThrow(/tick\(\) called between ready\(\) and advance\(\)/);
    expect(() => node.step(msg.heartbeat(2, 1, 1, 0))).toThrow(/step\(\)/);
    expect(() => node.propose(bytes('x'))).toThrow(/propose\(\)/);
    expect(() => node.proposeConfChange(change('addLearner', 4))).toThrow(/proposeConfChange\(\)/);
    expect(() => node.readIndex(1)).toThrow(/readIndex\(\)/);
    expect(() => node.transferLeadership(2)).toThrow(/transferLeadership\(\)/);
    expect(() => node.compact(0, bytes(''))).toThrow(/compact\(\)/);
    expect(() => node.reportUnreachable(2)).toThrow(/reportUnreachable\(\)/);
    expect(() => node.reportSnapshot(2, true)).toThrow(/reportSnapshot\(\)/);
    expect(() => node.ready()).toThrow(/ready\(\)/);
    node.advance();
    node.tick();
  });

  it('soft and hard state appear only when they change', () => {
    const node = make(2);
    expect(node.hasReady()).toBe(false);
    node.step(msg.heartbeat(1, 2, 1, 0));
    const first = node.ready();
    expect(first.softState).toEqual({ leader: 1, role: 'follower' });
    expect(first.hardState).toEqual({ term: 1, vote: 0, commit: 0 });
    node.advance();
    node.step(msg.heartbeat(1, 2, 1, 0));
    const second = node.ready();
    expect(second.softState).toBeUndefined();
    expect(second.hardState).toBeUndefined();
    node.advance();
    expect(node.hasReady()).toBe(false);
  });

  it('the leader counts itself toward a commit only once its entries are durable', () => {
    const node = leader();
    node.propose(bytes('a'));
    // Follower 2 has entry 2 on disk, the leader not yet: no majority.
    node.step(msg.appendResp(2, 1, 1, 2));
    expect(node.status().commit).toBe(1);
    const out = drain(node);
    expect(node.status().commit).toBe(2);
    expect(out.committed.map((e) => e.index)).toEqual([2]);
    expect(appendsOfCommit(out.messages)).toEqual([1, 1, 2, 2]);
  });

  it('status reports the leader\'s view, and the cheap accessors agree', () => {
    const node = leader();
    expect(node.currentRole).toBe('leader');
    expect(node.currentLeader).toBe(1);
    expect(node.lastIndex).toBe(1);
    expect(node.status()).toEqual({
      id: 1, group: 1, role: 'leader', term: 1, vote: 1, leader: 1, commit: 1, applied: 1, firstIndex: 1, lastIndex: 1,
      snapshotIndex: 0, confState: { voters: [1, 2, 3], learners: [], removed: [] }, transferee: 0,
      progress: [
        { id: 1, match: 1, next: 2, state: 'replicate', voter: true, recentActive: true },
        { id: 2, match: 1, next: 2, state: 'replicate', voter: true, recentActive: true },
        { id: 3, match: 1, next: 2, state: 'replicate', voter: true, recentActive: true },
      ],
    });
    const follower = make(2);
    expect(follower.currentRole).toBe('follower');
    expect(follower.currentLeader).toBe(0);
    expect(follower.status().progress).toEqual([]);
  });
});
