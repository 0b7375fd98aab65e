// The in-memory Raft log of one node: a snapshot point followed by the entries after it, with
// the marks that say which part is durable, committed and applied.
//
// Invariants (checked by assertCoherent):
//   snapshotIndex <= applied <= committed <= lastIndex
//   stableIndex <= inProgressIndex <= lastIndex
//   entries[k].index === snapshotIndex + 1 + k
import type { Entry, Snapshot } from './types.js';
import { assert } from './assert.js';

/** Bytes an entry counts for in flow control: its payload plus a fixed header estimate. */
export function entrySize(entry: Entry): number {
  return entry.data.length + (entry.change ? entry.change.context.length + 16 : 0) + 24;
}

export class RaftLog {
  private entries: Entry[] = [];
  snapshotIndex = 0;
  snapshotTerm = 0;
  /** Highest index known committed (Raft §5.3). Never decreases. */
  committed = 0;
  /** Highest index the driver has applied to its state machine. Never decreases. */
  applied = 0;
  /** Highest index known durable on this node's disk. */
  stableIndex = 0;
  /**
   * Highest index handed to the driver to persist. Above stableIndex while a write the driver
   * runs asynchronously (advance(false)) is under way; the next Ready carries only what follows.
   */
  inProgressIndex = 0;
  /** A snapshot received from the leader that the driver must persist and install. */
  pendingSnapshot: Snapshot | undefined;

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, () => `no term for last index ${this.lastIndex()}`);
    return term;
  }

  /** The term of the entry at `index`, or undefined if compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    return this.entryAt(index).term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  entryAt(index: number): Entry {
    const entry = this.entries[index - this.snapshotIndex - 1];
    assert(entry !== undefined, () => `no entry at ${index} (first ${this.firstIndex()}, last ${this.lastIndex()})`);
    return entry;
  }

  /**
   * Entries in [from, to), at most `maxBytes` of them but always at least one when the range is
   * not empty. `from` must not be compacted.
   */
  slice(from: number, to: number, maxBytes = Infinity): Entry[] {
    assert(from >= this.firstIndex(), () => `slice from ${from} below first index ${this.firstIndex()}`);
    assert(to <= this.lastIndex() + 1, () => `slice to ${to} beyond last index ${this.lastIndex()}`);
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = from; index < to; index++) {
      const entry = this.entryAt(index);
      bytes += entrySize(entry);
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  /** Entries not yet durable and not yet handed to the driver to persist. */
  unstableEntries(): Entry[] {
    const from = Math.max(this.inProgressIndex + 1, this.firstIndex());
    if (from > this.lastIndex()) return [];
    return this.entries.slice(from - this.snapshotIndex - 1);
  }

  /** Appends entries that continue the log (the leader's own proposals). */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) this.appendOne(entry);
  }

  /** append() of one entry, without an array around it. */
  appendOne(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, () => `append ${entry.index} after last ${this.lastIndex()}`);
    this.entries.push(entry);
  }

  /**
   * A follower's handling of an append (Raft §5.3): if the entry at prevIndex has prevTerm,
   * drop any conflicting suffix, append what is new, and return the last index the append
   * proves to match. Returns undefined if prevIndex/prevTerm does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNewIndex = prevIndex + entries.length;
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k] as Entry;
      assert(entry.index === prevIndex + 1 + k, () => `append entry ${k} has index ${entry.index}, expected ${prevIndex + 1 + k}`);
      if (entry.index <= this.snapshotIndex) continue;
      const existing = this.term(entry.index);
      if (existing === entry.term) continue;
      if (existing !== undefined) {
        // Raft §5.3: a conflicting entry and all that follow it are deleted. Committed entries
        // never conflict (Log Matching + Leader Completeness); if one does, it is a bug.
        assert(entry.index > this.committed,
          () => `conflicting entry at ${entry.index} (term ${existing} vs ${entry.term}) is committed (commit ${this.committed})`);
        this.truncateFrom(entry.index);
      }
      this.append(entries.slice(k));
      break;
    }
    return lastNewIndex;
  }

  private truncateFrom(index: number): void {
    this.entries.length = index - this.snapshotIndex - 1;
    if (this.stableIndex >= index) this.stableIndex = index - 1;
    if (this.inProgressIndex >= index) this.inProgressIndex = index - 1;
  }

  /**
   * The highest index the driver may apply: committed (durable on a majority) and durable
   * here too, so a snapshot of the applied state never runs ahead of this node's own log.
   */
  applyableIndex(): number {
    return Math.min(this.committed, this.stableIndex);
  }

  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term`, with that term.
   * The leader uses it on a rejection hint to skip a whole term of mismatches at once.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let at = Math.min(index, this.lastIndex()); at >= this.snapshotIndex; at--) {
      const atTerm = this.term(at);
      if (atTerm === undefined) break;
      if (atTerm <= term) return { index: at, term: atTerm };
    }
    return { index: this.snapshotIndex, term: 0 };
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.committed,
      () => `restoring snapshot ${snapshot.meta.index} at or below commit ${this.committed}`);
    this.entries = [];
    this.snapshotIndex = snapshot.meta.index;
    this.snapshotTerm = snapshot.meta.term;
    this.committed = snapshot.meta.index;
    this.stableIndex = Math.min(this.stableIndex, snapshot.meta.index);
    this.inProgressIndex = Math.min(this.inProgressIndex, snapshot.meta.index);
    this.pendingSnapshot = snapshot;
  }

  /** Drops entries up to `index`, which must be applied and durable. */
  compactTo(index: number): void {
    if (index <= this.snapshotIndex) return;
    assert(index <= this.applied, () => `compact ${index} beyond applied ${this.applied}`);
    assert(index <= this.stableIndex, () => `compact ${index} beyond stable ${this.stableIndex}`);
    const term = this.term(index);
    assert(term !== undefined, () => `no term for compaction index ${index}`);
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }

  assertCoherent(): void {
    assert(this.snapshotIndex <= this.applied || this.pendingSnapshot !== undefined,
      () => `snapshot index ${this.snapshotIndex} > applied ${this.applied}`);
    assert(this.applied <= this.committed, () => `applied ${this.applied} > committed ${this.committed}`);
    assert(this.committed <= this.lastIndex(), () => `committed ${this.committed} > last index ${this.lastIndex()}`);
    assert(this.stableIndex <= this.inProgressIndex, () => `stable ${this.stableIndex} > in progress ${this.inProgressIndex}`);
    assert(this.inProgressIndex <= this.lastIndex(), () => `in progress ${this.inProgressIndex} > last index ${this.lastIndex()}`);
  }
}
