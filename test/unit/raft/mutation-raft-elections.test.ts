// Exact behaviour of elections in the Raft class: timeouts to the tick, PreVote and vote
// requests and answers, the leader lease on votes, term handling of every message kind, and
// CheckQuorum. Each test drives one core with hand-made messages (mutation-helpers.ts). Written
// to kill the mutants Stryker found surviving in src/raft/raft.ts (npm run mutation).
import { describe, expect, it } from 'vitest';
import { Raft, defaultRaftConfig } from '../../../src/raft/index.js';
import { drain, leader, make, msg, normal, ofType } from './mutation-helpers.js';

describe('election timeout', () => {
  it('a follower campaigns exactly when electionElapsed reaches the randomized timeout', () => {
    const node = make(1);
    for (let t = 0; t < 9; t++) node.tick();
    expect(node.status().role).toBe('follower');
    expect(drain(node).messages).toEqual([]);
    node.tick();
    expect(node.status().role).toBe('preCandidate');
    const out = drain(node);
    const preVotes = ofType(out.messages, 'preVote');
    expect(preVotes.map((m) => m.to)).toEqual([2, 3]);
    for (const m of preVotes) {
      expect(m.term).toBe(1);
      expect(m.lastLogIndex).toBe(0);
      expect(m.lastLogTerm).toBe(0);
      expect(m.from).toBe(1);
      expect(m.group).toBe(1);
    }
    // PreVote does not raise the term.
    expect(node.status().term).toBe(0);
    expect(out.hardStates).toEqual([]);
  });

  it('the timeout is electionTicks plus a random draw below electionTicks', () => {
    const draws: number[] = [];
    const prng = { nextInt: (bound: number): number => { draws.push(bound); return 3; } };
    const rec = new Raft(defaultRaftConfig(1, prng), { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: undefined, entries: [], initialConf: { voters: [1, 2, 3], learners: [], removed: [] } });
    expect(draws).toEqual([10]);
    for (let t = 0; t < 12; t++) rec.tick();
    expect(rec.status().role).toBe('follower');
    rec.tick();
    expect(rec.status().role).toBe('preCandidate');
  });

  it('without PreVote a follower becomes candidate of the next term, votes for itself and persists it', () => {
    const node = make(1, { config: { preVote: false } });
    for (let t = 0; t < 10; t++) node.tick();
    expect(node.status().role).toBe('candidate');
    expect(node.status().term).toBe(1);
    expect(node.status().vote).toBe(1);
    const out = drain(node);
    expect(out.hardStates).toEqual([{ term: 1, vote: 1, commit: 0 }]);
    const votes = ofType(out.messages, 'vote');
    expect(votes.map((m) => [m.to, m.term, m.transfer])).toEqual([[2, 1, false], [3, 1, false]]);
  });

  it('a learner (not promotable) never campaigns', () => {
    const node = make(4, { voters: [1, 2, 3], learners: [4] });
    for (let t = 0; t < 50; t++) node.tick();
    expect(node.status().role).toBe('follower');
    expect(drain(node).messages).toEqual([]);
  });

  it('a single voter wins at once and commits its no-op after persisting it', () => {
    const node = make(1, { voters: [1] });
    for (let t = 0; t < 10; t++) node.tick();
    expect(node.status().role).toBe('leader');
    expect(node.status().term).toBe(1);
    const out = drain(node);
    expect(out.messages).toEqual([]);
    expect(out.committed.map((e) => [e.index, e.kind])).toEqual([[1, 'noop']]);
    expect(node.propose(new Uint8Array([7]))).toEqual({ ok: true, index: 2, term: 1 });
    expect(drain(node).committed.map((e) => e.index)).toEqual([2]);
  });

  it('a candidate keeps campaigning each timeout, raising its term', () => {
    const node = make(1, { config: { preVote: false } });
    for (let t = 0; t < 10; t++) node.tick();
    drain(node);
    for (let t = 0; t < 9; t++) node.tick();
    expect(node.status().term).toBe(1);
    node.tick();
    expect(node.status().term).toBe(2);
    expect(node.status().role).toBe('candidate');
  });
});

