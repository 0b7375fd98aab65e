// The leader's proposals waiting for their entries (src/server/pending-writes.ts): each client
// gets exactly one reply, the one its own entry produced, or an error saying what became of it.
import { describe, expect, it } from 'vitest';
import type { Reply } from '../../src/resp/reply.js';
import type { Completion } from '../../src/server/executor.js';
import { PendingWrites } from '../../src/server/pending-writes.js';

const LOST: Reply = { kind: 'error', value: 'ERR lost' };
const TIMEOUT: Reply = { kind: 'error', value: 'TIMEOUT' };
const ok = (index: number): Reply => ({ kind: 'integer', value: index });

/** Completions that record their replies, and fail a test that answers one twice. */
function recorder(): { completion: (name: string) => Completion; replies: Map<string, Reply> } {
  const replies = new Map<string, Reply>();
  return {
    replies,
    completion: (name) => ({
      complete(reply: Reply): void {
        if (replies.has(name)) throw new Error(`${name} answered twice`);
        replies.set(name, reply);
      },
    }),
  };
}

describe('pending writes', () => {
  it('answers each proposal with the reply of its entry, in order, and counts what waits', () => {
    const { completion, replies } = recorder();
    const pending = new PendingWrites();
    for (let index = 10; index < 15; index++) pending.add(index, 2, completion(`w${index}`), 1000);
    expect(pending.size).toBe(5);
    pending.applied(10, 2, ok(10), LOST);
    pending.applied(11, 2, ok(11), LOST);
    expect(pending.size).toBe(3);
    expect([...replies]).toEqual([['w10', ok(10)], ['w11', ok(11)]]);
  });

  it('answers lost when another term\'s entry took the index, and for proposals below an applied index', () => {
    const { completion, replies } = recorder();
    const pending = new PendingWrites();
    for (let index = 1; index <= 4; index++) pending.add(index, 3, completion(`w${index}`), 1000);
    // Index 1 was another leader's entry; 2 was a no-op (never "applied" as a normal entry); 3 ours.
    pending.applied(1, 4, ok(1), LOST);
    pending.applied(3, 3, ok(3), LOST);
    expect(replies.get('w1')).toEqual(LOST);
    expect(replies.get('w2')).toEqual(LOST);
    expect(replies.get('w3')).toEqual(ok(3));
    pending.failThrough(4, LOST);
    expect(replies.get('w4')).toEqual(LOST);
    expect(pending.size).toBe(0);
  });

  it('keeps both proposals when a re-elected leader proposes at an index it already waits on, and lets the term decide', () => {
    for (const winner of ['old', 'new'] as const) {
      const { completion, replies } = recorder();
      const pending = new PendingWrites();
      // Term 5: proposals at 101..103, then truncated by term 6's leader; re-elected in term 7
      // before applying them, this node proposes at 101 and 102 again.
      for (let index = 101; index <= 103; index++) pending.add(index, 5, completion(`old${index}`), 1000);
      pending.add(101, 7, completion('new101'), 2000);
      pending.add(102, 7, completion('new102'), 2000);
      expect(pending.size).toBe(5);
      // The entry committed at 101 is one of them; the other proposal there is lost.
      pending.applied(101, winner === 'old' ? 5 : 7, ok(101), LOST);
      expect(replies.get('old101')).toEqual(winner === 'old' ? ok(101) : LOST);
      expect(replies.get('new101')).toEqual(winner === 'old' ? LOST : ok(101));
      pending.applied(102, 7, ok(102), LOST);
      expect(replies.get('old102')).toEqual(LOST);
      expect(replies.get('new102')).toEqual(ok(102));
      pending.failThrough(103, LOST);
      expect(replies.get('old103')).toEqual(LOST);
      expect(replies.size).toBe(5);
      expect(pending.size).toBe(0);
    }
  });

  it('times out proposals whose deadline passed, displaced ones included, and no others', () => {
    const { completion, replies } = recorder();
    const pending = new PendingWrites();
    pending.add(1, 1, completion('a'), 100);
    pending.add(2, 1, completion('b'), 200);
    pending.add(3, 1, completion('c'), 300);
    pending.add(2, 2, completion('b2'), 400);
    pending.expire(200, TIMEOUT);
    expect([...replies.keys()].sort()).toEqual(['a', 'b']);
    expect(pending.size).toBe(2);
    pending.expire(399, TIMEOUT);
    expect(replies.get('c')).toEqual(TIMEOUT);
    pending.applied(2, 2, ok(2), LOST);
    expect(replies.get('b2')).toEqual(ok(2));
    expect(pending.size).toBe(0);
  });

  it('settles proposals a snapshot covered by their terms, and fails everything when stopping', () => {
    const { completion, replies } = recorder();
    const pending = new PendingWrites();
    pending.add(5, 1, completion('t1'), 1000);
    pending.add(6, 2, completion('t2'), 1000);
    pending.add(7, 3, completion('t3'), 1000);
    pending.add(9, 3, completion('after'), 1000);
    pending.settleThrough(8, (term) => ({ kind: 'error', value: `term ${term}` }));
    expect([...replies]).toEqual([['t1', { kind: 'error', value: 'term 1' }], ['t2', { kind: 'error', value: 'term 2' }], ['t3', { kind: 'error', value: 'term 3' }]]);
    pending.failAll(TIMEOUT);
    expect(replies.get('after')).toEqual(TIMEOUT);
    expect(pending.size).toBe(0);
  });

  it('stays exact across many proposals applied in batches while more are added (the arrays compact)', () => {
    const { completion, replies } = recorder();
    const pending = new PendingWrites();
    let next = 1;
    let applied = 0;
    for (let round = 0; round < 50; round++) {
      for (let k = 0; k < 300; k++, next++) pending.add(next, 1, completion(`w${next}`), next);
      const through = applied + 250;
      for (; applied < through; ) {
        applied++;
        pending.applied(applied, 1, ok(applied), LOST);
      }
      expect(pending.size).toBe(next - 1 - applied);
    }
    for (let index = 1; index <= applied; index++) expect(replies.get(`w${index}`)).toEqual(ok(index));
    // The rest time out in deadline order: deadlines here equal the indexes.
    pending.expire(applied + 10, TIMEOUT);
    expect(pending.size).toBe(next - 1 - applied - 10);
    for (let index = applied + 1; index <= applied + 10; index++) expect(replies.get(`w${index}`)).toEqual(TIMEOUT);
    expect(replies.has(`w${applied + 11}`)).toBe(false);
  });

  it('lets a reply\'s completion add a proposal while proposals are being answered', () => {
    const { completion, replies } = recorder();
    const pending = new PendingWrites();
    const inner = completion('inner');
    pending.add(1, 1, { complete: (reply) => { completion('outer').complete(reply); pending.add(3, 1, inner, 5000); } }, 10);
    pending.add(2, 1, completion('second'), 10);
    pending.expire(10, TIMEOUT);
    expect(replies.get('outer')).toEqual(TIMEOUT);
    expect(replies.get('second')).toEqual(TIMEOUT);
    expect(pending.size).toBe(1);
    pending.applied(3, 1, ok(3), LOST);
    expect(replies.get('inner')).toEqual(ok(3));
  });
});
