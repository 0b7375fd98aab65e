// What the leader knows of each follower's log, and the flow control of appends to it (after
// etcd's tracker package). A follower is in one of three states:
// - probe: its log position is unknown; one append at a time until one is accepted;
// - replicate: appends are pipelined, bounded by in-flight messages and bytes;
// - snapshot: it needs entries the leader has compacted; nothing is sent until the snapshot is
//   acknowledged or reported failed.
import type { NodeId } from './types.js';
import { assert } from './assert.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded ring of (last index, bytes) for appends sent but not yet acknowledged. */
export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private bytes = 0;

  constructor(private readonly maxCount: number, private readonly maxBytes: number) {}

  add(lastIndex: number, size: number): void {
    const previous = this.indexes[this.indexes.length - 1];
    assert(previous === undefined || lastIndex > previous,
      () => `inflight indexes must increase: ${lastIndex} after ${previous}`);
    this.indexes.push(lastIndex);
    this.sizes.push(size);
    this.bytes += size;
  }

  /** Releases every append whose last index is at most `index`. */
  freeLE(index: number): void {
    let count = 0;
    while (count < this.indexes.length && (this.indexes[count] ?? Infinity) <= index) {
      this.bytes -= this.sizes[count] ?? 0;
      count++;
    }
    if (count > 0) {
      this.indexes.splice(0, count);
      this.sizes.splice(0, count);
    }
  }

  /** Frees the oldest slot: the appends that filled the window may all have been lost. */
  freeFirstOne(): void {
    if (this.indexes.length === 0) return;
    this.freeLE(this.indexes[0] as number);
  }

  full(): boolean {
    return this.indexes.length >= this.maxCount || this.bytes >= this.maxBytes;
  }

  get count(): number {
    return this.indexes.length;
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.bytes = 0;
  }
}

export class Progress {
  /** Highest index known to be replicated on this follower. Only grows while leader. */
  match = 0;
  /** Next index to send. Invariant: next > match. */
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** In probe state: an append was sent and no answer came yet. */
  probeSent = false;
  /** Heard from during the current CheckQuorum period. */
  recentActive = false;
  learner: boolean;
  readonly inflights: Inflights;

  constructor(readonly id: NodeId, next: number, learner: boolean, maxInflightMsgs: number, maxInflightBytes: number) {
    this.next = next;
    this.learner = learner;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  becomeProbe(): void {
    // After a snapshot, the follower holds at least the snapshot's index.
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = 'probe';
    this.pendingSnapshot = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.pendingSnapshot = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = snapshotIndex;
    this.probeSent = false;
    this.inflights.reset();
  }

  /**
   * The follower's log may have lost entries it had acknowledged (its WAL was repaired): forget
   * its match and probe it from `next`, as a new leader's progress does. Lowering `match` is safe:
   * the commit index never goes back, and nothing more is counted on this follower's behalf until
   * it acknowledges again.
   */
  resetLost(next: number): void {
    this.match = 0;
    this.next = next;
    this.state = 'probe';
    this.pendingSnapshot = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** An append up to `index` was accepted. Returns whether `match` moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * An append at `rejected` was refused; `hint` is the highest index that may match. Returns
   * false when the rejection is stale (answers an append we no longer have outstanding).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold back appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
