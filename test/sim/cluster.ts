// A cluster of real Raft cores in one process, each behind a driver loop that follows the Ready
// contract (src/raft/types.ts) to the letter:
//
//   ready() -> send `messages` at once -> simulated fsync of snapshot, hard state and entries
//   (takes 0..persistDelayMsMax ms; a crash before it completes loses the whole batch) -> send
//   `persistMessages` -> install the snapshot, apply `committedEntries` -> serve `readStates`
//   -> advance().
//
// As the contract allows (and the server does), a batch without a snapshot has its committed
// entries applied and its reads served before the fsync instead, chosen at random per batch.
// And half the batches without a snapshot are written asynchronously (advance(false)): the node
// goes on stepping and handing out Ready batches while the write is under way; the writes
// complete in order, each then sends its `persistMessages` and calls persisted(); a crash loses
// every write still under way. A batch written synchronously first completes the writes before it.
//
// While a batch is being persisted the node is busy: messages, ticks and client calls that
// arrive meanwhile wait in its inbox, since nothing may call into the core between ready() and
// advance(). Every Ready is shown to the safety checks (./invariants.ts) as it is handed out.

import { decodeConfState } from '../../src/raft/conf.js';
import { Raft } from '../../src/raft/raft.js';
import { HardStateWrites } from '../../src/raft/durability.js';
import { defaultRaftConfig } from '../../src/raft/config.js';
import { SeededPrng } from '../../src/raft/prng.js';
import {
  NONE,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftConfig,
  type RaftStatus,
  type Ready,
  type RestoreState,
  type Role,
  type Snapshot,
  type SnapshotMeta,
} from '../../src/raft/types.js';
import { schedule, type SimContext } from './context.js';
import { LogMirror, SafetyViolation } from './invariants.js';
import { decodeCommand, KvStateMachine, type KvCommand, type Value } from './kv.js';
import type { Network } from './network.js';
import type { SimOptions } from './options.js';
import { SimStorage } from './storage.js';

/** The core's interface as the driver uses it (the real Raft, or a deliberately broken one). */
export interface RaftCore {
  tick(): void;
  step(m: Message): void;
  propose(data: Uint8Array): ProposeResult;
  proposeConfChange(change: ConfChange): ProposeResult;
  readIndex(context: number): ProposeResult;
  transferLeadership(to: NodeId): void;
  compact(index: number, data: Uint8Array): void;
  snapshotMeta(index: number): SnapshotMeta;
  reportUnreachable(to: NodeId): void;
  reportSnapshot(to: NodeId, ok: boolean): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(persisted?: boolean): void;
  persisted(index: number, term: number): void;
  status(): RaftStatus;
  /** The index of the conf entry (or snapshot) that set the membership in force. */
  readonly membershipIndex: number;
}

export type RaftFactory = (config: RaftConfig, restore: RestoreState) => RaftCore;

export const realRaft: RaftFactory = (config, restore) => new Raft(config, restore);

/** How a write or compare-and-set ended, as far as the client can tell. */
export type WriteOutcome =
  | { readonly kind: 'applied'; readonly ok: boolean }
  /** The node refused it: it never entered a log. */
  | { readonly kind: 'rejected'; readonly error: string; readonly leader: NodeId }
  /** Another entry was applied at its index: it never will be. */
  | { readonly kind: 'lost'; readonly leader: NodeId }
  /** The node crashed or lost track of it: it may or may not take effect. */
  | { readonly kind: 'unknown' };

export type ReadOutcome =
  | { readonly kind: 'ok'; readonly value: Value }
  | { readonly kind: 'rejected'; readonly error: string; readonly leader: NodeId }
  /** The node lost leadership before the read was confirmed. */
  | { readonly kind: 'dropped'; readonly leader: NodeId }
  | { readonly kind: 'unknown' };

interface PendingWrite {
  readonly opId: number;
  readonly term: number;
  readonly done: (outcome: WriteOutcome) => void;
}

interface PendingRead {
  readonly key: string;
  readonly done: (outcome: ReadOutcome) => void;
  /** Set once the ReadState arrived: serve once applied reaches it. */
  index: number | undefined;
}

type Input =
  | { readonly kind: 'step'; readonly msg: Message }
  | { readonly kind: 'tick' }
  | {
    readonly kind: 'call';
    readonly what: string;
    readonly fn: (raft: RaftCore) => void;
    /** Called instead of `fn` when the node goes down before the call reaches the core. */
    readonly lost?: () => void;
  };

export class SimNode {
  raft: RaftCore | undefined;
  /** Bumped at every crash and restart; events of an older life are ignored. */
  incarnation = 0;
  /** Removed from the cluster and shut down for good. */
  stopped = false;
  readonly storage: SimStorage;
  readonly tickMs: number;

  /** Between ready() and advance(): the batch being persisted. */
  inFlight: Ready | undefined;
  /** The in-flight batch's committed entries and reads were handled before its fsync. */
  appliedEarly = false;
  /** Batches handed to advance(false) whose write is under way, oldest first. */
  asyncWrites: Ready[] = [];
  /** When the newest asynchronous write completes (they complete in order). */
  asyncDoneAtMs = 0;
  inbox: Input[] = [];

