// Types shared by the consensus core and everything that drives it. The core is a pure state
// machine (see docs/raft.md): these values are all it takes in and gives out. Nothing here holds
// a socket, a file or a clock, so the same types serve the server driver and the simulator.

/** A member's id: a positive integer, never reused once removed. 0 means "none". */
export type NodeId = number;
/** Several Raft groups may share a process and a connection; every message names its group. */
export type GroupId = number;

export const NONE: NodeId = 0;

export type EntryKind = 'normal' | 'noop' | 'conf';

/**
 * One log entry. `data` is opaque to the core for `normal` entries; `noop` entries carry none
 * (Raft §8: a new leader commits one to learn the commit index of its term); `conf` entries carry
 * a membership change in `change`.
 */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
  readonly change?: ConfChange;
}

export type ConfChangeType = 'addLearner' | 'promote' | 'remove';

/**
 * One single-server membership change (Raft dissertation §4.1). `context` is opaque to the core:
 * the driver puts the new member's addresses there.
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context: Uint8Array;
}

/** Membership as of some log index. `removed` keeps every id ever removed so none is reused. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly removed: readonly NodeId[];
}

/** What must be durable before a vote or an append is acknowledged (Raft §5.1, Figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/**
 * A snapshot as the core sees it. `data` is the state machine image; the server driver may leave
 * it empty and stream the image from its snapshot file instead (it is identified by index/term).
 */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

interface MessageBase {
  readonly group: GroupId;
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term (for a PreVote request: the term it would campaign in). */
  readonly term: number;
}

export interface PreVoteRequest extends MessageBase {
  readonly type: 'preVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface VoteRequest extends MessageBase {
  readonly type: 'vote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set when the election follows a leadership transfer, so voters ignore their leader lease. */
  readonly transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'preVoteResp' | 'voteResp';
  readonly reject: boolean;
}

export interface AppendRequest extends MessageBase {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends MessageBase {
  readonly type: 'appendResp';
  readonly reject: boolean;
  /** On success, the last index now matching the leader. On reject, the rejected prevIndex. */
  readonly index: number;
  /** On reject (fast backtracking): the follower's guess of the last index that may match... */
  readonly hintIndex: number;
  /** ...and the term of its entry there. */
  readonly hintTerm: number;
}

export interface Heartbeat extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  /** ReadIndex round this heartbeat confirms leadership for; 0 when none. */
  readonly readRound: number;
}

export interface HeartbeatResponse extends MessageBase {
  readonly type: 'heartbeatResp';
  readonly readRound: number;
}

export interface SnapshotMessage extends MessageBase {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

export interface TimeoutNow extends MessageBase {
  readonly type: 'timeoutNow';
}

export type Message =
  | PreVoteRequest
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | SnapshotMessage
  | TimeoutNow;

export type MessageType = Message['type'];

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** A read that became safe to serve once the state machine has applied `index`. */
export interface ReadState {
  readonly context: number;
  readonly index: number;
}

/** Volatile state the driver may want to watch (role changes, leader changes). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/**
 * Everything the driver must do, in this order, before calling `advance()`:
 * 1. send `messages` (they do not depend on this batch being durable);
 * 2. persist `snapshot`, `hardState` and `entries` (entries may overwrite the log from
 *    `entries[0].index` on) with one fsync; a Ready whose only change is the commit index need
 *    not be written while the commit index on disk is at or above the membership in force
 *    (mustPersist, durability.ts), and its hard state then goes with the next write;
 * 3. only then send `persistMessages` (votes and acknowledgements promise durable state);
 * 4. install `snapshot` into the state machine, then apply `committedEntries` in order.
 *    Committed entries are durable on a majority already, so when there is no `snapshot`
 *    they (and `readStates`) may be applied before or while step 2 runs;
 * 5. serve `readStates` once the state machine has applied their index.
 * No other call into the core may happen between `ready()` and `advance()`.
 *
 * Asynchronous writes: for a Ready that is not `synchronous`, the driver may do steps 1, 4 and 5,
 * start the write of step 2 and call `advance(false)` at once. Writes must complete in the
 * order they were started; when one is durable the driver sends its `persistMessages` and
 * calls `persisted(index, term)` with its last entry. Meanwhile the core goes on (steps,
 * ticks, proposals, further Readys with only newer entries), and hands out for applying only
 * entries durable on this node as well as committed. A `synchronous` Ready is done as above,
 * after every earlier write has completed.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly snapshot: Snapshot | undefined;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly persistMessages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** Contexts of ReadIndex requests dropped because this node lost leadership. */
  readonly droppedReads: readonly number[];
  /**
   * The batch must be durable before advance(): it carries a snapshot, or a new term or vote.
   * The core acts on those at once (a candidate counts its own vote when it campaigns), so
   * nothing may be stepped until they are on disk: a candidate that won before its term was
   * durable could crash, come back in the old term, vote again, and let a second leader win the
   * same term.
   */
  readonly synchronous: boolean;
}

/** A source of randomness the caller seeds; the core never calls Math.random. */
export interface Prng {
  /** A uniformly distributed integer in [0, bound). */
  nextInt(bound: number): number;
}

export interface RaftConfig {
  readonly id: NodeId;
  readonly group: GroupId;
  /** A follower that hears nothing for a random time in [election, 2*election) ticks campaigns. */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly prng: Prng;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Most append messages in flight to one follower before waiting for acknowledgements. */
  readonly maxInflightMsgs: number;
  /** Most entry bytes in flight to one follower. */
  readonly maxInflightBytes: number;
  /** Most entry bytes in one append message (at least one entry is always sent). */
  readonly maxMsgBytes: number;
  /** A learner whose match index is within this many entries of the leader's is promoted. */
  readonly promoteLagEntries: number;
  /** Most ReadIndex requests waiting at once; more are refused. */
  readonly maxPendingReads: number;
  /**
   * Serve reads under a leader lease instead of a heartbeat round per batch (thesis §6.4.1).
   * Safe only if no node's tick runs more than one tick per election timeout slower than the
   * leader's (bounded clock drift); see docs/raft.md. Needs checkQuorum.
   */
  readonly leaseReads?: boolean;
}

/** What a node restarts from: what it had made durable. */
export interface RestoreState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | undefined;
  /** Entries after the snapshot, contiguous, in index order. */
  readonly entries: readonly Entry[];
  /** Membership to use when there is no snapshot and no conf entry (a fresh cluster). */
  readonly initialConf: ConfState;
}

export type ProposeError =
  | 'not-leader'
  | 'transferring'
  | 'conf-change-pending'
  | 'no-op-uncommitted'
  | 'invalid-conf-change'
  | 'too-many-reads';

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly error: ProposeError };

export interface ProgressStatus {
  readonly id: NodeId;
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly voter: boolean;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly confState: ConfState;
  readonly transferee: NodeId;
  /** Filled on the leader only. */
  readonly progress: readonly ProgressStatus[];
}

export function assertNever(value: never, what: string): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}
