// Edges of the Raft class that the first mutation run (npm run mutation, see docs/raft.md) showed
// unpinned: the lease boundary on votes, reports outside their state, the Ready contract while a
// Ready is out, the empty append that carries the commit index, transfer and promotion during
// membership changes, and soft state changes of the role alone. One core, hand-made messages
// (mutation-helpers.ts).
import { describe, expect, it } from 'vitest';
import { Raft, defaultRaftConfig, type Snapshot } from '../../../src/raft/index.js';
import { bytes, drain, leader, make, msg, normal, ofType } from './mutation-helpers.js';

const change = (type: 'addLearner' | 'promote' | 'remove', nodeId: number) => ({ type, nodeId, context: bytes('') });
const conf3 = { voters: [1, 2, 3], learners: [], removed: [] };

/** A follower of node 1 whose randomized election timeout is `electionTicks + draw`. */
function followerWithDraw(draw: number, draws: number[] = []): Raft {
  const prng = { nextInt: (bound: number): number => { draws.push(bound); return draw; } };
  return new Raft(defaultRaftConfig(2, prng), { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: undefined, entries: [], initialConf: conf3 });
}

describe('the vote lease boundary', () => {
  it('ends after exactly electionTicks ticks without the leader, even before the node campaigns', () => {
    const node = followerWithDraw(5);
    node.step(msg.heartbeat(1, 2, 1, 0));
    drain(node);
    for (let t = 0; t < 9; t++) node.tick();
    node.step(msg.vote(3, 2, 2, 0, 0));
    expect(drain(node).persisted).toEqual([]);
    node.tick(); // 10 ticks: the lease is over, the timeout (15) is not
    expect(node.status().role).toBe('follower');
    node.step(msg.vote(3, 2, 2, 0, 0));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 3, 2, false)]);
  });

  it('a follower redraws its timeout only when it changes term or role, not on every heartbeat', () => {
    const draws: number[] = [];
    const node = followerWithDraw(0, draws);
    expect(draws).toHaveLength(1);
    node.step(msg.heartbeat(1, 2, 1, 0));
    expect(draws).toHaveLength(2);
    node.step(msg.heartbeat(1, 2, 1, 0));
    node.step(msg.append(1, 2, 1, 0, 0, [], 0));
    expect(draws).toHaveLength(2);
  });
});

describe('reports and requests outside their state', () => {
  it('a follower keeps no transfer target', () => {
    const node = make(2);
    node.transferLeadership(3);
    expect(node.status().transferee).toBe(0);
  });

  it('reportUnreachable leaves a follower waiting for a snapshot alone', () => {
    const node = leader({ commitNoop: false });
    node.step(msg.appendResp(2, 1, 1, 1));
    node.propose(bytes('a'));
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 2));
    drain(node);
    node.compact(2, bytes('img'));
    node.step(msg.heartbeatResp(3, 1, 1));
    drain(node);
    expect(node.status().progress.find((p) => p.id === 3)?.state).toBe('snapshot');
    node.reportUnreachable(3);
    expect(node.status().progress.find((p) => p.id === 3)?.state).toBe('snapshot');
  });

  it('hasReady is false while a Ready is out, even with committed entries to apply', () => {
    const node = make(2, { entries: [normal(1, 1)], hardState: { term: 1, vote: 0, commit: 1 } });
    expect(node.hasReady()).toBe(true);
    node.ready();
    expect(node.hasReady()).toBe(false);
    node.advance();
    expect(node.hasReady()).toBe(false);
  });

  it('a snapshot older than the follower\'s own is answered with its commit index', () => {
    const snapshot: Snapshot = { meta: { index: 5, term: 1, confState: conf3 }, data: bytes('') };
    const node = make(2, { snapshot, hardState: { term: 1, vote: 0, commit: 5 } });
    node.step(msg.snapshot(1, 2, 1, { meta: { index: 3, term: 1, confState: conf3 }, data: bytes('') }));
    const out = drain(node);
    expect(out.persisted).toEqual([msg.appendResp(2, 1, 1, 5)]);
    expect(out.snapshots).toEqual([]);
  });

  it('the soft state reports a change of role alone', () => {
    const node = make(1);
    for (let t = 0; t < 10; t++) node.tick();
    const ready = node.ready();
    expect(ready.softState).toEqual({ leader: 0, role: 'preCandidate' });
    node.advance();
  });
});

describe('flow control edges', () => {
  it('a follower that was paused gets an empty append carrying the commit index once it answers', () => {
    const node = leader({ config: { maxInflightMsgs: 1 } });
    node.propose(bytes('a'));
    drain(node);
    node.step(msg.appendResp(3, 1, 1, 2));
    expect(node.status().commit).toBe(2);
    expect(appends(drain(node).messages)).toEqual([[3, 2, 0, 2]]);
    node.step(msg.appendResp(2, 1, 1, 2));
    expect(appends(drain(node).messages)).toEqual([[2, 2, 0, 2]]);
  });

  it('a heartbeat answer frees a slot only when the window is full', () => {
    const node = leader({ config: { maxInflightMsgs: 3 } });
    for (const v of ['a', 'b']) {
      node.propose(bytes(v));
      drain(node);
    }
    node.step(msg.heartbeatResp(2, 1, 1));
    drain(node);
    node.propose(bytes('c'));
    expect(appends(drain(node).messages).filter((a) => a[0] === 2)).toEqual([[2, 3, 1, 1]]);
    node.propose(bytes('d'));
    expect(appends(drain(node).messages).filter((a) => a[0] === 2)).toEqual([]);
  });
});

const appends = (messages: Parameters<typeof ofType>[0]) => ofType(messages, 'append').map((m) => [m.to, m.prevIndex, m.entries.length, m.commit]);

describe('transfer and membership edges', () => {
  it('TimeoutNow waits until the target matches the last index, not merely makes progress', () => {
    const node = leader();
    node.propose(bytes('a'));
    node.propose(bytes('b'));
    drain(node);
    node.transferLeadership(3);
    drain(node);
    node.step(msg.appendResp(3, 1, 1, 2));
    expect(ofType(drain(node).messages, 'timeoutNow')).toEqual([]);
    node.step(msg.appendResp(3, 1, 1, 3));
    expect(ofType(drain(node).messages, 'timeoutNow')).toEqual([msg.timeoutNow(1, 3, 1)]);
  });

  it('an unrelated membership change committing during a transfer does not abort it', () => {
    const node = leader();
    node.proposeConfChange(change('addLearner', 4));
    drain(node);
    node.transferLeadership(3);
    drain(node);
    node.step(msg.appendResp(2, 1, 1, 2));
    expect(node.status().confState.learners).toEqual([4]);
    expect(node.status().transferee).toBe(3);
  });

  it('no learner is promoted while a transfer is under way', () => {
    const node = leader({ learners: [4] });
    node.transferLeadership(2);
    drain(node);
    node.step(msg.appendResp(4, 1, 1, 1));
    expect(node.status().lastIndex).toBe(1);
  });

  it('a learner applying a conf entry keeps following its leader', () => {
    const node = make(4, { voters: [1, 2, 3], learners: [4] });
    const data = new Uint8Array([1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    node.step(msg.append(1, 4, 1, 0, 0, [{ index: 1, term: 1, kind: 'conf', data, change: change('addLearner', 4) }], 1));
    expect(node.status().commit).toBe(1);
    expect(node.status().leader).toBe(1);
  });
});