describe('winning and losing', () => {
  it('PreVote won: a real election in term+1; vote won: leader with a no-op of its term', () => {
    const node = make(1);
    for (let t = 0; t < 10; t++) node.tick();
    drain(node);
    node.step(msg.preVoteResp(2, 1, 1));
    expect(node.status().role).toBe('candidate');
    expect(node.status().term).toBe(1);
    const out = drain(node);
    expect(ofType(out.messages, 'vote').map((m) => [m.to, m.term])).toEqual([[2, 1], [3, 1]]);
    node.step(msg.voteResp(3, 1, 1));
    expect(node.status().role).toBe('leader');
    expect(node.status().leader).toBe(1);
    const led = drain(node);
    expect(led.entries.map((e) => [e.index, e.term, e.kind])).toEqual([[1, 1, 'noop']]);
    const appends = ofType(led.messages, 'append');
    expect(appends.map((m) => [m.to, m.prevIndex, m.prevTerm, m.entries.length, m.commit])).toEqual([[2, 0, 0, 1, 0], [3, 0, 0, 1, 0]]);
  });

  it('PreVote lost: back to follower in the same term', () => {
    const node = make(1);
    for (let t = 0; t < 10; t++) node.tick();
    // A refusal carries the refuser's own term (here still 0).
    node.step(msg.preVoteResp(2, 1, 0, true));
    expect(node.status().role).toBe('preCandidate');
    node.step(msg.preVoteResp(3, 1, 0, true));
    expect(node.status().role).toBe('follower');
    expect(node.status().term).toBe(0);
  });

  it('each PreVote round counts only its own answers', () => {
    const node = make(1);
    for (let t = 0; t < 10; t++) node.tick();
    node.step(msg.preVoteResp(2, 1, 0, true));
    // Timed out: a new round, in which 2's old refusal no longer counts.
    for (let t = 0; t < 10; t++) node.tick();
    expect(node.status().role).toBe('preCandidate');
    node.step(msg.preVoteResp(3, 1, 0, true));
    expect(node.status().role).toBe('preCandidate');
    node.step(msg.preVoteResp(2, 1, 1));
    expect(node.status().role).toBe('candidate');
  });

  it('a rejected PreVote from a higher term makes the node follow that term', () => {
    const node = make(1);
    for (let t = 0; t < 10; t++) node.tick();
    node.step(msg.preVoteResp(2, 1, 5, true));
    expect(node.status().role).toBe('follower');
    expect(node.status().term).toBe(5);
    expect(node.status().leader).toBe(0);
  });

  it('vote lost: follower of the same term, still having voted for itself', () => {
    const node = make(1, { config: { preVote: false } });
    for (let t = 0; t < 10; t++) node.tick();
    node.step(msg.voteResp(2, 1, 1, true));
    node.step(msg.voteResp(3, 1, 1, true));
    expect(node.status().role).toBe('follower');
    expect(node.status().term).toBe(1);
    expect(node.status().vote).toBe(1);
  });

  it('ignores answers of the wrong kind, from non-voters, and when not campaigning', () => {
    const node = make(1, { voters: [1, 2, 3, 4, 5] });
    for (let t = 0; t < 10; t++) node.tick();
    node.step(msg.voteResp(2, 1, 0));
    node.step(msg.voteResp(3, 1, 0));
    node.step(msg.voteResp(4, 1, 0));
    expect(node.status().role).toBe('preCandidate');
    node.step(msg.preVoteResp(9, 1, 1));
    node.step(msg.preVoteResp(8, 1, 1));
    node.step(msg.preVoteResp(7, 1, 1));
    expect(node.status().role).toBe('preCandidate');
    node.step(msg.preVoteResp(2, 1, 1));
    node.step(msg.preVoteResp(2, 1, 1)); // the same voter twice counts once
    expect(node.status().role).toBe('preCandidate');
    node.step(msg.preVoteResp(3, 1, 1));
    expect(node.status().role).toBe('candidate');
    // A follower ignores vote answers.
    const follower = make(2);
    follower.step(msg.voteResp(1, 2, 0));
    expect(follower.status().role).toBe('follower');
  });
});

