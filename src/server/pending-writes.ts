// The leader's proposals waiting for their entry to be applied, so the client that sent each one
// gets the reply its entry produced.
//
// A leader proposes at increasing indexes, and entries are applied in index order, so the
// proposals are kept in a queue in index order (parallel arrays: no object per write) and settled
// from its head: applying entry k answers the proposal at k (if its term matches; else another
// leader's entry took the index) and every proposal below k still queued (those indexes were
// applied as other entries). Every operation is O(1) per proposal it settles, where a Map keyed by
// index cost a hash insert, lookup and delete per write, and a scan of every waiting proposal
// after every applied batch and every tick.
//
// The exception: a node that lost leadership while its proposals at indexes i..j were unapplied,
// had them truncated from its log by the next leader, and became leader again before applying
// index i, proposes at indexes it already has proposals for. Both proposals stay until their
// index is applied, when the term decides which one it was (the old one could still be committed,
// by a later leader that has it). The older ones move to `displaced`, a list scanned only while it
// is not empty. (With a Map keyed by index, the new proposal replaced the old one, whose client
// then never got a reply.)

import type { Reply } from '../resp/reply.js';
import type { Completion } from './executor.js';

/** Entries the queue's head may get ahead of its arrays' start before they are compacted. */
const COMPACT_MIN = 1024;

interface Displaced {
  readonly index: number;
  readonly term: number;
  readonly completion: Completion;
  readonly deadline: number;
}

export class PendingWrites {
  private indexes: number[] = [];
  private terms: number[] = [];
  private completions: (Completion | undefined)[] = [];
  private deadlines: number[] = [];
  private head = 0;
  private displaced: Displaced[] = [];

  get size(): number {
    return this.indexes.length - this.head + this.displaced.length;
  }

  /** The proposal at `index`, of `term`, answered by `completion`, failing after `deadline`. */
  add(index: number, term: number, completion: Completion, deadline: number): void {
    const indexes = this.indexes;
    while (indexes.length > this.head && indexes[indexes.length - 1]! >= index) {
      this.displaced.push({ index: indexes.pop()!, term: this.terms.pop()!, completion: this.completions.pop()!, deadline: this.deadlines.pop()! });
    }
    indexes.push(index);
    this.terms.push(term);
    this.completions.push(completion);
    this.deadlines.push(deadline);
  }

  /**
   * Entry `index` of `term` was applied and produced `reply`: answers the proposal there with it
   * if it was that entry, else with `lost`, and answers every proposal below `index` with `lost`.
   */
  applied(index: number, term: number, reply: Reply, lost: Reply): void {
    const indexes = this.indexes;
    while (this.head < indexes.length) {
      const at = indexes[this.head]!;
      if (at > index) break;
      const matched = at === index && this.terms[this.head] === term;
      this.shift().complete(matched ? reply : lost);
    }
    if (this.displaced.length > 0) this.settleDisplaced(index, (pending) => (pending.index === index && pending.term === term ? reply : lost));
  }

  /** Answers every proposal at or below `index` with `lost` (entries applied were not ours). */
  failThrough(index: number, lost: Reply): void {
    this.settleThrough(index, () => lost);
  }

  /**
   * Answers every proposal at or below `index` with `answer(term)`: a snapshot covered them, so
   * only their terms say what became of them.
   */
  settleThrough(index: number, answer: (term: number) => Reply): void {
    const indexes = this.indexes;
    while (this.head < indexes.length && indexes[this.head]! <= index) {
      const term = this.terms[this.head]!;
      this.shift().complete(answer(term));
    }
    if (this.displaced.length > 0) this.settleDisplaced(index, (pending) => answer(pending.term));
  }

  /** Answers with `reply` every proposal whose deadline is at or before `now`. */
  expire(now: number, reply: Reply): void {
    // Deadlines grow in the order proposals were added, which is the queue's order. (If the wall
    // clock steps back, a later proposal's deadline can be earlier: it then times out when the
    // ones before it do, late by at most the step.)
    while (this.head < this.indexes.length && this.deadlines[this.head]! <= now) this.shift().complete(reply);
    if (this.displaced.length > 0) {
      const expired = this.displaced.filter((pending) => pending.deadline <= now);
      if (expired.length > 0) {
        this.displaced = this.displaced.filter((pending) => pending.deadline > now);
        for (const pending of expired) pending.completion.complete(reply);
      }
    }
  }

  /** Answers every proposal with `reply` (the node is stopping). */
  failAll(reply: Reply): void {
    this.expire(Infinity, reply);
  }

  private shift(): Completion {
    const at = this.head;
    const completion = this.completions[at]!;
    this.completions[at] = undefined;
    this.head = at + 1;
    if (this.head === this.indexes.length) {
      this.indexes.length = 0;
      this.terms.length = 0;
      this.completions.length = 0;
      this.deadlines.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_MIN && this.head * 2 >= this.indexes.length) {
      this.indexes.splice(0, this.head);
      this.terms.splice(0, this.head);
      this.completions.splice(0, this.head);
      this.deadlines.splice(0, this.head);
      this.head = 0;
    }
    return completion;
  }

  private settleDisplaced(index: number, answer: (pending: Displaced) => Reply): void {
    const settled = this.displaced.filter((pending) => pending.index <= index);
    if (settled.length === 0) return;
    this.displaced = this.displaced.filter((pending) => pending.index > index);
    for (const pending of settled) pending.completion.complete(answer(pending));
  }
}
