// One node's simulated disk: the hard state, the log after the snapshot, and the snapshot. A
// write here is the "fsync" of the Ready contract: whatever the driver has not written when the
// node crashes is lost, and a restart sees exactly what was written.
//
// The storage checks the shape of what the core asks it to write (contiguous entries, no write
// below the snapshot) and throws when it is wrong: that is a core bug, not an operating error.

import type { ConfState, Entry, HardState, RestoreState, Snapshot } from '../../src/raft/types.js';

export class SimStorage {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: Snapshot | undefined;
  /** Entries after the snapshot, contiguous: entries[k].index === snapshotIndex() + 1 + k. */
  entries: Entry[] = [];

  constructor(readonly initialConf: ConfState) {}

  snapshotIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  snapshotTerm(): number {
    return this.snapshot?.meta.term ?? 0;
  }

  lastIndex(): number {
    return this.snapshotIndex() + this.entries.length;
  }

  /** The term at `index`, or undefined when it is compacted away or not written. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex()) return this.snapshotTerm();
    if (index < this.snapshotIndex() || index > this.lastIndex()) return undefined;
    return (this.entries[index - this.snapshotIndex() - 1] as Entry).term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshotIndex()) return undefined;
    return this.entries[index - this.snapshotIndex() - 1];
  }

  /** Step 2 of the Ready contract, as one atomic write: snapshot, then hard state, then entries. */
  persist(snapshot: Snapshot | undefined, hardState: HardState | undefined, entries: readonly Entry[]): void {
    if (snapshot !== undefined) this.installSnapshot(snapshot);
    if (hardState !== undefined) this.hardState = hardState;
    if (entries.length > 0) this.append(entries);
  }

  /**
   * A snapshot received from the leader replaces the whole log, as the core's in-memory log does
   * when it restores one: the entries after it come in later appends.
   */
  private installSnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.snapshotIndex()) {
      throw new Error(`storage: snapshot at ${snapshot.meta.index} does not advance past the stored one at ${this.snapshotIndex()}`);
    }
    this.snapshot = snapshot;
    this.entries = [];
  }

  /** Writes entries from entries[0].index on, overwriting the stored suffix from there. */
  private append(entries: readonly Entry[]): void {
    const first = (entries[0] as Entry).index;
    if (first <= this.snapshotIndex()) {
      throw new Error(`storage: append at ${first} at or below the snapshot at ${this.snapshotIndex()}`);
    }
    if (first > this.lastIndex() + 1) {
      throw new Error(`storage: append at ${first} leaves a gap after the last index ${this.lastIndex()}`);
    }
    this.entries.length = first - this.snapshotIndex() - 1;
    for (const [k, entry] of entries.entries()) {
      if (entry.index !== first + k) throw new Error(`storage: entries not contiguous: ${entry.index} after ${first + k - 1}`);
      this.entries.push(entry);
    }
  }

  /** The driver took a snapshot of its state machine at an applied index: drop the log up to it. */
  compact(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    if (index <= this.snapshotIndex()) throw new Error(`storage: compaction at ${index} is not past the snapshot at ${this.snapshotIndex()}`);
    const term = this.term(index);
    if (term === undefined) throw new Error(`storage: compaction at ${index} beyond the stored log (last ${this.lastIndex()})`);
    if (term !== snapshot.meta.term) throw new Error(`storage: compaction at ${index} names term ${snapshot.meta.term}, the log has ${term}`);
    this.entries = this.entries.slice(index - this.snapshotIndex());
    this.snapshot = snapshot;
  }

  /** What a restarted node reads back. `forgetVote` is the broken variant that loses the vote. */
  restore(forgetVote: boolean): RestoreState {
    // Everything a snapshot holds is committed, whether or not a hard state said so yet (a
    // snapshot may be taken while the write of the hard state naming that commit is under way),
    // as src/storage lifts it on recovery.
    const commit = Math.max(this.hardState.commit, this.snapshot?.meta.index ?? 0);
    const hardState = { ...this.hardState, commit };
    return {
      hardState: forgetVote ? { ...hardState, vote: 0 } : hardState,
      snapshot: this.snapshot,
      entries: [...this.entries],
      initialConf: this.initialConf,
    };
  }
}
