// What every part of a simulated run shares: the clock, the agenda, the trace and the checks.

import type { Message, NodeId } from '../../src/raft/types.js';
import type { FirstApply } from './clients.js';
import type { EventQueue } from './event-queue.js';
import type { Invariants } from './invariants.js';
import type { Trace } from './trace.js';

export type SimEvent =
  | { readonly kind: 'deliver'; readonly msg: Message; readonly senderIncarnation: number; readonly copy: number }
  | { readonly kind: 'snapshot-lost'; readonly msg: Message; readonly senderIncarnation: number }
  | { readonly kind: 'tick'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'persisted'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'written'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'restart'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'stop'; readonly node: NodeId }
  | { readonly kind: 'client'; readonly client: number; readonly token: number }
  | { readonly kind: 'client-timeout'; readonly client: number; readonly seq: number }
  | { readonly kind: 'fault' }
  | { readonly kind: 'liveness-check' };

/** How much of each kind of trouble a run went through, to show what the seeds cover. */
export interface Coverage {
  crashes: number;
  /** Crashes that lost a Ready batch between ready() and its fsync. */
  crashesMidReady: number;
  /** Ready batches written asynchronously (advance(false), then persisted()). */
  asyncWrites: number;
  restarts: number;
  partitions: number;
  /** Conf entries applied (first application only): additions, promotions, removals. */
  membershipChanges: number;
  /** Removals of the node that was leader when the removal was applied. */
  leaderRemovals: number;
  transfers: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  compactions: number;
  messagesDropped: number;
  messagesDuplicated: number;
}

export function emptyCoverage(): Coverage {
  return {
    crashes: 0, crashesMidReady: 0, asyncWrites: 0, restarts: 0, partitions: 0, membershipChanges: 0, leaderRemovals: 0,
    transfers: 0, snapshotsSent: 0, snapshotsInstalled: 0, compactions: 0, messagesDropped: 0, messagesDuplicated: 0,
  };
}

export interface SimContext {
  /** Simulated time. Only the event loop moves it. */
  nowMs: number;
  readonly queue: EventQueue<SimEvent>;
  readonly trace: Trace;
  readonly invariants: Invariants;
  /**
   * A counter that orders client invocations and returns exactly as the simulator saw them:
   * finer than milliseconds, so two events in one millisecond are not mistaken for concurrent
   * ones by the linearizability checker.
   */
  historyClock: number;
  /** Each client operation's first application on any node (see Clients.history). */
  readonly firstApplies: Map<number, FirstApply>;
  readonly coverage: Coverage;
}

export function schedule(ctx: SimContext, delayMs: number, event: SimEvent): void {
  ctx.queue.push(ctx.nowMs + delayMs, event);
}
