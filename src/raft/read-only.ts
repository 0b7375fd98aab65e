// ReadIndex (Raft dissertation §6.4): a read is safe once the leader has confirmed, after the
// read arrived, that a majority still follows it, and the state machine has applied the commit
// index recorded when the read arrived. Many reads share one confirmation round: reads that
// arrive during one event-loop turn are stamped with the same round number, and one heartbeat
// broadcast carries it.
import type { NodeId, ReadState } from './types.js';

interface PendingRead {
  readonly context: number;
  readonly index: number;
  readonly round: number;
}

export class ReadOnly {
  /** Reads waiting for a heartbeat round to be started for them. */
  private unsent: { context: number; index: number }[] = [];
  /** Reads whose round is under way, in round order. */
  private waiting: PendingRead[] = [];
  /** Highest round each voter acknowledged during this leadership. */
  private readonly acked = new Map<NodeId, number>();
  /** When (in acknowledgements counted) each voter reached its highest round: lower is earlier. */
  private readonly reachedAt = new Map<NodeId, number>();
  private acknowledgements = 0;
  private lastRound = 0;

  get size(): number {
    return this.unsent.length + this.waiting.length;
  }

  /**
   * The round a periodic heartbeat should carry: the latest one while reads wait for it. If the
   * round's own heartbeats were lost, a later heartbeat confirms it just as well (it was sent
   * after every waiting read arrived), so reads never wait for a new read to start a round.
   */
  roundToRepeat(): number {
    return this.waiting.length > 0 ? this.lastRound : 0;
  }

  hasUnsent(): boolean {
    return this.unsent.length > 0;
  }

  add(context: number, index: number): void {
    this.unsent.push({ context, index });
  }

  /**
   * Orders voters quickest first: the highest round acknowledged, and among equals the one that
   * reached it first (a slow follower that answers a round late ties on the round, but not on
   * when), then the lowest id. Negative when `a` comes before `b`.
   */
  compareQuickest(a: NodeId, b: NodeId): number {
    return (this.acked.get(b) ?? 0) - (this.acked.get(a) ?? 0)
      || (this.reachedAt.get(a) ?? Infinity) - (this.reachedAt.get(b) ?? Infinity)
      || a - b;
  }

  /** The newest round started (0 before any). */
  get latestRound(): number {
    return this.lastRound;
  }

  /** Starts a round for every unsent read and returns its number (for the heartbeats). */
  startRound(): number {
    const round = ++this.lastRound;
    for (const read of this.unsent) this.waiting.push({ ...read, round });
    this.unsent = [];
    return round;
  }

  /**
   * Records that `from` acknowledged `round`, and returns the reads that a majority of `voters`
   * has now confirmed (the leader counts as acknowledging every round).
   */
  acknowledge(from: NodeId, round: number, self: NodeId, voters: readonly NodeId[]): ReadState[] {
    if (round > (this.acked.get(from) ?? 0)) {
      this.acked.set(from, round);
      this.reachedAt.set(from, ++this.acknowledgements);
    }
    const rounds = voters.map((id) => (id === self ? Infinity : this.acked.get(id) ?? 0)).sort((a, b) => b - a);
    const confirmed = rounds[Math.floor(voters.length / 2)] ?? 0;
    let count = 0;
    while (count < this.waiting.length && (this.waiting[count] as PendingRead).round <= confirmed) count++;
    if (count === 0) return [];
    const released = this.waiting.splice(0, count);
    return released.map(({ context, index }) => ({ context, index }));
  }

  /** Releases every read at once (a single-voter cluster needs no confirmation). */
  releaseAll(): ReadState[] {
    const all = [...this.waiting, ...this.unsent].map(({ context, index }) => ({ context, index }));
    this.waiting = [];
    this.unsent = [];
    return all;
  }

  /** Forgets every read (leadership lost); returns their contexts. */
  dropAll(): number[] {
    const contexts = [...this.waiting, ...this.unsent].map((read) => read.context);
    this.waiting = [];
    this.unsent = [];
    this.acked.clear();
    this.reachedAt.clear();
    return contexts;
  }
}
