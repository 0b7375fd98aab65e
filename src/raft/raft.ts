// The Raft consensus core: a pure, deterministic state machine in the style of etcd's raft.
// Input comes through tick(), step() and the propose calls; output leaves through ready(), which
// the driver carries out before it calls advance() (the contract is documented on `Ready` in
// types.ts and in docs/raft.md). Nothing in here touches a clock, a socket, a file or
// Math.random: time is ticks and randomness is the PRNG in the config.
//
// Section numbers in comments refer to the Raft paper (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm", extended version) and, where marked "thesis", to Diego
// Ongaro's dissertation "Consensus: Bridging Theory and Practice".
import {
  assertNever,
  NONE,
  type AppendRequest,
  type AppendResponse,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Heartbeat,
  type HeartbeatResponse,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftConfig,
  type RaftStatus,
  type ReadState,
  type Ready,
  type RestoreState,
  type Role,
  type Snapshot,
  type SnapshotMessage,
  type SnapshotMeta,
  type SoftState,
  type VoteResponse,
} from './types.js';
import { assert } from './assert.js';
import { validateRaftConfig } from './config.js';
import { decodeConfState, encodeConfState, nextConfState } from './conf.js';
import { entrySize, RaftLog } from './log.js';
import { Progress } from './progress.js';
import { quorumIndex, voteOutcome } from './quorum.js';
import { ReadOnly } from './read-only.js';

const EMPTY = new Uint8Array(0);

type CampaignKind = 'preElection' | 'election' | 'transfer';

// Distributive Omit, so each member of the Message union keeps its own fields.
type Outgoing<M> = M extends Message ? Omit<M, 'group' | 'from'> : never;

export class Raft {
  readonly id: NodeId;
  protected readonly config: RaftConfig;
  protected readonly log = new RaftLog();

  /** Latest term seen (Raft §5.1). Never decreases. */
  protected term = 0;
  /** Candidate voted for in `term`, or NONE. */
  protected vote: NodeId = NONE;
  protected role: Role = 'follower';
  protected leader: NodeId = NONE;

  protected confState: ConfState;
  /** Index of the last conf entry applied to `confState` (or of the snapshot that set it). */
  private confIndex = 0;
  /** Membership after each conf change still above the snapshot, for compaction metadata. */
  private confHistory: { index: number; conf: ConfState }[] = [];
  /** Highest index scanned for conf entries. */
  private confScanIndex = 0;

  /** Leader only: one entry per member other than the leader, plus one for itself. */
  private progress = new Map<NodeId, Progress>();
  /** Candidate only: the votes received in this election. */
  private votes = new Map<NodeId, boolean>();
  /** Leader only: a conf change at this index is not yet committed; no other may be proposed. */
  private pendingConfIndex = 0;
  /** Leader only: the target of a leadership transfer under way. */
  private transferee: NodeId = NONE;
  /**
   * Leader only, after applying its own removal: the heartbeat round that carries the commit
   * index to the remaining voters, those that have not answered it yet, and the ticks waited.
   * See leave().
   */
  private leaving: { readonly round: number; readonly waiting: Set<NodeId>; ticks: number } | undefined;
  private readonly readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private readsAwaitingCommit: number[] = [];

  /** Ticks since this node started: the clock of leader leases. */
  private tickCount = 0;
  /** Leader with leaseReads: the tick each recent heartbeat round was sent at. */
  private roundSentTick = new Map<number, number>();
  /** Leader with leaseReads: per voter, the send tick of the newest heartbeat it acknowledged. */
  private ackedSentTick = new Map<NodeId, number>();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Leader only: appends were added to the log and must be broadcast at the next ready(). */
  private broadcastPending = false;

  /** The latest snapshot taken by compact(), sent to followers that need compacted entries. */
  private snapshot: Snapshot | undefined;

  // Output accumulated for the next Ready.
  private messages: Message[] = [];
  private persistMessages: Message[] = [];
  private readStates: ReadState[] = [];
  private droppedReads: number[] = [];
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  /** The Ready handed out and not yet advanced. */
  private inFlightReady: Ready | undefined;

