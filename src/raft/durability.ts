// What step 2 of the Ready contract (types.ts) must make durable.

import type { HardState, Ready } from './types.js';

/**
 * Whether a Ready has anything that must be durable before its `persistMessages` go out and
 * `advance()` is called: entries, a snapshot, or a term or vote other than the durable ones
 * (etcd's raft.MustSync), or a commit index that a restart needs.
 *
 * Raft keeps the commit index as volatile state (§5, Figure 2): a node that restarts from an
 * older one applies fewer entries at start, and learns the newer one from the leader. Writing
 * every new commit index cost a second fsync per write on every node whenever a commit arrived in
 * a Ready of its own: a single client's sequential SETs waited for two fsyncs on the leader.
 *
 * But the membership in force is the one of the last committed conf entry (the core applies a
 * conf change once it is committed), so a restart from a commit index below that entry comes back
 * with an older membership. If enough of the members it names are gone, no candidate can ever win:
 * the simulator found a cluster left without a leader that way (seed 102045 with 3 nodes). So a
 * new commit index is written while the durable one is below `membershipIndex`, the index of the
 * conf entry (or snapshot) that set the membership in force (Raft.membershipIndex).
 */
export function mustPersist(ready: Pick<Ready, 'hardState' | 'entries' | 'snapshot'>, durable: HardState, membershipIndex: number): boolean {
  if (ready.entries.length > 0 || ready.snapshot !== undefined) return true;
  const hardState = ready.hardState;
  if (hardState === undefined) return false;
  return hardState.term !== durable.term || hardState.vote !== durable.vote || membershipIndex > durable.commit;
}

/**
 * A driver's step 2 with mustPersist: what a Ready must write, holding the hard state of one that
 * need not be written. The core hands out a hard state once, when it changes, so the held one goes
 * with the next write; the server and the simulator's driver both decide through this.
 */
export class HardStateWrites {
  private held: HardState | undefined;

  /**
   * The hard state to write with `ready`, its own or the one held (and then no longer held);
   * null when the Ready writes nothing, its hard state (if any) being held instead.
   */
  next(ready: Pick<Ready, 'hardState' | 'entries' | 'snapshot'>, durable: HardState, membershipIndex: number): HardState | undefined | null {
    if (!mustPersist(ready, durable, membershipIndex)) {
      if (ready.hardState !== undefined) this.held = ready.hardState;
      return null;
    }
    const hardState = ready.hardState ?? this.held;
    this.held = undefined;
    return hardState;
  }

  /** The hard state held unwritten, if any (only its commit index differs from the durable one). */
  get unwritten(): HardState | undefined {
    return this.held;
  }

  /** Forgets the held hard state (it was written some other way). */
  written(): void {
    this.held = undefined;
  }
}