describe('granting votes (Raft §5.2, §5.4.1)', () => {
  it('grants a vote to an up-to-date candidate once per term, persisting it before answering', () => {
    const node = make(2, { entries: [normal(1, 1)], hardState: { term: 1, vote: 0, commit: 0 } });
    node.step(msg.vote(1, 2, 2, 1, 1));
    const out = drain(node);
    expect(out.messages).toEqual([]);
    expect(out.persisted).toEqual([msg.voteResp(2, 1, 2, false)]);
    expect(out.hardStates).toEqual([{ term: 2, vote: 1, commit: 0 }]);
    node.step(msg.vote(3, 2, 2, 5, 1));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 3, 2, true)]);
    // The same candidate asking again is granted again.
    node.step(msg.vote(1, 2, 2, 1, 1));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 1, 2, false)]);
  });

  it('a vote in the current term is persisted although the term does not change', () => {
    const node = make(2, { hardState: { term: 2, vote: 0, commit: 0 } });
    node.step(msg.vote(1, 2, 2, 0, 0));
    const out = drain(node);
    expect(out.hardStates).toEqual([{ term: 2, vote: 1, commit: 0 }]);
    expect(out.persisted).toEqual([msg.voteResp(2, 1, 2, false)]);
  });

  it('refuses a candidate whose log is behind, answering with its own term', () => {
    const node = make(2, { entries: [normal(1, 1), normal(2, 2)], hardState: { term: 2, vote: 0, commit: 0 } });
    node.step(msg.vote(1, 2, 3, 5, 1));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 1, 3, true)]);
    node.step(msg.vote(3, 2, 3, 1, 2));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 3, 3, true)]);
    node.step(msg.vote(3, 2, 3, 2, 2));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 3, 3, false)]);
    expect(node.status().vote).toBe(3);
  });

  it('a granted vote restarts the election timer', () => {
    const node = make(2, { config: { checkQuorum: false } });
    for (let t = 0; t < 9; t++) node.tick();
    node.step(msg.vote(1, 2, 1, 0, 0));
    drain(node);
    for (let t = 0; t < 9; t++) node.tick();
    expect(node.status().role).toBe('follower');
    node.tick();
    expect(node.status().role).toBe('preCandidate');
  });

  it('does not vote in a term where it knows a leader', () => {
    const node = make(2, { config: { checkQuorum: false } });
    node.step(msg.heartbeat(1, 2, 1, 0));
    drain(node);
    node.step(msg.vote(3, 2, 1, 0, 0));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 3, 1, true)]);
  });

  it('grants a PreVote for a future term without changing term or vote', () => {
    const node = make(2, { hardState: { term: 3, vote: 3, commit: 0 }, config: { checkQuorum: false } });
    node.step(msg.preVote(1, 2, 4, 0, 0));
    const out = drain(node);
    expect(out.persisted).toEqual([msg.preVoteResp(2, 1, 4, false)]);
    expect(out.hardStates).toEqual([]);
    expect(node.status().term).toBe(3);
    expect(node.status().vote).toBe(3);
    // A PreVote for the current term from another candidate is refused (we voted for 3).
    node.step(msg.preVote(1, 2, 3, 0, 0));
    expect(drain(node).persisted).toEqual([msg.preVoteResp(2, 1, 3, true)]);
  });

  it('a granted PreVote does not reset the election timer', () => {
    const node = make(2, { config: { checkQuorum: false } });
    for (let t = 0; t < 9; t++) node.tick();
    node.step(msg.preVote(1, 2, 1, 0, 0));
    drain(node);
    node.tick();
    expect(node.status().role).toBe('preCandidate');
  });

  it('refuses a stale PreVote with its term, and ignores a stale vote', () => {
    const node = make(2, { hardState: { term: 5, vote: 0, commit: 0 } });
    node.step(msg.preVote(1, 2, 4, 9, 9));
    expect(drain(node).persisted).toEqual([msg.preVoteResp(2, 1, 5, true)]);
    node.step(msg.vote(1, 2, 4, 9, 9));
    const out = drain(node);
    expect(out.persisted).toEqual([]);
    expect(out.messages).toEqual([]);
  });
});