  constructor(config: RaftConfig, restore: RestoreState) {
    validateRaftConfig(config);
    this.config = config;
    this.id = config.id;
    const { hardState, snapshot, entries } = restore;
    this.confState = restore.initialConf;
    if (snapshot) {
      this.log.snapshotIndex = snapshot.meta.index;
      this.log.snapshotTerm = snapshot.meta.term;
      this.log.applied = snapshot.meta.index;
      this.log.committed = snapshot.meta.index;
      this.log.stableIndex = snapshot.meta.index;
      this.confState = snapshot.meta.confState;
      this.confIndex = snapshot.meta.index;
      this.confScanIndex = snapshot.meta.index;
      this.snapshot = snapshot;
    }
    this.confHistory = [{ index: this.log.snapshotIndex, conf: this.confState }];
    this.log.append(entries);
    this.log.stableIndex = this.log.lastIndex();
    this.log.inProgressIndex = this.log.stableIndex;
    this.term = hardState.term;
    this.vote = hardState.vote;
    assert(hardState.commit <= this.log.lastIndex(),
      () => `restored commit ${hardState.commit} beyond last index ${this.log.lastIndex()}`);
    this.log.commitTo(hardState.commit);
    // Entries up to the restored commit were applied before the crash only if the state
    // machine was persisted with them; the driver re-applies from its snapshot, so applied
    // restarts at the snapshot index and committed entries are handed out again.
    this.applyConfChangesUpTo(this.log.committed);
    this.prevHardState = this.hardState();
    this.becomeFollower(this.term, NONE);
    this.prevSoftState = this.softState();
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /** One logical clock tick. The driver calls it every tick interval. */
  tick(): void {
    this.assertNotInReady('tick');
    this.tickCount++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.config.preVote ? 'preElection' : 'election');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    const leaving = this.leaving;
    if (leaving !== undefined) {
      // A remaining voter that does not answer within an election timeout is down or cut off:
      // stop waiting (the others, or it once back, learn the commit index from whoever leads).
      if (++leaving.ticks >= this.config.electionTicks) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
        this.heartbeatElapsed = 0;
        this.sendLeavingHeartbeats(leaving);
      }
      return;
    }
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      // CheckQuorum (thesis §6.2): a leader that has not heard from a majority during an
      // election timeout steps down, so a partitioned leader stops serving.
      if (this.config.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
      // Thesis §3.10: a transfer that has not completed within an election timeout is aborted
      // so the leader accepts proposals again.
      if (this.transferee !== NONE) this.transferee = NONE;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      // With leases every heartbeat starts a round, so its acknowledgements extend the lease.
      this.broadcastHeartbeat(this.config.leaseReads ? this.readOnly.startRound() : this.readOnly.roundToRepeat());
    }
  }

  /** Delivers one peer message. Messages for another group or node are ignored. */
  step(m: Message): void {
    this.assertNotInReady('step');
    if (m.group !== this.config.group || m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === 'preVote' || m.type === 'vote') {
        // Thesis §4.2.3: while a node hears from a live leader (within the minimum election
        // timeout) it ignores requests from would-be candidates, unless a transfer asked for it.
        const forced = m.type === 'vote' && m.transfer;
        const inLease = this.config.checkQuorum && this.leader !== NONE && this.electionElapsed < this.config.electionTicks;
        if (!forced && inLease) return;
      }
      if (m.type === 'preVote') {
        // A PreVote request does not change our term (thesis §9.6).
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // A granted PreVote carries the term we would campaign in; the campaign will raise it.
      } else {
        const leader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot' ? m.from : NONE;
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.term) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader (perhaps partitioned away and back) learns the new term from our
        // answer; otherwise, with PreVote, nothing would ever tell it.
        this.send({ type: 'appendResp', to: m.from, term: this.term, reject: false, index: 0, hintIndex: 0, hintTerm: 0 }, true);
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, term: this.term, reject: true }, true);
      }
      return;
    }

    switch (m.type) {
      case 'preVote':
      case 'vote':
        this.handleVoteRequest(m);
        return;
      case 'preVoteResp':
      case 'voteResp':
        this.handleVoteResponse(m);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.handleFromLeader(m);
        return;
      case 'appendResp':
        if (this.role === 'leader') this.handleAppendResponse(m);
        return;
      case 'heartbeatResp':
        if (this.role === 'leader') this.handleHeartbeatResponse(m);
        return;
      case 'timeoutNow':
        // Thesis §3.10: the transfer target starts an election at once, skipping PreVote.
        if (this.role !== 'leader' && this.promotable()) this.campaign('transfer');
        return;
      default:
        assertNever(m, 'message type');
    }
  }

  /** Appends a command to the log (leader only). Its reply comes when it is applied. */
  propose(data: Uint8Array): ProposeResult {
    this.assertNotInReady('propose');
    const refused = this.refuseProposal();
    if (refused) return refused;
    return this.appendProposal('normal', data, undefined);
  }

  /**
   * Proposes one single-server membership change (thesis §4.1). Only one may be in flight, and
   * not before this leader has committed an entry of its own term (the fix for the bug found in
   * single-server changes: thesis errata, raft-dev 2015).
   */
  proposeConfChange(change: ConfChange): ProposeResult {
    this.assertNotInReady('proposeConfChange');
    const refused = this.refuseProposal();
    if (refused) return refused;
    if (!this.readIndexReady()) return { ok: false, error: 'no-op-uncommitted' };
    if (this.pendingConfIndex > this.log.committed) return { ok: false, error: 'conf-change-pending' };
    if (!this.confChangeValid(change)) return { ok: false, error: 'invalid-conf-change' };
    const result = this.appendProposal('conf', encodeConfState(nextConfState(this.confState, change)), change);
    if (result.ok) this.pendingConfIndex = result.index;
    return result;
  }

  /**
   * Asks for a linearizable read (thesis §6.4). When it is safe, a ReadState with this context
   * and a log index appears in a Ready: serve the read once the state machine has applied it.
   */
  readIndex(context: number): ProposeResult {
    this.assertNotInReady('readIndex');
    if (this.role !== 'leader') return { ok: false, error: 'not-leader' };
    if (this.leaving !== undefined) return { ok: false, error: 'transferring' };
    if (this.readOnly.size + this.readsAwaitingCommit.length >= this.config.maxPendingReads) {
      return { ok: false, error: 'too-many-reads' };
    }
    if (this.config.leaseReads && this.readIndexReady() && this.leaseValid()) {
      // Thesis §6.4.1: within its lease no other leader can exist, so the commit index is
      // current without a heartbeat round.
      this.readStates.push({ context, index: this.log.committed });
    } else if (!this.readIndexReady()) {
      // Thesis §6.4 step 1: the commit index is only known to be current once this leader has
      // committed an entry of its term (the no-op appended when it was elected).
      this.readsAwaitingCommit.push(context);
    } else if (this.isSingleVoter()) {
      this.readStates.push({ context, index: this.log.committed });
    } else {
      this.readOnly.add(context, this.log.committed);
    }
    return { ok: true, index: this.log.committed, term: this.term };
  }

  /** Starts a leadership transfer to `to` (thesis §3.10). */
  transferLeadership(to: NodeId): void {
    this.assertNotInReady('transferLeadership');
    if (this.role !== 'leader' || to === this.id || !this.confState.voters.includes(to) || this.leaving !== undefined) return;
    if (this.transferee === to) return;
    this.transferee = to;
    // The transfer is given one election timeout to finish (checked in tickLeader).
    this.electionElapsed = 0;
    const pr = this.progress.get(to);
    if (pr && pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
  }

  /**
   * The driver has snapshotted its state machine at `index` (applied and durable): the log up
   * to there is dropped, and followers that need it are sent this snapshot.
   */
  compact(index: number, data: Uint8Array): void {
    this.assertNotInReady('compact');
    assert(index <= this.log.applied, () => `compact index ${index} beyond applied ${this.log.applied}`);
    if (index <= this.log.snapshotIndex) return;
    this.snapshot = { meta: this.snapshotMeta(index), data };
    this.log.compactTo(index);
    const kept = this.confHistory.filter((change) => change.index > index);
    const base = this.confHistory.filter((change) => change.index <= index).pop();
    this.confHistory = base ? [base, ...kept] : kept;
  }

  /** What a snapshot taken at applied index `index` records: its term and membership. */
  snapshotMeta(index: number): SnapshotMeta {
    assert(index <= this.log.applied, () => `snapshot index ${index} beyond applied ${this.log.applied}`);
    const term = this.log.term(index);
    assert(term !== undefined, () => `snapshot index ${index} has no term (first index ${this.log.firstIndex()})`);
    return { index, term, confState: this.confStateAt(index) };
  }

  reportUnreachable(to: NodeId): void {
    this.assertNotInReady('reportUnreachable');
    const pr = this.progress.get(to);
    if (this.role === 'leader' && pr && pr.state === 'replicate') pr.becomeProbe();
  }

  /**
   * Peer `to` says its log may have lost entries it had acknowledged (its WAL was cut by a repair).
   * The leader would otherwise keep its old match index and ignore its rejections as stale, and it
   * would never catch up. Its progress starts over as a new leader's does (match 0, probing from
   * the end of the log), and a probe goes out. No-op unless leader.
   */
  reportLogLost(to: NodeId): void {
    this.assertNotInReady('reportLogLost');
    const pr = this.progress.get(to);
    if (this.role !== 'leader' || !pr || to === this.id) return;
    pr.resetLost(this.log.lastIndex() + 1);
    this.sendAppend(to, true);
  }

  /** The driver finished (or failed) sending a snapshot to `to`. */
  reportSnapshot(to: NodeId, ok: boolean): void {
    this.assertNotInReady('reportSnapshot');
    const pr = this.progress.get(to);
    if (this.role !== 'leader' || !pr || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or the next heartbeat) before probing again.
    pr.probeSent = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Output

  hasReady(): boolean {
    if (this.inFlightReady) return false;
    return (
      this.messages.length > 0 ||
      this.persistMessages.length > 0 ||
      this.readStates.length > 0 ||
      this.droppedReads.length > 0 ||
      (this.role === 'leader' && (this.broadcastPending || this.readOnly.hasUnsent())) ||
      this.log.pendingSnapshot !== undefined ||
      this.log.unstableEntries().length > 0 ||
      this.log.applyableIndex() > this.log.applied ||
      !sameHardState(this.hardState(), this.prevHardState) ||
      !sameSoftState(this.softState(), this.prevSoftState)
    );
  }

  ready(): Ready {
    this.assertNotInReady('ready');
    if (this.role === 'leader') {
      if (this.broadcastPending) this.broadcastAppend();
      if (this.readOnly.hasUnsent()) this.sendReadRound(this.readOnly.startRound());
    }
    this.broadcastPending = false;
    this.log.assertCoherent();
    const hardState = this.hardState();
    const softState = this.softState();
    const snapshot = this.log.pendingSnapshot;
    const committedFrom = Math.max(this.log.applied + 1, this.log.firstIndex());
    const committedTo = this.log.applyableIndex();
    const entries = this.log.unstableEntries();
    const lastEntry = entries[entries.length - 1];
    if (lastEntry) this.log.inProgressIndex = lastEntry.index;
    const newHardState = sameHardState(hardState, this.prevHardState) ? undefined : hardState;
    const ready: Ready = {
      softState: sameSoftState(softState, this.prevSoftState) ? undefined : softState,
      hardState: newHardState,
      snapshot,
      entries,
      messages: this.messages,
      persistMessages: this.persistMessages,
      committedEntries: committedTo >= committedFrom ? this.log.slice(committedFrom, committedTo + 1) : [],
      readStates: this.readStates,
      droppedReads: this.droppedReads,
      synchronous: this.mustPersistFirst(snapshot !== undefined, newHardState),
    };
    this.messages = [];
    this.persistMessages = [];
    this.readStates = [];
    this.droppedReads = [];
    this.inFlightReady = ready;
    return ready;
  }

  /**
   * The driver has done everything the last Ready asked. With `persisted` false it has sent the
   * messages and applied the committed entries but its write of `entries` and `hardState` is
   * still under way (asynchronous storage writes): it holds `persistMessages` until that write
   * is durable, then calls persisted() with the batch's last entry. Until then the next Ready
   * carries only newer entries, and nothing above the durable index is handed out to apply.
   * A `synchronous` Ready (a snapshot, a new term or vote) must be persisted before advance().
   */
  advance(persisted = true): void {
    const ready = this.inFlightReady;
    assert(ready !== undefined, 'advance() without a ready()');
    assert(persisted || !ready.synchronous, 'a synchronous Ready (a snapshot, a new term or vote) must be persisted before advance()');
    this.inFlightReady = undefined;
    if (ready.snapshot) {
      this.log.pendingSnapshot = undefined;
      this.log.stableIndex = Math.max(this.log.stableIndex, ready.snapshot.meta.index);
      this.log.inProgressIndex = Math.max(this.log.inProgressIndex, this.log.stableIndex);
      this.log.applied = Math.max(this.log.applied, ready.snapshot.meta.index);
      this.snapshot = ready.snapshot;
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry && persisted) {
      assert(this.log.matchTerm(lastEntry.index, lastEntry.term),
        () => `persisted entry ${lastEntry.index}@${lastEntry.term} no longer in the log`);
      this.log.stableIndex = Math.max(this.log.stableIndex, lastEntry.index);
    }
    const lastApplied = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastApplied) {
      assert(lastApplied.index >= this.log.applied, () => `applied would go back: ${lastApplied.index} < ${this.log.applied}`);
      this.log.applied = lastApplied.index;
    }
    if (ready.hardState) this.prevHardState = ready.hardState;
    if (ready.softState) this.prevSoftState = ready.softState;
    if (persisted) this.stableMoved();
    this.log.assertCoherent();
  }

  /**
   * An asynchronous write (see advance) is durable up to the entry (index, term). Ignored if
   * that entry is no longer in the log (a newer leader's entries replaced it; their own write
   * comes later) or is covered by a snapshot.
   */
  persisted(index: number, term: number): void {
    this.assertNotInReady('persisted');
    if (this.log.pendingSnapshot !== undefined || index <= this.log.snapshotIndex) return;
    if (index <= this.log.stableIndex || index > this.log.inProgressIndex || !this.log.matchTerm(index, term)) return;
    this.log.stableIndex = index;
    this.stableMoved();
    this.log.assertCoherent();
  }

  private stableMoved(): void {
    if (this.role === 'leader') {
      // The leader counts itself toward a commit only for entries on its own disk (thesis
      // §10.2.1 lets it send appends before its own write finishes).
      const self = this.progress.get(this.id);
      if (self && self.maybeUpdate(this.log.stableIndex) && this.maybeCommit()) this.broadcastPending = true;
    }
  }

  /**
   * Whether a Ready must be durable before advance() (Ready.synchronous): a snapshot, or a new
   * term or vote, which the core acts on at once (a candidate counts its own vote). Overridable
   * only so the simulator can show what breaks without it.
   */
  protected mustPersistFirst(hasSnapshot: boolean, hardState: HardState | undefined): boolean {
    return hasSnapshot ||
      (hardState !== undefined && (hardState.term !== this.prevHardState.term || hardState.vote !== this.prevHardState.vote));
  }

  /** Cheap accessors for the driver's per-command path (status() builds a whole object). */
  get currentRole(): Role {
    return this.role;
  }

  get currentLeader(): NodeId {
    return this.leader;
  }

  get lastIndex(): number {
    return this.log.lastIndex();
  }

  get appliedIndex(): number {
    return this.log.applied;
  }

  get snapshotIndex(): number {
    return this.log.snapshotIndex;
  }

  /** The membership in force (the core's own object: read it, never change it). */
  get membership(): Readonly<ConfState> {
    return this.confState;
  }

  /** The index of the conf entry (or of the snapshot) that set the membership now in force. */
  get membershipIndex(): number {
    return this.confIndex;
  }

  status(): RaftStatus {
    const progress = this.role !== 'leader' ? [] : [...this.progress.values()].map((pr) => ({
      id: pr.id,
      match: pr.match,
      next: pr.next,
      state: pr.state,
      voter: !pr.learner,
      recentActive: pr.recentActive,
    }));
    return {
      id: this.id,
      group: this.config.group,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotIndex,
      confState: this.confState,
      transferee: this.transferee,
      progress,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Rules a deliberately broken variant may override in tests (see test/sim).

  /** Raft §5.4.2: a leader only commits by counting replicas of an entry of its current term. */
  protected commitCandidateOk(_index: number, term: number): boolean {
    return term === this.term;
  }

  /** Raft §5.4.1: grant a vote only to a candidate whose log is at least as up to date. */
  protected candidateLogUpToDate(lastIndex: number, lastTerm: number): boolean {
    return this.log.isUpToDate(lastIndex, lastTerm);
  }

  /** Thesis §6.4: a leader knows the commit index only once it has committed in its term. */
  protected readIndexReady(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions (Raft §5.2, Figure 4)

  protected becomeFollower(term: number, leader: NodeId): void {
    this.dropLeaderState();
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // PreVote (thesis §9.6): ask whether an election could be won before raising the term, so a
    // node returning from a partition does not depose a healthy leader.
    this.dropLeaderState();
    this.votes = new Map();
    this.role = 'preCandidate';
    this.leader = NONE;
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.dropLeaderState();
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', () => `only a candidate becomes leader, not a ${this.role}`);
    this.reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    this.progress = new Map();
    this.roundSentTick = new Map();
    this.ackedSentTick = new Map();
    this.syncProgress();
    const self = this.progress.get(this.id);
    assert(self !== undefined, 'a leader must be a member of its configuration');
    self.maybeUpdate(this.log.stableIndex);
    self.becomeReplicate();
    // Raft §8: a new leader commits a no-op entry of its term to learn which entries are
    // committed; until it does, it serves no read and accepts no membership change.
    this.appendProposal('noop', EMPTY, undefined);
    this.pendingConfIndex = this.log.lastIndex();
  }

  private dropLeaderState(): void {
    if (this.role === 'leader') {
      this.dropReads();
      this.progress = new Map();
      this.transferee = NONE;
      this.broadcastPending = false;
      this.leaving = undefined;
    }
  }

  /** Leader: every read waiting is dropped (its client retries elsewhere). */
  private dropReads(): void {
    this.droppedReads.push(...this.readOnly.dropAll(), ...this.readsAwaitingCommit);
    this.readsAwaitingCommit = [];
  }

  private reset(term: number): void {
    assert(term >= this.term, () => `term would go back from ${this.term} to ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.leader = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.config.electionTicks + this.config.prng.nextInt(this.config.electionTicks);
    this.votes = new Map();
    this.transferee = NONE;
    this.pendingConfIndex = 0;
  }

  private campaign(kind: CampaignKind): void {
    if (kind === 'preElection') this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = kind === 'preElection' ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (this.concludeElection(kind === 'preElection')) return;
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const id of this.confState.voters) {
      if (id === this.id) continue;
      if (kind === 'preElection') {
        this.send({ type: 'preVote', to: id, term: voteTerm, lastLogIndex, lastLogTerm }, false);
      } else {
        this.send({ type: 'vote', to: id, term: voteTerm, lastLogIndex, lastLogTerm, transfer: kind === 'transfer' }, false);
      }
    }
  }

  /** Acts on the votes counted so far; returns true when the election is decided. */
  private concludeElection(pre: boolean): boolean {
    const outcome = voteOutcome(this.confState.voters, this.votes);
    if (outcome === 'won') {
      if (pre) this.campaign('election');
      else this.becomeLeader();
      return true;
    }
    if (outcome === 'lost') {
      this.becomeFollower(this.term, NONE);
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Elections (Raft §5.2, §5.4.1)

  private handleVoteRequest(m: Extract<Message, { type: 'preVote' | 'vote' }>): void {
    const pre = m.type === 'preVote';
    // We may vote if we already voted for this candidate, or have not voted and know no leader
    // in this term; a PreVote for a future term may always be granted.
    const canVote = this.vote === m.from || (this.vote === NONE && this.leader === NONE) || (pre && m.term > this.term);
    const responseType = pre ? 'preVoteResp' : 'voteResp';
    if (canVote && this.candidateLogUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      // A granted PreVote answers with the requested term, so the candidate does not mistake
      // it for a newer term (thesis §9.6).
      this.send({ type: responseType, to: m.from, term: m.term, reject: false }, true);
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: responseType, to: m.from, term: this.term, reject: true }, true);
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    const expecting = this.role === 'preCandidate' ? 'preVoteResp' : this.role === 'candidate' ? 'voteResp' : undefined;
    if (m.type !== expecting) return;
    if (!this.confState.voters.includes(m.from)) return;
    this.votes.set(m.from, !m.reject);
    this.concludeElection(this.role === 'preCandidate');
  }

  // ---------------------------------------------------------------------------------------------
  // Followers: appends, heartbeats and snapshots from the leader (Raft §5.3, §7)

  private handleFromLeader(m: AppendRequest | Heartbeat | SnapshotMessage): void {
    if (this.role === 'leader') {
      assert(false, () => `two leaders in term ${this.term}: ${this.id} and ${m.from}`);
    }
    if (this.role !== 'follower') this.becomeFollower(m.term, m.from);
    this.electionElapsed = 0;
    this.leader = m.from;
    switch (m.type) {
      case 'append':
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.handleSnapshot(m);
        return;
      default:
        assertNever(m, 'leader message');
    }
  }

  private handleAppend(m: AppendRequest): void {
    const respond = (fields: Pick<AppendResponse, 'reject' | 'index' | 'hintIndex' | 'hintTerm'>): void =>
      this.send({ type: 'appendResp', to: m.from, term: this.term, ...fields }, true);
    if (m.prevIndex < this.log.committed) {
      respond({ reject: false, index: this.log.committed, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const lastNewIndex = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.entries);
    if (lastNewIndex !== undefined) {
      this.commitTo(Math.min(m.commit, lastNewIndex));
      respond({ reject: false, index: lastNewIndex, hintIndex: 0, hintTerm: 0 });
      return;
    }
    // Fast backtracking (Raft §5.3, end): point the leader at the last index that could match,
    // skipping every entry of a term newer than the leader's prevTerm.
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    respond({ reject: true, index: m.prevIndex, hintIndex: hint.index, hintTerm: hint.term });
  }

  private handleHeartbeat(m: Heartbeat): void {
    // The leader sends min(match, commit), so this never commits beyond what we hold.
    this.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'heartbeatResp', to: m.from, term: this.term, readRound: m.readRound }, true);
  }

  private handleSnapshot(m: SnapshotMessage): void {
    const { index, term } = m.snapshot.meta;
    const respond = (at: number): void =>
      this.send({ type: 'appendResp', to: m.from, term: this.term, reject: false, index: at, hintIndex: 0, hintTerm: 0 }, true);
    if (index <= this.log.committed) {
      respond(this.log.committed);
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: fast-forward instead of discarding the log.
      this.commitTo(index);
      respond(this.log.committed);
      return;
    }
    this.log.restore(m.snapshot);
    this.confState = m.snapshot.meta.confState;
    this.confIndex = index;
    this.confScanIndex = index;
    this.confHistory = [{ index, conf: this.confState }];
    respond(this.log.lastIndex());
  }

  // ---------------------------------------------------------------------------------------------
  // Leader: replication and commitment (Raft §5.3, §5.4.2)

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.broadcastPending = true;
    } else if (wasPaused) {
      this.sendAppend(m.from, true);
    }
    // Pipelining: keep sending while the flow-control window has room.
    while (this.sendAppend(m.from, false)) { /* fill the window */ }
    if (m.from === this.transferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    this.maybePromoteLearner(pr);
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // If every append that filled the window was lost, nothing would ever be sent again: free one
    // slot so an append goes out; a gap makes the follower reject it and probing resumes (etcd).
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    this.maybePromoteLearner(pr);
    if (this.config.leaseReads && m.readRound > 0 && !pr.learner) {
      const sentTick = this.roundSentTick.get(m.readRound);
      if (sentTick !== undefined && sentTick > (this.ackedSentTick.get(m.from) ?? -Infinity)) this.ackedSentTick.set(m.from, sentTick);
    }
    if (this.leaving !== undefined) {
      if (m.readRound >= this.leaving.round) this.leaving.waiting.delete(m.from);
      if (this.leaving.waiting.size === 0) this.becomeFollower(this.term, NONE);
      return;
    }
    if (m.readRound > 0 && !pr.learner) {
      this.readStates.push(...this.readOnly.acknowledge(m.from, m.readRound, this.id, this.confState.voters));
    }
  }

  /** Commits the highest index a majority holds, if it is of the current term. */
  private maybeCommit(): boolean {
    const index = quorumIndex(this.confState.voters, (id) => this.progress.get(id)?.match ?? 0);
    if (index <= this.log.committed) return false;
    const term = this.log.term(index);
    if (term === undefined || !this.commitCandidateOk(index, term)) return false;
    this.commitTo(index);
    return true;
  }

  private commitTo(index: number): void {
    const wasReady = this.role === 'leader' && this.readIndexReady();
    if (!this.log.commitTo(index)) return;
    this.applyConfChangesUpTo(this.log.committed);
    if (this.role === 'leader' && !wasReady && this.readIndexReady() && this.readsAwaitingCommit.length > 0) {
      const contexts = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const context of contexts) {
        if (this.isSingleVoter()) this.readStates.push({ context, index: this.log.committed });
        else this.readOnly.add(context, this.log.committed);
      }
    }
  }

  /** Sends entries (or a snapshot) to `to`; returns whether anything was sent. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || pr.next < this.log.firstIndex()) return this.sendSnapshot(to, pr);
    const lastIndex = this.log.lastIndex();
    if (pr.next > lastIndex && !sendIfEmpty) return false;
    const entries = pr.next > lastIndex ? [] : this.log.slice(pr.next, lastIndex + 1, this.config.maxMsgBytes);
    this.send({ type: 'append', to, term: this.term, prevIndex, prevTerm, entries, commit: this.log.committed }, false);
    const last = entries[entries.length - 1];
    if (pr.state === 'replicate') {
      if (last) {
        pr.next = last.index + 1;
        pr.inflights.add(last.index, entries.reduce((sum, entry) => sum + entrySize(entry), 0));
      }
    } else if (pr.state === 'probe') {
      pr.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snapshot = this.snapshot;
    assert(snapshot !== undefined, () => `follower ${to} needs compacted entries but there is no snapshot`);
    this.send({ type: 'snapshot', to, term: this.term, snapshot }, false);
    pr.becomeSnapshot(snapshot.meta.index);
    return true;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  /**
   * A voter that acknowledged a heartbeat sent at tick t will not vote for another candidate
   * before it has gone electionTicks of its own ticks without hearing from us, i.e. not before
   * t + electionTicks. Once a majority (us included) acknowledged heartbeats sent at or after t,
   * no other leader can be elected before t + electionTicks; one tick of margin covers tick
   * drift between nodes.
   */
  private leaseValid(): boolean {
    const sent = this.confState.voters
      .map((id) => (id === this.id ? this.tickCount : this.ackedSentTick.get(id) ?? -Infinity))
      .sort((a, b) => b - a);
    const quorumSent = sent[Math.floor(this.confState.voters.length / 2)] ?? -Infinity;
    return this.tickCount - quorumSent < this.config.electionTicks - 1;
  }

  private broadcastHeartbeat(readRound: number): void {
    if (this.config.leaseReads && readRound > 0) {
      this.roundSentTick.set(readRound, this.tickCount);
      // Only rounds of the last election timeout can still matter for a lease.
      for (const [round, tick] of this.roundSentTick) {
        if (this.tickCount - tick > 2 * this.config.electionTicks) this.roundSentTick.delete(round);
      }
    }
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'heartbeat', to: id, term: this.term, commit, readRound }, false);
    }
  }

  /**
   * Starts a ReadIndex round. Thesis §6.4 needs the acknowledgement of a majority, not of every
   * follower, so (without lease reads, whose lease is reckoned from rounds sent to all) the round
   * goes to the fewest voters that complete a majority with this leader, the quickest lately
   * (ReadOnly.compareQuickest: the latest round acknowledged, then who reached it first). In a
   * 3-node cluster that is one follower, which halves the followers' work per read. If one of them
   * does not answer, the next periodic heartbeat carries the round to every follower
   * (ReadOnly.roundToRepeat): the read waits up to a heartbeat interval, and whoever answered
   * first is chosen from then on.
   */
  private sendReadRound(round: number): void {
    const voters = this.confState.voters;
    const needed = Math.floor(voters.length / 2) + 1 - (voters.includes(this.id) ? 1 : 0);
    if (this.config.leaseReads) {
      this.broadcastHeartbeat(round);
      return;
    }
    const others = voters.filter((id) => id !== this.id && this.progress.has(id));
    others.sort((a, b) => this.readOnly.compareQuickest(a, b));
    for (const id of others.slice(0, needed)) {
      const pr = this.progress.get(id)!;
      this.send({ type: 'heartbeat', to: id, term: this.term, commit: Math.min(pr.match, this.log.committed), readRound: round }, false);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeoutNow', to, term: this.term }, false);
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.confState.voters) {
      if (id === this.id || this.progress.get(id)?.recentActive) active++;
    }
    return active >= Math.floor(this.confState.voters.length / 2) + 1;
  }

  private refuseProposal(): ProposeResult | undefined {
    if (this.role !== 'leader') return { ok: false, error: 'not-leader' };
    // A leader leaving the membership is handing over: like a transfer, to a leader to come.
    if (this.transferee !== NONE || this.leaving !== undefined) return { ok: false, error: 'transferring' };
    return undefined;
  }

  private appendProposal(kind: Entry['kind'], data: Uint8Array, change: ConfChange | undefined): ProposeResult {
    const index = this.log.lastIndex() + 1;
    const entry: Entry = change ? { term: this.term, index, kind, data, change } : { term: this.term, index, kind, data };
    this.log.appendOne(entry);
    // Appends go out once per ready(), so a burst of proposals shares one message per follower.
    // A single voter commits in advance(), once the entry is on its own disk.
    this.broadcastPending = true;
    return { ok: true, index, term: this.term };
  }

  // ---------------------------------------------------------------------------------------------
  // Membership (thesis §4.1, §4.2.2)

  private confChangeValid(change: ConfChange): boolean {
    const { voters, learners, removed } = this.confState;
    const id = change.nodeId;
    if (!Number.isInteger(id) || id <= 0) return false;
    switch (change.type) {
      case 'addLearner':
        return !voters.includes(id) && !learners.includes(id) && !removed.includes(id);
      case 'promote':
        return learners.includes(id);
      case 'remove':
        return (voters.includes(id) && voters.length > 1) || learners.includes(id);
      default:
        return assertNever(change.type, 'conf change type');
    }
  }

  /**
   * Applies committed conf entries to the membership, in log order. Re-entrant: applying one
   * may commit more (a smaller quorum), which calls back in here; the scan mark moves before
   * each apply so no entry is applied twice.
   */
  private applyConfChangesUpTo(committed: number): void {
    this.confScanIndex = Math.max(this.confScanIndex, this.log.snapshotIndex);
    while (this.confScanIndex < Math.min(committed, this.log.committed)) {
      const index = ++this.confScanIndex;
      const entry = this.log.entryAt(index);
      if (entry.kind === 'conf' && entry.change) this.applyConfChange(index, entry);
    }
  }

  private applyConfChange(index: number, entry: Entry): void {
    assert(index > this.confIndex, () => `conf change ${index} applied after ${this.confIndex}`);
    const change = entry.change as ConfChange;
    // The entry records the whole resulting configuration (see conf.ts).
    const next = entry.data.length > 0 ? decodeConfState(entry.data) : nextConfState(this.confState, change);
    this.confState = next;
    this.confIndex = index;
    this.confHistory.push({ index, conf: next });
    if (this.role !== 'leader') return;
    if (!next.voters.includes(this.id)) {
      this.leave(index, next);
      return;
    }
    this.syncProgress();
    // Left as the only voter, nobody will acknowledge the rounds of the reads waiting: drop them
    // (the client retries, and a single voter serves a new read at once).
    if (this.isSingleVoter()) this.droppedReads.push(...this.readOnly.dropAll());
    if (this.transferee !== NONE && !next.voters.includes(this.transferee)) this.transferee = NONE;
    // A smaller quorum may commit more at once.
    if (this.maybeCommit()) this.broadcastPending = true;
  }

  /**
   * Thesis §4.2.2: a leader removed from the configuration steps down once the change is
   * committed. It first makes sure the remaining voters know the commit index: a node applies a
   * membership only once it knows it committed, and nobody else may be able to tell them. In a
   * two-voter membership that removes the leader, the other voter would otherwise campaign under
   * the old membership, where it needs the removed node's vote, and never win (the simulator
   * found it, seed 202968, when the leader stepped down without telling; and a single heartbeat,
   * if lost, left the same). So the leader starts a heartbeat round (a heartbeat carries
   * min(match, commit) past any flow control), repeats it every heartbeat interval, refuses
   * commands and reads meanwhile, and steps down once every remaining voter that holds the
   * change has answered it, or after an election timeout. A voter that lacks the change learns it
   * from the next leader.
   */
  private leave(confIndex: number, next: ConfState): void {
    this.dropReads();
    this.transferee = NONE;
    const waiting = new Set(next.voters.filter((id) => (this.progress.get(id)?.match ?? 0) >= confIndex));
    if (waiting.size === 0) {
      this.becomeFollower(this.term, NONE);
      return;
    }
    this.leaving = { round: this.readOnly.startRound(), waiting, ticks: 0 };
    this.heartbeatElapsed = 0;
    this.sendLeavingHeartbeats(this.leaving);
  }

  private sendLeavingHeartbeats(leaving: { readonly round: number; readonly waiting: Set<NodeId> }): void {
    for (const id of leaving.waiting) {
      const pr = this.progress.get(id)!;
      this.send({ type: 'heartbeat', to: id, term: this.term, commit: Math.min(pr.match, this.log.committed), readRound: leaving.round }, false);
    }
  }

  /** Leader: one Progress per member of the current configuration, with the right voter flag. */
  private syncProgress(): void {
    const { voters, learners } = this.confState;
    for (const id of [...this.progress.keys()]) {
      if (!voters.includes(id) && !learners.includes(id)) this.progress.delete(id);
    }
    for (const id of voters) {
      const pr = this.progress.get(id);
      if (pr) pr.learner = false;
      else this.addProgress(id, false);
    }
    for (const id of learners) {
      const pr = this.progress.get(id);
      if (pr) pr.learner = true;
      else this.addProgress(id, true);
    }
  }

  private maybePromoteLearner(pr: Progress): void {
    if (!pr.learner || this.pendingConfIndex > this.log.committed || this.transferee !== NONE) return;
    if (!this.readIndexReady()) return;
    if (pr.match + this.config.promoteLagEntries < this.log.lastIndex()) return;
    this.proposeConfChangeInternal({ type: 'promote', nodeId: pr.id, context: EMPTY });
  }

  private proposeConfChangeInternal(change: ConfChange): void {
    if (!this.confChangeValid(change)) return;
    const result = this.appendProposal('conf', encodeConfState(nextConfState(this.confState, change)), change);
    if (result.ok) this.pendingConfIndex = result.index;
  }

  private addProgress(id: NodeId, learner: boolean): void {
    const pr = new Progress(id, this.log.lastIndex() + 1, learner, this.config.maxInflightMsgs, this.config.maxInflightBytes);
    // A member just added has not had a chance to answer; do not count it as silent yet.
    pr.recentActive = true;
    this.progress.set(id, pr);
  }

  /** Membership as of `index`, which must not be below the oldest entry of confHistory. */
  private confStateAt(index: number): ConfState {
    let conf: ConfState | undefined;
    for (const change of this.confHistory) if (change.index <= index) conf = change.conf;
    assert(conf !== undefined, () => `no membership known at ${index} (history from ${this.confHistory[0]?.index})`);
    return conf;
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private promotable(): boolean {
    return this.confState.voters.includes(this.id);
  }

  private isSingleVoter(): boolean {
    return this.confState.voters.length === 1 && this.confState.voters[0] === this.id;
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  /** Queues a message; `afterPersist` holds it until this Ready's state is durable. */
  private send(message: Outgoing<Message>, afterPersist: boolean): void {
    const full = { ...message, group: this.config.group, from: this.id } as Message;
    if (afterPersist) this.persistMessages.push(full);
    else this.messages.push(full);
  }

  private assertNotInReady(what: string): void {
    assert(this.inFlightReady === undefined, () => `${what}() called between ready() and advance()`);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}
