// When a node takes its next automatic snapshot.
//
// Two rules, as before: by size (the entries applied since the last snapshot take at least
// max(--snapshot-log-bytes, the last snapshot's size)), and by count (--snapshot-entries).
//
// The count rule is staggered across the members. Every node applies the same entries, so with a
// plain "every T entries" rule all of them serialized their whole keyspace at the same moment:
// under heavy writes the three processes of a 3-node cluster competed for the CPU together, and
// the leader's commits waited on followers that were all busy at once. Each member now snapshots
// when its applied index crosses a grid of its own, the multiples of T shifted by rank/members
// of T (ranks 0, 1, 2 of three at 0, T/3, 2T/3 past each multiple), so the members take turns,
// a third of T apart. A node snapshots at the first point of its grid at least T/2 entries after
// its last snapshot, or at T/2 when the grid point came sooner: so between T/2 and T entries
// apart, and its log holds at most T entries as before. One whose last snapshot was off its grid
// (taken by hand, installed from the leader, or after a restart) is back on it one snapshot later.

export interface SnapshotRuleInput {
  readonly applied: number;
  readonly snapshotIndex: number;
  /** --snapshot-entries. */
  readonly entriesThreshold: number;
  /** Bytes of the entries applied since the last snapshot, and the size that triggers one. */
  readonly logBytes: number;
  readonly logBytesThreshold: number;
  /** This node's place (from 0) among the members in id order, and how many there are. */
  readonly rank: number;
  readonly members: number;
}

/**
 * False when no snapshot can be due whatever the member's rank: fewer than half the period's
 * entries since the last one, and too few bytes. The driver asks this after every cycle, before
 * it works out the rank.
 */
export function snapshotMayBeDue(entries: number, period: number, logBytes: number, logBytesThreshold: number): boolean {
  return entries > 0 && (logBytes >= logBytesThreshold || 2 * entries >= period);
}

export function snapshotDue(input: SnapshotRuleInput): boolean {
  const { applied, snapshotIndex, entriesThreshold: period } = input;
  const entries = applied - snapshotIndex;
  if (!snapshotMayBeDue(entries, period, input.logBytes, input.logBytesThreshold)) return false;
  if (input.logBytes >= input.logBytesThreshold) return true;
  const offset = Math.floor((period * input.rank) / Math.max(1, input.members));
  // Due once a point of this member's grid lies in (snapshotIndex, applied].
  return Math.floor((applied - offset) / period) > Math.floor((snapshotIndex - offset) / period);
}

/** This node's rank among the members (voters and learners) in id order; the last if absent. */
export function memberRank(self: number, voters: readonly number[], learners: readonly number[]): { rank: number; members: number } {
  const members = [...voters, ...learners].sort((a, b) => a - b);
  const at = members.indexOf(self);
  return at < 0 ? { rank: members.length, members: members.length + 1 } : { rank: at, members: members.length };
}