describe('the leader lease on votes (thesis §4.2.3)', () => {
  it('a follower that hears its leader ignores (Pre)Vote requests of a higher term', () => {
    const node = make(2);
    node.step(msg.heartbeat(1, 2, 1, 0));
    drain(node);
    for (let t = 0; t < 9; t++) node.tick();
    node.step(msg.preVote(3, 2, 2, 0, 0));
    node.step(msg.vote(3, 2, 2, 0, 0));
    const out = drain(node);
    expect(out.persisted).toEqual([]);
    expect(node.status().term).toBe(1);
    expect(node.status().leader).toBe(1);
  });

  it('the lease ends after electionTicks without the leader', () => {
    const node = make(2, { config: { preVote: false } });
    node.step(msg.heartbeat(1, 2, 1, 0));
    drain(node);
    // Ticks 1..9 keep the lease; tick 10 ends it (and starts an election, which we ignore).
    for (let t = 0; t < 10; t++) node.tick();
    drain(node);
    const term = node.status().term;
    node.step(msg.vote(3, 2, term + 1, 0, 0));
    expect(node.status().term).toBe(term + 1);
  });

  it('a forced (transfer) vote is heard inside the lease', () => {
    const node = make(2);
    node.step(msg.heartbeat(1, 2, 1, 0));
    drain(node);
    node.step(msg.vote(3, 2, 2, 0, 0, true));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 3, 2, false)]);
    expect(node.status().term).toBe(2);
  });

  it('without CheckQuorum there is no lease', () => {
    const node = make(2, { config: { checkQuorum: false } });
    node.step(msg.heartbeat(1, 2, 1, 0));
    drain(node);
    node.step(msg.vote(3, 2, 2, 0, 0));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 3, 2, false)]);
  });

  it('a node that knows no leader is not in a lease', () => {
    const node = make(2);
    node.step(msg.vote(3, 2, 1, 0, 0));
    expect(drain(node).persisted).toEqual([msg.voteResp(2, 3, 1, false)]);
  });
});

describe('terms of incoming messages', () => {
  it('ignores messages for another group or another node', () => {
    const node = make(2);
    node.step({ ...msg.heartbeat(1, 2, 5, 0), group: 2 });
    node.step(msg.heartbeat(1, 3, 5, 0));
    expect(node.status().term).toBe(0);
    expect(node.hasReady()).toBe(false);
  });

  it('an append of a higher term makes the node follow its sender', () => {
    const node = make(2);
    node.step(msg.append(1, 2, 3, 0, 0, [], 0));
    expect(node.status().term).toBe(3);
    expect(node.status().leader).toBe(1);
    const out = drain(node);
    expect(out.persisted).toEqual([msg.appendResp(2, 1, 3, 0)]);
  });

  it('a snapshot of a higher term makes the node follow its sender', () => {
    const node = make(2);
    node.step(msg.snapshot(3, 2, 4, { meta: { index: 5, term: 4, confState: { voters: [1, 2, 3], learners: [], removed: [] } }, data: new Uint8Array(0) }));
    expect(node.status().leader).toBe(3);
    expect(node.status().term).toBe(4);
  });

  it('an appendResp of a higher term deposes a leader, with no leader known', () => {
    const node = leader();
    node.step(msg.appendResp(2, 1, 7, 0));
    expect(node.status().role).toBe('follower');
    expect(node.status().term).toBe(7);
    expect(node.status().leader).toBe(0);
  });

  it('a stale append or heartbeat is answered with our term so the old leader learns it', () => {
    const node = make(2, { hardState: { term: 5, vote: 0, commit: 0 } });
    node.step(msg.append(1, 2, 4, 0, 0, [], 0));
    node.step(msg.heartbeat(1, 2, 3, 0));
    const out = drain(node);
    expect(out.persisted).toEqual([msg.appendResp(2, 1, 5, 0), msg.appendResp(2, 1, 5, 0)]);
    expect(node.status().leader).toBe(0);
  });

  it('with PreVote alone the stale leader is told as well; with neither, nothing is said', () => {
    const pre = make(2, { hardState: { term: 5, vote: 0, commit: 0 }, config: { checkQuorum: false } });
    pre.step(msg.heartbeat(1, 2, 3, 0));
    expect(drain(pre).persisted).toHaveLength(1);
    const cq = make(2, { hardState: { term: 5, vote: 0, commit: 0 }, config: { preVote: false } });
    cq.step(msg.heartbeat(1, 2, 3, 0));
    expect(drain(cq).persisted).toHaveLength(1);
    const none = make(2, { hardState: { term: 5, vote: 0, commit: 0 }, config: { checkQuorum: false, preVote: false } });
    none.step(msg.heartbeat(1, 2, 3, 0));
    none.step(msg.preVote(1, 2, 3, 0, 0));
    // The stale PreVote is still refused explicitly.
    expect(drain(none).persisted).toEqual([msg.preVoteResp(2, 1, 5, true)]);
  });

  it('other stale messages are dropped', () => {
    const node = leader();
    const term = node.status().term;
    node.step(msg.appendResp(2, 1, term - 1, 1, true, 0, 0));
    node.step(msg.heartbeatResp(2, 1, term - 1));
    node.step(msg.timeoutNow(2, 1, term - 1));
    expect(node.status().role).toBe('leader');
    expect(drain(node).messages).toEqual([]);
  });
});

