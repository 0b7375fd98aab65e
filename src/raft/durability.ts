// What step 2 of the Ready contract (types.ts) must make durable.

import type { HardState, Ready } from './types.js';

/**
 * Whether a Ready has anything that must be durable before its `persistMessages` go out and
 * `advance()` is called: entries, a snapshot, or a term or vote other than the durable ones
 * (etcd's raft.MustSync). A hard state that differs from `durable` only in its commit index
 * need not be written. Raft keeps the commit index as volatile state (§5, Figure 2): a node
 * that restarts from an older commit index applies fewer entries at start, and learns the
 * newer one from the leader's next append or heartbeat. Writing it anyway cost a second fsync
 * per write on every node whenever a commit arrived in a Ready of its own: a single client's
 * sequential SETs waited for two fsyncs on the leader instead of one.
 */
export function mustPersist(ready: Pick<Ready, 'hardState' | 'entries' | 'snapshot'>, durable: HardState): boolean {
  if (ready.entries.length > 0 || ready.snapshot !== undefined) return true;
  const hardState = ready.hardState;
  return hardState !== undefined && (hardState.term !== durable.term || hardState.vote !== durable.vote);
}
