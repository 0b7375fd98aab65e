// Asynchronous storage writes (src/raft/raft.ts: advance(false) and persisted()): the driver
// hands a Ready's entries to its disk and goes on; the core must not hand the same entries out
// again, must not count the leader's own copy toward a commit before persisted(), must hand out
// for applying only what is durable here too, and must ignore a persisted() for entries a newer
// leader replaced. Driven by hand on real cores (harness.ts).
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/raft/types.js';
import { Net, bytes } from './harness.js';

function appendAcks(messages: readonly Message[]): Message[] {
  return messages.filter((m) => m.type === 'appendResp');
}

describe('asynchronous storage writes', () => {
  it('hands each entry out once, and commits the leader\'s own copy only once persisted', () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.tickAll(2);
    const raft = net.node(leader);
    const base = raft.status().lastIndex;
    raft.propose(bytes('a'));
    const first = raft.ready();
    expect(first.entries.map((e) => e.index)).toEqual([base + 1]);
    raft.advance(false);
    // Nothing new: the entry being written is not handed out again.
    raft.propose(bytes('b'));
    const second = raft.ready();
    expect(second.entries.map((e) => e.index)).toEqual([base + 2]);
    raft.advance(false);
    // Isolated from its followers, the leader alone is no majority: persisted() moves its own
    // match but commits nothing; it is counted, and nothing is handed out to apply.
    const commitBefore = raft.status().commit;
    raft.persisted(base + 2, raft.status().term);
    expect(raft.status().commit).toBe(commitBefore);
    expect(raft.status().progress.find((p) => p.id === leader)?.match).toBe(base + 2);
  });

  it('applies nothing above the durable index, even once a majority of followers has it', () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.tickAll(2);
    const raft = net.node(leader);
    const term = raft.status().term;
    raft.propose(bytes('x'));
    const rd = raft.ready();
    const index = rd.entries[0]!.index;
    raft.advance(false);
    // Both followers store and acknowledge the entry.
    for (const m of rd.messages) net.node(m.to).step(m);
    const acks: Message[] = [];
    for (const id of [1, 2, 3].filter((n) => n !== leader)) {
      const frd = net.node(id).ready();
      acks.push(...appendAcks(frd.persistMessages));
      net.node(id).advance();
    }
    expect(acks.length).toBe(2);
    for (const ack of acks) raft.step(ack);
    // Committed (two followers are a majority of three) but not durable on the leader.
    expect(raft.status().commit).toBe(index);
    const before = raft.ready();
    expect(before.committedEntries.map((e) => e.index)).not.toContain(index);
    raft.advance(false);
    raft.persisted(index, term);
    const after = raft.ready();
    expect(after.committedEntries.map((e) => e.index)).toContain(index);
    raft.advance(false);
  });

  it('ignores persisted() for entries that a newer leader replaced', () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.tickAll(2);
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const f = net.node(follower);
    const term = f.status().term;
    const last = f.status().lastIndex;
    // An append the follower takes, and starts to write asynchronously.
    f.step({ type: 'append', group: 1, from: leader, to: follower, term, prevIndex: last, prevTerm: term, commit: f.status().commit,
      entries: [{ index: last + 1, term, kind: 'normal', data: bytes('old') }] });
    const rd = f.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([last + 1]);
    f.advance(false);
    // A leader of a later term shows up: a new term is written synchronously (Ready.synchronous).
    f.step({ type: 'heartbeat', group: 1, from: leader, to: follower, term: term + 1, commit: f.status().commit, readRound: 0 });
    const newTerm = f.ready();
    expect(newTerm.synchronous).toBe(true);
    expect(() => f.advance(false)).toThrow(/synchronous/);
    f.advance();
    // It replaces that entry before the old write completes.
    f.step({ type: 'append', group: 1, from: leader, to: follower, term: term + 1, prevIndex: last, prevTerm: term, commit: f.status().commit,
      entries: [{ index: last + 1, term: term + 1, kind: 'normal', data: bytes('new') }] });
    const replaced = f.ready();
    expect(replaced.synchronous).toBe(false);
    expect(replaced.entries.map((e) => [e.index, e.term])).toEqual([[last + 1, term + 1]]);
    f.advance(false);
    // The old write completes: it must not make the replacement count as durable.
    f.persisted(last + 1, term);
    f.step({ type: 'heartbeat', group: 1, from: leader, to: follower, term: term + 1, commit: last + 1, readRound: 0 });
    const next = f.ready();
    expect(next.committedEntries.map((e) => e.index)).not.toContain(last + 1);
    f.advance(false);
    f.persisted(last + 1, term + 1);
    const durable = f.ready();
    expect(durable.committedEntries.map((e) => e.data)).toEqual([bytes('new')]);
    f.advance(false);
  });

  it('refuses advance(false) for a Ready that carries a snapshot', () => {
    const net = new Net([1, 2]);
    const leader = net.electLeader();
    net.tickAll(2);
    const follower = leader === 1 ? 2 : 1;
    const f = net.node(follower);
    const status = f.status();
    f.step({ type: 'snapshot', group: 1, from: leader, to: follower, term: status.term,
      snapshot: { meta: { index: status.lastIndex + 5, term: status.term, confState: status.confState }, data: bytes('image') } });
    const rd = f.ready();
    expect(rd.snapshot).toBeDefined();
    expect(() => f.advance(false)).toThrow(/snapshot/);
  });
});