describe('CheckQuorum (thesis §6.2)', () => {
  it('a leader steps down exactly electionTicks after it last heard from a majority', () => {
    const node = leader({ voters: [1, 2, 3, 4, 5] });
    // The no-op acknowledgements made everyone recently active; the first check passes and
    // clears the flags.
    for (let t = 0; t < 10; t++) node.tick();
    expect(node.status().role).toBe('leader');
    expect(node.status().progress.filter((p) => p.recentActive).map((p) => p.id)).toEqual([1]);
    drain(node);
    node.step(msg.heartbeatResp(2, 1, 1));
    node.step(msg.heartbeatResp(3, 1, 1));
    for (let t = 0; t < 10; t++) node.tick();
    expect(node.status().role).toBe('leader');
    drain(node);
    node.step(msg.heartbeatResp(2, 1, 1));
    for (let t = 0; t < 9; t++) node.tick();
    expect(node.status().role).toBe('leader');
    node.tick();
    expect(node.status().role).toBe('follower');
    expect(node.status().leader).toBe(0);
    expect(node.status().term).toBe(1);
  });

  it('without CheckQuorum a lonely leader stays', () => {
    const node = leader({ config: { checkQuorum: false } });
    for (let t = 0; t < 50; t++) node.tick();
    expect(node.status().role).toBe('leader');
  });

  it('an append response counts as activity', () => {
    const node = leader();
    for (let t = 0; t < 10; t++) node.tick();
    drain(node);
    node.step(msg.appendResp(3, 1, 1, 1));
    for (let t = 0; t < 10; t++) node.tick();
    expect(node.status().role).toBe('leader');
  });
});

describe('leader heartbeats', () => {
  it('go out every heartbeatTicks, carrying min(match, commit)', () => {
    const node = leader({ config: { heartbeatTicks: 2, electionTicks: 10 }, commitNoop: false });
    node.step(msg.appendResp(2, 1, 1, 1));
    drain(node);
    node.tick();
    expect(ofType(drain(node).messages, 'heartbeat')).toEqual([]);
    node.tick();
    const beats = ofType(drain(node).messages, 'heartbeat');
    expect(beats.map((m) => [m.to, m.commit, m.readRound, m.term])).toEqual([[2, 1, 0, 1], [3, 0, 0, 1]]);
    node.tick();
    expect(ofType(drain(node).messages, 'heartbeat')).toEqual([]);
    node.tick();
    expect(ofType(drain(node).messages, 'heartbeat')).toHaveLength(2);
  });

  it('a follower commits what a heartbeat says, but never beyond its log, and answers after persisting', () => {
    const node = make(2, { entries: [normal(1, 1), normal(2, 1)], hardState: { term: 1, vote: 0, commit: 0 } });
    node.step(msg.heartbeat(1, 2, 1, 5, 4));
    expect(node.status().commit).toBe(2);
    const out = drain(node);
    expect(out.persisted).toEqual([msg.heartbeatResp(2, 1, 1, 4)]);
    expect(out.committed.map((e) => e.index)).toEqual([1, 2]);
    expect(out.hardStates).toEqual([{ term: 1, vote: 0, commit: 2 }]);
  });

  it('a heartbeat restarts the follower election timer', () => {
    const node = make(2);
    for (let t = 0; t < 9; t++) node.tick();
    node.step(msg.heartbeat(1, 2, 1, 0));
    drain(node);
    for (let t = 0; t < 9; t++) node.tick();
    expect(node.status().role).toBe('follower');
    node.tick();
    expect(node.status().role).toBe('preCandidate');
  });

  it('a candidate that hears a leader of its term follows it', () => {
    const node = make(1, { config: { preVote: false } });
    for (let t = 0; t < 10; t++) node.tick();
    drain(node);
    node.step(msg.heartbeat(2, 1, 1, 0));
    expect(node.status().role).toBe('follower');
    expect(node.status().leader).toBe(2);
    expect(node.status().vote).toBe(1);
  });
});
