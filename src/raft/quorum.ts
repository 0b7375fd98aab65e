// Majority arithmetic over the voters of one configuration (Raft §5.2, §5.3).
import type { NodeId } from './types.js';

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** The largest index that a majority of voters have matched. */
export function quorumIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  // With n voters a majority is floor(n/2)+1; the (floor(n/2))th largest (0-based) is held by it.
  return matches[Math.floor(voters.length / 2)] ?? 0;
}

export function voteOutcome(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  const majority = Math.floor(voters.length / 2) + 1;
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  if (granted >= majority) return 'won';
  if (voters.length - rejected < majority) return 'lost';
  return 'pending';
}
