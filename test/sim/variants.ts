// Deliberately broken cores, to show that the simulator's checks catch real Raft bugs. Each
// overrides one rule of the real core (src/raft/raft.ts); "forgetting the vote on restart" is
// done by the simulated storage instead (see SimStorage.restore), so it has no class here.

import { Raft } from '../../src/raft/raft.js';
import type { RaftFactory } from './cluster.js';
import type { VariantName } from './options.js';

/** Counts replicas of entries from older terms toward commitment (breaks Raft §5.4.2). */
class CommitOldTermRaft extends Raft {
  protected override commitCandidateOk(): boolean {
    return true;
  }
}

/** Grants votes without comparing logs (breaks the election restriction, Raft §5.4.1). */
class VoteShortLogRaft extends Raft {
  protected override candidateLogUpToDate(): boolean {
    return true;
  }
}

/** Serves ReadIndex before the leader's no-op commits (breaks thesis §6.4 step 1). */
class ReadBeforeNoopRaft extends Raft {
  protected override readIndexReady(): boolean {
    return true;
  }
}

/**
 * Lets a new term or vote be written asynchronously (breaks Figure 2's "updated on stable
 * storage before responding", here for the candidate's own vote): a candidate can win, lead and
 * crash before its term is durable, come back in the old term, and win the same term again.
 */
class AsyncVoteRaft extends Raft {
  protected override mustPersistFirst(hasSnapshot: boolean): boolean {
    return hasSnapshot;
  }
}

/** The core a variant runs; undefined for the correct core and for storage-side variants. */
export function variantFactory(variant: VariantName): RaftFactory | undefined {
  switch (variant) {
    case 'correct':
    case 'forget-vote':
      return undefined;
    case 'commit-old-term':
      return (config, restore) => new CommitOldTermRaft(config, restore);
    case 'vote-short-log':
      return (config, restore) => new VoteShortLogRaft(config, restore);
    case 'read-before-noop':
      return (config, restore) => new ReadBeforeNoopRaft(config, restore);
    case 'async-vote':
      return (config, restore) => new AsyncVoteRaft(config, restore);
    default:
      throw new Error(`unknown variant ${JSON.stringify(variant satisfies never)}`);
  }
}