  // The state machine and what the driver knows about it.
  machine = new KvStateMachine();
  applied = 0;
  appliedTerm = 0;
  /** Membership as of `applied`, for the metadata of the snapshots this node takes. */
  conf: ConfState;

  // The core's volatile state as seen through Ready batches.
  role: Role = 'follower';
  leader: NodeId = NONE;
  term = 0;
  commit = 0;
  /** Highest commit and term ever written to this node's disk. */
  persistedCommit = 0;
  persistedTerm = 0;
  /** Step 2's decisions, as the server's driver makes them (a fresh one at each restart). */
  hardStateWrites = new HardStateWrites();

  /** The node's log (in memory, so including what is not yet persisted) for the checks. */
  mirror = new LogMirror();

  /**
   * Proposals waiting to be applied, by log index. Several may wait on one index: a leader that
   * lost its log suffix and was elected again can propose at an index it proposed at before.
   */
  writes = new Map<number, PendingWrite[]>();
  reads = new Map<number, PendingRead>();

  constructor(readonly id: NodeId, initialConf: ConfState, tickMs: number) {
    this.storage = new SimStorage(initialConf);
    this.conf = initialConf;
    this.tickMs = tickMs;
  }

  get up(): boolean {
    return this.raft !== undefined;
  }
}

const EMPTY_CONF: ConfState = { voters: [], learners: [], removed: [] };
const EMPTY = new Uint8Array(0);
/** A core that keeps producing Ready batches without any input is stuck in a loop. */
const MAX_READY_ROUNDS = 1000;

