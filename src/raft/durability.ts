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