describe('asynchronous storage writes: the guards (survivors of a mutation run on the new code)', () => {
  it('marks a new term with the same vote, and a new vote in the same term, synchronous', () => {
    const net = new Net([1, 2, 3]);
    const raft = net.node(2);
    // Term 1 learned from a stray vote answer: the vote stays 0, and no leader is known.
    raft.step({ type: 'voteResp', group: 1, from: 3, to: 2, term: 1, reject: true });
    const first = raft.ready();
    expect(first.hardState).toMatchObject({ term: 1, vote: 0 });
    expect(first.synchronous).toBe(true);
    raft.advance();
    // A new vote in the same term.
    raft.step({ type: 'vote', group: 1, from: 3, to: 2, term: 1, lastLogIndex: 5, lastLogTerm: 1, transfer: false });
    const vote = raft.ready();
    expect(vote.hardState).toMatchObject({ term: 1, vote: 3 });
    expect(vote.synchronous).toBe(true);
    raft.advance();
    // Only the commit index moving is not synchronous; a new term with vote 0 again is.
    raft.step({ type: 'heartbeat', group: 1, from: 1, to: 2, term: 2, commit: 0, readRound: 0 });
    const second = raft.ready();
    expect(second.hardState).toMatchObject({ term: 2, vote: 0 });
    expect(second.synchronous).toBe(true);
    raft.advance();
  });

  it('ignores persisted() for entries not yet handed out, and never moves the durable mark back', () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.tickAll(2);
    const raft = net.node(leader);
    const term = raft.status().term;
    const base = raft.status().lastIndex;
    const selfMatch = (): number | undefined => raft.status().progress.find((p) => p.id === leader)?.match;
    raft.propose(bytes('a'));
    // Not handed out in a Ready yet: a completion for it cannot be real.
    raft.persisted(base + 1, term);
    expect(selfMatch()).toBe(base);
    const one = raft.ready();
    raft.advance(false);
    raft.propose(bytes('b'));
    const two = raft.ready();
    raft.advance(false);
    raft.persisted(base + 2, term);
    expect(selfMatch()).toBe(base + 2);
    // A late completion of the first write must not lower the durable mark: once the followers
    // have both entries, both are handed out to apply.
    raft.persisted(base + 1, term);
    for (const m of [...one.messages, ...two.messages]) if (m.type === 'append') net.node(m.to).step(m);
    for (const id of [1, 2, 3].filter((n) => n !== leader)) {
      const frd = net.node(id).ready();
      for (const ack of frd.persistMessages) if (ack.type === 'appendResp') raft.step(ack);
      net.node(id).advance();
    }
    expect(raft.status().commit).toBe(base + 2);
    const rd = raft.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([base + 1, base + 2]);
    raft.advance(false);
  });

  it('lowers the in-progress mark to a snapshot that replaces a log handed out beyond it', () => {
    const net = new Net([1, 2, 3]);
    const raft = net.node(2);
    raft.step({ type: 'append', group: 1, from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0,
      entries: [1, 2, 3, 4, 5].map((index) => ({ index, term: 1, kind: 'normal' as const, data: bytes(`e${index}`) })) });
    const appended = raft.ready();
    raft.advance();
    expect(appended.entries).toHaveLength(5);
    // A snapshot at 3 from a leader of term 2, whose log differs after it.
    const conf = raft.status().confState;
    raft.step({ type: 'snapshot', group: 1, from: 3, to: 2, term: 2, snapshot: { meta: { index: 3, term: 2, confState: conf }, data: bytes('image') } });
    const rd = raft.ready();
    expect(rd.snapshot?.meta.index).toBe(3);
    raft.advance();
    expect(raft.status().lastIndex).toBe(3);
  });
});

describe('reportLogLost', () => {
  it('probes the peer at once from the end of the log, and is ignored for the leader itself', () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.tickAll(3);
    const raft = net.node(leader);
    const peer = [1, 2, 3].find((id) => id !== leader)!;
    const last = raft.status().lastIndex;
    const progress = (id: number) => raft.status().progress.find((p) => p.id === id);
    expect(progress(peer)?.match).toBe(last);
    raft.reportLogLost(leader);
    expect(progress(leader)?.match).toBe(last);
    raft.reportLogLost(peer);
    expect(progress(peer)?.match).toBe(0);
    const rd = raft.ready();
    const probe = rd.messages.find((m) => m.type === 'append' && m.to === peer);
    expect(probe).toMatchObject({ prevIndex: last });
    raft.advance();
  });
});