export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>();
  /** Membership as of the highest index any node has applied. */
  conf: ConfState;
  private confIndex = 0;
  /** Membership after each conf entry, in index order, to check snapshot metadata. */
  private confHistory: { index: number; conf: ConfState }[];
  private nextReadContext = 1;
  private readonly persistPrng: SeededPrng;
  /** The incarnation in which each node led each term (`id@term`). */
  private readonly leaderLives = new Map<string, number>();
  private readonly linkPrng: SeededPrng;
  private readonly snapshotDigests = new WeakMap<Snapshot, number>();
  /** Nodes driven during the current event, for the checks after it. */
  private touched = new Set<SimNode>();

  constructor(
    private readonly ctx: SimContext,
    private readonly options: SimOptions,
    private readonly network: Network,
    private readonly factory: RaftFactory,
    seedPrng: SeededPrng,
  ) {
    this.persistPrng = new SeededPrng(seedPrng.nextU32());
    this.linkPrng = new SeededPrng(seedPrng.nextU32());
    const voters = Array.from({ length: options.nodes }, (_, k) => k + 1);
    this.conf = { voters, learners: [], removed: [] };
    this.confHistory = [{ index: 0, conf: this.conf }];
    for (const id of voters) this.createNode(id, this.conf);
  }

  /** Node ids that are not shut down for good, in id order. */
  liveIds(): NodeId[] {
    return [...this.nodes.values()].filter((node) => !node.stopped).map((node) => node.id);
  }

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** The up node that believes it leads in the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      if (!node.up || node.role !== 'leader') continue;
      if (best === undefined || node.term > best.term) best = node;
    }
    return best;
  }

  /** A node for a member added later: empty state, no membership until the leader sends it. */
  addNode(id: NodeId): SimNode {
    if (this.nodes.has(id)) throw new Error(`node id ${id} reused`);
    return this.createNode(id, EMPTY_CONF);
  }

  private createNode(id: NodeId, initialConf: ConfState): SimNode {
    const drift = Math.round(this.options.tickMs / 10);
    const tickMs = this.options.tickMs - drift + this.linkPrng.nextInt(2 * drift + 1);
    const node = new SimNode(id, initialConf, tickMs);
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  // -----------------------------------------------------------------------------------------
  // Life cycle

  private start(node: NodeId | SimNode): void {
    const n = typeof node === 'number' ? this.node(node) : node;
    n.incarnation++;
    const restore = n.storage.restore(this.options.variant === 'forget-vote');
    const config = defaultRaftConfig(n.id, new SeededPrng(this.linkPrng.nextU32()), {
      electionTicks: this.options.raft.electionTicks,
      heartbeatTicks: this.options.raft.heartbeatTicks,
      preVote: this.options.raft.preVote,
      checkQuorum: this.options.raft.checkQuorum,
      maxInflightMsgs: this.options.raft.maxInflightMsgs,
      maxMsgBytes: this.options.raft.maxMsgBytes,
      promoteLagEntries: this.options.raft.promoteLagEntries,
    });
    const { invariants } = this.ctx;
    // The restarted node's log is what its disk holds; check it like any other log.
    const snapshot = restore.snapshot;
    n.mirror = new LogMirror();
    if (snapshot !== undefined) invariants.resetToSnapshot(n.id, n.mirror, snapshot.meta.index, snapshot.meta.term);
    invariants.appendEntries(n.id, n.mirror, restore.entries);
    n.machine = snapshot === undefined ? new KvStateMachine() : KvStateMachine.fromImage(snapshot.data);
    n.applied = snapshot?.meta.index ?? 0;
    n.appliedTerm = snapshot?.meta.term ?? 0;
    n.conf = snapshot?.meta.confState ?? restore.initialConf;
    if (snapshot !== undefined) invariants.checkState(n.id, n.applied, n.machine.digest(), 'restored from its snapshot at');
    n.role = 'follower';
    n.leader = NONE;
    n.term = restore.hardState.term;
    n.commit = restore.hardState.commit;
    n.inFlight = undefined;
    n.hardStateWrites = new HardStateWrites();
    n.asyncWrites = [];
    n.inbox = [];
    n.raft = this.factory(config, restore);
    invariants.commit(n.id, n.mirror, n.commit);
    this.scheduleTick(n);
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    const unwritten = (node.inFlight === undefined ? 0 : 1) + node.asyncWrites.length;
    const lost = unwritten === 0 ? '' : ` (${unwritten} Ready batch(es) not yet persisted)`;
    this.ctx.coverage.crashes++;
    if (unwritten > 0) this.ctx.coverage.crashesMidReady++;
    this.ctx.trace.add(this.ctx.nowMs, id, 'crash', `role=${node.role} term=${node.term}${lost}`);
    this.takeDown(node);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up || node.stopped) return;
    this.start(node);
    this.ctx.coverage.restarts++;
    this.ctx.trace.add(this.ctx.nowMs, id, 'restart',
      `term=${node.term} commit=${node.commit} log=${node.storage.snapshotIndex()}..${node.storage.lastIndex()}`);
    this.drive(node);
  }

  /**
   * Shuts a removed member down for good (as the server does once it applies its removal, or
   * once the members refuse its connections). Like the server (RaftNode.applyConfChange), not
   * while it leads after applying its own removal: it stays until the remaining voters know the
   * removal committed, or an election timeout passes (Raft.leave). A stale leader that never
   * learned of its removal is stopped at once, as the members' refusal stops it.
   */
  stop(id: NodeId): void {
    const node = this.node(id);
    if (node.stopped) return;
    const status = node.raft?.status();
    if (status !== undefined && status.role === 'leader' && !status.confState.voters.includes(id)) {
      schedule(this.ctx, 50, { kind: 'stop', node: id });
      return;
    }
    this.ctx.trace.add(this.ctx.nowMs, id, 'stop', 'removed from the cluster');
    this.takeDown(node);
    node.stopped = true;
  }

  private takeDown(node: SimNode): void {
    node.raft = undefined;
    node.incarnation++;
    node.inFlight = undefined;
    node.asyncWrites = [];
    const inbox = node.inbox;
    node.inbox = [];
    node.role = 'follower';
    node.leader = NONE;
    for (const input of inbox) if (input.kind === 'call') input.lost?.();
    const writes = [...node.writes.values()].flat();
    const reads = [...node.reads.values()];
    node.writes.clear();
    node.reads.clear();
    for (const write of writes) write.done({ kind: 'unknown' });
    for (const read of reads) read.done({ kind: 'unknown' });
  }

  private scheduleTick(node: SimNode): void {
    schedule(this.ctx, node.tickMs, { kind: 'tick', node: node.id, incarnation: node.incarnation });
  }

  // -----------------------------------------------------------------------------------------
  // Events

  onTick(id: NodeId, incarnation: number): void {
    const node = this.node(id);
    if (!node.up || node.incarnation !== incarnation) return;
    this.scheduleTick(node);
    this.input(node, { kind: 'tick' });
  }

  onDeliver(msg: Message, senderIncarnation: number, copy: number): void {
    const node = this.nodes.get(msg.to);
    const { trace } = this.ctx;
    let delivered = false;
    if (node === undefined || !node.up) {
      trace.add(this.ctx.nowMs, msg.to, 'lost', 'receiver down', msg);
    } else if (!this.network.connected(msg.from, msg.to)) {
      trace.add(this.ctx.nowMs, msg.to, 'lost', 'partitioned', msg);
    } else {
      delivered = true;
      trace.add(this.ctx.nowMs, msg.to, 'deliver', copy > 0 ? '(duplicate)' : '', msg);
      this.input(node, { kind: 'step', msg });
    }
    if (copy > 0) return;
    // The transport tells the sender about snapshots it finished or failed to send, and
    // sometimes about peers it could not reach.
    const sender = this.nodes.get(msg.from);
    if (sender === undefined || !sender.up || sender.incarnation !== senderIncarnation) return;
    if (msg.type === 'snapshot') {
      this.input(sender, { kind: 'call', what: `reportSnapshot(${msg.to}, ${delivered})`, fn: (raft) => raft.reportSnapshot(msg.to, delivered) });
    } else if (!delivered && msg.type === 'append' && this.linkPrng.nextInt(2) === 0) {
      this.input(sender, { kind: 'call', what: `reportUnreachable(${msg.to})`, fn: (raft) => raft.reportUnreachable(msg.to) });
    }
  }

  onPersisted(id: NodeId, incarnation: number): void {
    const node = this.node(id);
    if (!node.up || node.incarnation !== incarnation) return;
    this.finishReady(node);
    this.maybeCompact(node);
    this.drive(node);
  }

  /** The oldest asynchronous write completes (if a synchronous batch has not completed it already). */
  onWritten(id: NodeId, incarnation: number): void {
    const node = this.node(id);
    if (!node.up || node.incarnation !== incarnation) return;
    const rd = node.asyncWrites.shift();
    if (rd === undefined) return;
    this.writeBatch(node, rd);
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) this.input(node, { kind: 'call', what: `persisted(${last.index}, t${last.term})`, fn: (raft) => raft.persisted(last.index, last.term) });
    else this.drive(node);
  }

  // -----------------------------------------------------------------------------------------
  // Calls into the core from clients and the fault schedule (queued while a batch persists)

  /** Runs `fn` against node `id`'s core now, or after its current batch; false if it is down. */
  call(id: NodeId, what: string, fn: (raft: RaftCore) => void): boolean {
    const node = this.nodes.get(id);
    if (node === undefined || !node.up) return false;
    this.input(node, { kind: 'call', what, fn });
    return true;
  }

  submitWrite(id: NodeId, command: KvCommand, data: Uint8Array, done: (outcome: WriteOutcome) => void): void {
    const node = this.nodes.get(id);
    if (node === undefined || !node.up) {
      done({ kind: 'rejected', error: 'unreachable', leader: NONE });
      return;
    }
    this.input(node, {
      kind: 'call',
      what: `propose op ${command.opId}`,
      fn: (raft) => {
        const result = raft.propose(data);
        if (!result.ok) {
          done({ kind: 'rejected', error: result.error, leader: node.leader });
          return;
        }
        const waiting = node.writes.get(result.index);
        const write = { opId: command.opId, term: result.term, done };
        if (waiting === undefined) node.writes.set(result.index, [write]);
        else if (waiting.some((other) => other.term === result.term)) {
          throw new SafetyViolation('Proposal', `node ${id} handed out index ${result.index} twice in term ${result.term}`);
        } else waiting.push(write);
      },
      lost: () => done({ kind: 'rejected', error: 'unreachable', leader: NONE }),
    });
  }

  submitRead(id: NodeId, key: string, done: (outcome: ReadOutcome) => void): void {
    const node = this.nodes.get(id);
    if (node === undefined || !node.up) {
      done({ kind: 'rejected', error: 'unreachable', leader: NONE });
      return;
    }
    const context = this.nextReadContext++;
    this.input(node, {
      kind: 'call',
      what: `readIndex ${context}`,
      fn: (raft) => {
        const result = raft.readIndex(context);
        if (!result.ok) {
          done({ kind: 'rejected', error: result.error, leader: node.leader });
          return;
        }
        node.reads.set(context, { key, done, index: undefined });
      },
      lost: () => done({ kind: 'rejected', error: 'unreachable', leader: NONE }),
    });
  }

  // -----------------------------------------------------------------------------------------
  // The driver loop

  private input(node: SimNode, input: Input): void {
    if (node.inFlight !== undefined) {
      node.inbox.push(input);
      return;
    }
    this.feed(node, input);
    this.drive(node);
  }

  private feed(node: SimNode, input: Input): void {
    const raft = node.raft as RaftCore;
    switch (input.kind) {
      case 'step':
        raft.step(input.msg);
        return;
      case 'tick':
        raft.tick();
        return;
      case 'call':
        input.fn(raft);
        return;
      default:
        throw new Error(`unknown input ${JSON.stringify(input satisfies never)}`);
    }
  }

  /**
   * Feeds the inbox and hands out Ready batches until the core has nothing more to do or a
   * batch waits for its fsync.
   */
  private drive(node: SimNode): void {
    this.touched.add(node);
    for (let rounds = 0; ; rounds++) {
      if (rounds > MAX_READY_ROUNDS) {
        throw new SafetyViolation('Ready loop', `node ${node.id} still has a Ready after ${MAX_READY_ROUNDS} batches in one step`);
      }
      if (!node.up || node.inFlight !== undefined) return;
      if (node.inbox.length > 0) {
        const inputs = node.inbox;
        node.inbox = [];
        for (const input of inputs) {
          if (!node.up) return;
          this.feed(node, input);
        }
        continue;
      }
      if (!(node.raft as RaftCore).hasReady()) return;
      const delayMs = this.persistPrng.nextInt(this.options.persistDelayMsMax + 1);
      const rd = this.startReady(node);
      if (!rd.synchronous && this.persistPrng.nextInt(2) === 0) {
        // An asynchronous write: steps 4 and 5 now, the write later, in order with the others.
        if (!node.appliedEarly) this.applyReady(node, rd);
        node.asyncWrites.push(rd);
        node.inFlight = undefined;
        (node.raft as RaftCore).advance(false);
        const now = this.ctx.nowMs;
        node.asyncDoneAtMs = Math.max(now + delayMs, node.asyncDoneAtMs);
        schedule(this.ctx, node.asyncDoneAtMs - now, { kind: 'written', node: node.id, incarnation: node.incarnation });
        this.ctx.coverage.asyncWrites++;
        this.maybeCompact(node);
        continue;
      }
      if (delayMs > 0) {
        schedule(this.ctx, delayMs, { kind: 'persisted', node: node.id, incarnation: node.incarnation });
        return;
      }
      this.finishReady(node);
      this.maybeCompact(node);
    }
  }

  /** ready(), the checks on it, and step 1 of the contract: send `messages`. */
  private startReady(node: SimNode): Ready {
    const rd = (node.raft as RaftCore).ready();
    node.inFlight = rd;
    const { invariants, trace } = this.ctx;
    const now = this.ctx.nowMs;
    if (rd.hardState !== undefined) {
      const { term, commit } = rd.hardState;
      if (term < node.term) throw new SafetyViolation('Term monotonic', `node ${node.id} term went back from ${node.term} to ${term}`);
      if (commit < node.commit) throw new SafetyViolation('Commit monotonic', `node ${node.id} commit went back from ${node.commit} to ${commit}`);
      node.term = term;
    }
    // Election Safety first: a second leader in a term is the root cause of what follows.
    const becomesLeader = rd.softState?.role === 'leader' && node.role !== 'leader';
    if (becomesLeader) {
      invariants.recordLeader(node.term, node.id, 'role change');
      // Nor may one node lead a term twice, in two lives: its term and vote were durable
      // before it could win, so a restart cannot take it back to an older term.
      const life = this.leaderLives.get(`${node.id}@${node.term}`);
      if (life !== undefined && life !== node.incarnation) {
        throw new SafetyViolation('Election Safety (§5.2)', `node ${node.id} leads term ${node.term} again after a restart (durable term ${node.storage.hardState.term})`);
      }
      this.leaderLives.set(`${node.id}@${node.term}`, node.incarnation);
    }
    if (rd.snapshot !== undefined) {
      trace.add(now, node.id, 'snapshot', `install at ${rd.snapshot.meta.index}/t${rd.snapshot.meta.term}`);
      invariants.resetToSnapshot(node.id, node.mirror, rd.snapshot.meta.index, rd.snapshot.meta.term);
    }
    invariants.appendEntries(node.id, node.mirror, rd.entries);
    if (rd.entries.length > 0) this.forgetOverwrittenWrites(node, rd.entries);
    if (rd.hardState !== undefined && rd.hardState.commit > node.commit) {
      invariants.commit(node.id, node.mirror, rd.hardState.commit);
      trace.add(now, node.id, 'commit', `${node.commit} -> ${rd.hardState.commit} (t${node.term})`);
      node.commit = rd.hardState.commit;
    }
    if (rd.softState !== undefined) {
      const { role, leader } = rd.softState;
      if (role !== node.role || leader !== node.leader) {
        trace.add(now, node.id, 'role', `${role} term=${node.term} leader=${leader} last=${node.mirror.lastIndex()} commit=${node.commit}`);
      }
      if (becomesLeader) invariants.checkLeaderLog(node.id, node.term, node.mirror);
      node.role = role;
      node.leader = leader;
    }
    for (const msg of rd.messages) this.send(node, msg);
    node.appliedEarly = rd.snapshot === undefined && this.persistPrng.nextInt(2) === 0;
    if (node.appliedEarly) this.applyReady(node, rd);
    return rd;
  }

  /**
   * A node whose log suffix was replaced no longer holds the proposals waiting there. Another
   * node may still hold one and a later leader commit it, so their outcome is unknown.
   */
  private forgetOverwrittenWrites(node: SimNode, entries: readonly Entry[]): void {
    const first = (entries[0] as Entry).index;
    for (const [index, writes] of node.writes) {
      if (index < first) continue;
      const term = entries[index - first]?.term;
      const kept = writes.filter((write) => write.term === term);
      if (kept.length === writes.length) continue;
      if (kept.length === 0) node.writes.delete(index);
      else node.writes.set(index, kept);
      for (const write of writes) if (write.term !== term) write.done({ kind: 'unknown' });
    }
  }

  /** Steps 2 to 5 of the contract, then advance(). */
  private finishReady(node: SimNode): void {
    const rd = node.inFlight as Ready;
    // Writes complete in order: asynchronous ones still under way complete before this one.
    const earlier = node.asyncWrites.splice(0);
    for (const write of earlier) this.writeBatch(node, write);
    this.writeBatch(node, rd);
    if (rd.snapshot !== undefined) this.installSnapshot(node, rd.snapshot);
    if (!node.appliedEarly) this.applyReady(node, rd);
    node.inFlight = undefined;
    const raft = node.raft as RaftCore;
    raft.advance();
    for (const write of earlier) {
      const last = write.entries[write.entries.length - 1];
      if (last !== undefined) raft.persisted(last.index, last.term);
    }
  }

  /**
   * Step 2 (the simulated fsync completes) and step 3 (send `persistMessages`). As the server's
   * driver does, a Ready that only moves the commit index writes nothing (mustPersist), so
   * restarts come back with older commit indexes than the nodes had reached.
   */
  private writeBatch(node: SimNode, rd: Ready): void {
    const hardState = node.hardStateWrites.next(rd, node.storage.hardState, (node.raft as RaftCore).membershipIndex);
    if (hardState !== null) this.persistBatch(node, hardState === rd.hardState ? rd : { ...rd, hardState });
    for (const msg of rd.persistMessages) this.send(node, msg);
  }

  private persistBatch(node: SimNode, rd: Ready): void {
    const { trace } = this.ctx;
    const now = this.ctx.nowMs;
    const { storage } = node;
    if (rd.hardState !== undefined) {
      if (rd.hardState.term < node.persistedTerm) {
        throw new SafetyViolation('Term monotonic', `node ${node.id} persists term ${rd.hardState.term} below ${node.persistedTerm}`);
      }
      if (rd.hardState.commit < node.persistedCommit) {
        throw new SafetyViolation('Commit monotonic', `node ${node.id} persists commit ${rd.hardState.commit} below ${node.persistedCommit}`);
      }
    }
    storage.persist(rd.snapshot, rd.hardState, rd.entries);
    if (storage.hardState.commit > storage.lastIndex()) {
      throw new SafetyViolation('Persisted state', `node ${node.id} persisted commit ${storage.hardState.commit} beyond its persisted log (last ${storage.lastIndex()})`);
    }
    node.persistedTerm = storage.hardState.term;
    node.persistedCommit = storage.hardState.commit;
    trace.add(now, node.id, 'persist', describePersist(rd));
  }

  /** Steps 4 and 5: apply `committedEntries`, serve `readStates`, answer `droppedReads`. */
  private applyReady(node: SimNode, rd: Ready): void {
    this.applyEntries(node, rd.committedEntries);
    for (const readState of rd.readStates) {
      const read = node.reads.get(readState.context);
      if (read === undefined) throw new SafetyViolation('ReadIndex', `node ${node.id} released read ${readState.context}, which is not pending`);
      if (read.index !== undefined) throw new SafetyViolation('ReadIndex', `node ${node.id} released read ${readState.context} twice`);
      if (readState.index > node.commit) {
        throw new SafetyViolation('ReadIndex', `node ${node.id} released read ${readState.context} at index ${readState.index} beyond its commit ${node.commit}`);
      }
      read.index = readState.index;
    }
    for (const context of rd.droppedReads) {
      const read = node.reads.get(context);
      if (read === undefined) throw new SafetyViolation('ReadIndex', `node ${node.id} dropped read ${context}, which is not pending`);
      node.reads.delete(context);
      read.done({ kind: 'dropped', leader: node.leader });
    }
    this.serveReads(node);
  }

  private send(node: SimNode, msg: Message): void {
    const { invariants, trace } = this.ctx;
    const now = this.ctx.nowMs;
    switch (msg.type) {
      case 'append':
      case 'heartbeat':
      case 'timeoutNow':
        invariants.recordLeader(msg.term, msg.from, `sent ${msg.type}`);
        break;
      case 'snapshot':
        this.ctx.coverage.snapshotsSent++;
        invariants.recordLeader(msg.term, msg.from, 'sent snapshot');
        invariants.checkSnapshotMessage(msg.from, msg.snapshot, this.snapshotDigest(msg.snapshot));
        this.checkSnapshotConf(msg.from, msg.snapshot);
        break;
      default:
        break;
    }
    const delays = this.network.plan();
    if (delays.length === 0) {
      trace.add(now, node.id, 'drop', '', msg);
      this.ctx.coverage.messagesDropped++;
      if (msg.type === 'snapshot') {
        schedule(this.ctx, this.network.getOptions().delayMsMax, { kind: 'snapshot-lost', msg, senderIncarnation: node.incarnation });
      }
      return;
    }
    trace.add(now, node.id, 'send', delays.length > 1 ? '(duplicated)' : '', msg);
    if (delays.length > 1) this.ctx.coverage.messagesDuplicated++;
    for (const [copy, delayMs] of delays.entries()) {
      schedule(this.ctx, delayMs, { kind: 'deliver', msg, senderIncarnation: node.incarnation, copy });
    }
  }

  /** A snapshot message the network lost: the transport tells its sender it failed. */
  onSnapshotLost(msg: Message, senderIncarnation: number): void {
    const sender = this.nodes.get(msg.from);
    if (sender === undefined || !sender.up || sender.incarnation !== senderIncarnation) return;
    this.input(sender, { kind: 'call', what: `reportSnapshot(${msg.to}, false)`, fn: (raft) => raft.reportSnapshot(msg.to, false) });
  }

  private snapshotDigest(snapshot: Snapshot): number {
    let digest = this.snapshotDigests.get(snapshot);
    if (digest === undefined) {
      digest = KvStateMachine.fromImage(snapshot.data).digest();
      this.snapshotDigests.set(snapshot, digest);
    }
    return digest;
  }

  private checkSnapshotConf(from: NodeId, snapshot: Snapshot): void {
    let conf: ConfState | undefined;
    for (const change of this.confHistory) if (change.index <= snapshot.meta.index) conf = change.conf;
    if (conf !== undefined && !sameConf(conf, snapshot.meta.confState)) {
      throw new SafetyViolation('Snapshot metadata',
        `node ${from} sends a snapshot at ${snapshot.meta.index} with membership ${describeConf(snapshot.meta.confState)}, but the membership there is ${describeConf(conf)}`);
    }
  }

  private installSnapshot(node: SimNode, snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    if (index <= node.applied) {
      throw new SafetyViolation('Snapshot install', `node ${node.id} installs a snapshot at ${index}, not past applied ${node.applied}`);
    }
    this.ctx.coverage.snapshotsInstalled++;
    node.machine = KvStateMachine.fromImage(snapshot.data);
    node.applied = index;
    node.appliedTerm = term;
    node.conf = snapshot.meta.confState;
    this.ctx.invariants.checkState(node.id, index, node.machine.digest(), 'after installing the snapshot at');
    // Writes waiting for an index the snapshot covers cannot tell whether they made it.
    for (const [at, writes] of node.writes) {
      if (at > index) continue;
      node.writes.delete(at);
      for (const write of writes) write.done({ kind: 'unknown' });
    }
  }

  private applyEntries(node: SimNode, entries: readonly Entry[]): void {
    const { invariants, trace } = this.ctx;
    for (const entry of entries) {
      if (entry.index !== node.applied + 1) {
        throw new SafetyViolation('Apply order', `node ${node.id} is handed entry ${entry.index} to apply after applying ${node.applied}`);
      }
      if (entry.index > node.commit) {
        throw new SafetyViolation('Apply order', `node ${node.id} is handed entry ${entry.index} beyond its commit ${node.commit}`);
      }
      let opId: number | undefined;
      let ok = true;
      switch (entry.kind) {
        case 'normal': {
          const result = node.machine.apply(decodeCommand(entry.data));
          opId = result.opId;
          ok = result.ok;
          if (!this.ctx.firstApplies.has(opId)) this.ctx.firstApplies.set(opId, { clock: this.ctx.historyClock++, ok });
          break;
        }
        case 'conf':
          if (entry.change === undefined) throw new SafetyViolation('Apply', `conf entry ${entry.index} without a change`);
          // A conf entry records the whole resulting membership (src/raft/conf.ts).
          node.conf = entry.data.length > 0 ? decodeConfState(entry.data) : applyConfChange(node.conf, entry.change);
          this.learnConf(entry.index, node.conf, entry.change);
          break;
        case 'noop':
          break;
        default:
          throw new Error(`unknown entry kind ${JSON.stringify(entry.kind satisfies never)}`);
      }
      node.applied = entry.index;
      node.appliedTerm = entry.term;
      invariants.applied(node.id, node.mirror, entry, opId, node.machine.digest());
      const writes = node.writes.get(entry.index);
      if (writes !== undefined) {
        node.writes.delete(entry.index);
        for (const write of writes) {
          if (entry.term === write.term && opId === write.opId) write.done({ kind: 'applied', ok });
          else write.done({ kind: 'lost', leader: node.leader });
        }
      }
    }
    if (entries.length > 0) {
      const last = entries[entries.length - 1] as Entry;
      trace.add(this.ctx.nowMs, node.id, 'apply', `${entries[0]?.index}..${last.index} state: ${node.machine.describe()}`);
    }
  }

  /** The leader of the highest term that had one. */
  private latestLeader(): NodeId {
    let term = -1;
    let leader = NONE;
    for (const [t, id] of this.ctx.invariants.leaders) {
      if (t > term) {
        term = t;
        leader = id;
      }
    }
    return leader;
  }

  /** The first node to apply a conf entry tells the cluster its membership changed. */
  private learnConf(index: number, conf: ConfState, change: ConfChange): void {
    if (index <= this.confIndex) return;
    const expected = applyConfChange(this.conf, change);
    if (!sameConf(conf, expected)) {
      throw new SafetyViolation('Membership',
        `conf entry ${index} (${change.type} ${change.nodeId}) records ${describeConf(conf)}, but applied to ${describeConf(this.conf)} it gives ${describeConf(expected)}`);
    }
    this.confIndex = index;
    this.conf = conf;
    this.confHistory.push({ index, conf });
    this.ctx.coverage.membershipChanges++;
    if (change.type === 'remove' && change.nodeId === this.latestLeader()) this.ctx.coverage.leaderRemovals++;
    this.ctx.trace.add(this.ctx.nowMs, 0, 'fault', `membership at ${index} (${change.type} ${change.nodeId}): ${describeConf(conf)}`);
    if (change.type === 'remove') {
      // The removed node is shut down a little later, once it is no longer leader (see stop()).
      schedule(this.ctx, this.linkPrng.nextInt(300), { kind: 'stop', node: change.nodeId });
    }
  }

  private serveReads(node: SimNode): void {
    for (const [context, read] of node.reads) {
      if (read.index === undefined || read.index > node.applied) continue;
      node.reads.delete(context);
      read.done({ kind: 'ok', value: node.machine.get(read.key) });
    }
  }

  /** Snapshot the state machine at the applied index every so often, and compact the log. */
  private maybeCompact(node: SimNode): void {
    if (!node.up || node.inFlight !== undefined) return;
    const { storage } = node;
    if (node.applied - storage.snapshotIndex() < this.options.compactEveryEntries) return;
    if (node.applied > storage.lastIndex()) {
      throw new SafetyViolation('Apply order', `node ${node.id} applied ${node.applied}, beyond its persisted log (last ${storage.lastIndex()})`);
    }
    const data = node.machine.image();
    const snapshot: Snapshot = { meta: { index: node.applied, term: node.appliedTerm, confState: node.conf }, data };
    // The core's idea of the snapshot's metadata must match what the driver applied.
    const coreMeta = (node.raft as RaftCore).snapshotMeta(node.applied);
    if (coreMeta.term !== snapshot.meta.term || !sameConf(coreMeta.confState, snapshot.meta.confState)) {
      throw new SafetyViolation('Snapshot metadata',
        `node ${node.id} at applied ${node.applied}: the core says term ${coreMeta.term}, ${describeConf(coreMeta.confState)}; the applied entries say term ${snapshot.meta.term}, ${describeConf(snapshot.meta.confState)}`);
    }
    (node.raft as RaftCore).compact(node.applied, data);
    storage.compact(snapshot);
    this.ctx.coverage.compactions++;
    this.ctx.trace.add(this.ctx.nowMs, node.id, 'compact', `snapshot at ${node.applied}/t${node.appliedTerm}`);
  }

  /** Checks after every event, on each node it touched. */
  checkTouched(): void {
    for (const node of this.touched) this.checkStatus(node);
    this.touched.clear();
  }

  /** What the core reports must agree with what it handed out. */
  private checkStatus(node: SimNode): void {
    const id = node.id;
    if (!node.up) return;
    const status = (node.raft as RaftCore).status();
    if (status.term < node.term) throw new SafetyViolation('Term monotonic', `node ${id} status term ${status.term} below ${node.term}`);
    if (status.commit < node.commit) throw new SafetyViolation('Commit monotonic', `node ${id} status commit ${status.commit} below ${node.commit}`);
    if (status.applied > status.commit) throw new SafetyViolation('Applied <= commit', `node ${id} applied ${status.applied} > commit ${status.commit}`);
    if (status.commit > status.lastIndex) throw new SafetyViolation('Commit <= last index', `node ${id} commit ${status.commit} > last index ${status.lastIndex}`);
    if (status.role === 'leader') this.ctx.invariants.recordLeader(status.term, id, 'status');
  }

  /** Proposes a membership change at node `at`, reporting the result. */
  proposeConfChange(at: NodeId, change: ConfChange, done: (result: ProposeResult) => void): boolean {
    const node = this.nodes.get(at);
    if (node === undefined || !node.up) return false;
    this.input(node, {
      kind: 'call',
      what: `proposeConfChange ${change.type} ${change.nodeId}`,
      fn: (raft) => done(raft.proposeConfChange(change)),
      lost: () => done({ ok: false, error: 'not-leader' }),
    });
    return true;
  }

  emptyContext(): Uint8Array {
    return EMPTY;
  }
}

export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const id = change.nodeId;
  switch (change.type) {
    case 'addLearner':
      return { voters: conf.voters, learners: [...conf.learners, id], removed: conf.removed };
    case 'promote':
      return { voters: [...conf.voters, id], learners: conf.learners.filter((other) => other !== id), removed: conf.removed };
    case 'remove':
      return {
        voters: conf.voters.filter((other) => other !== id),
        learners: conf.learners.filter((other) => other !== id),
        removed: [...conf.removed, id],
      };
    default:
      throw new Error(`unknown conf change ${JSON.stringify(change.type satisfies never)}`);
  }
}

function sameConf(a: ConfState, b: ConfState): boolean {
  const same = (x: readonly NodeId[], y: readonly NodeId[]): boolean =>
    x.length === y.length && [...x].sort((p, q) => p - q).every((id, k) => id === [...y].sort((p, q) => p - q)[k]);
  return same(a.voters, b.voters) && same(a.learners, b.learners) && same(a.removed, b.removed);
}

export function describeConf(conf: ConfState): string {
  const learners = conf.learners.length > 0 ? ` learners {${conf.learners.join(',')}}` : '';
  return `voters {${conf.voters.join(',')}}${learners}`;
}

function describePersist(rd: Ready): string {
  const parts: string[] = [];
  if (rd.snapshot !== undefined) parts.push(`snapshot ${rd.snapshot.meta.index}/t${rd.snapshot.meta.term}`);
  if (rd.hardState !== undefined) parts.push(`hs term=${rd.hardState.term} vote=${rd.hardState.vote} commit=${rd.hardState.commit}`);
  if (rd.entries.length > 0) {
    const first = rd.entries[0] as Entry;
    const last = rd.entries[rd.entries.length - 1] as Entry;
    parts.push(`entries ${first.index}..${last.index} (t${first.term}..t${last.term})`);
  }
  return parts.join(', ');
}
