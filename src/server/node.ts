// The raftis node: the driver that owns every timer, socket and file around the pure Raft core.
//
// The driver loop follows the core's Ready contract (src/raft/types.ts, docs/raft.md):
//   ready() → send messages → apply committed entries and serve reads while this Ready is
//   persisted (one fsync) → send persistMessages → advance(). A Ready with a snapshot is
//   persisted and installed before anything is applied; with --async-writes the write goes to a
//   background writer and advance(false) follows at once (see cycle()).
// Everything that wants the core (a peer message, a tick, a client proposal) while a cycle is
// persisting waits in a queue and runs right after advance(); that waiting is what batches many
// proposals into one log append and one fsync (group commit). Cycles are started with
// setImmediate, so all the commands that arrived in one event-loop turn share a cycle.
//
// The node implements the client connections' Executor (src/server/executor.ts): writes are
// proposed and answered when applied, reads wait for a ReadIndex round and for the state machine
// to reach it, and a follower forwards to the leader (or answers -MOVED in redirect mode).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { CommandSpec } from '../commands/types.js';
import {
  HardStateWrites, NONE, Raft, SeededPrng, defaultRaftConfig, type ConfChange, type ConfState, type Entry, type Message, type NodeId, type ProposeResult, type RaftStatus, type Ready, type SnapshotMessage,
} from '../raft/index.js';
import type { Reply } from '../resp/reply.js';
import { encodeExpiryEntry, encodeTransactionEntry, encodeWrite, StateMachine } from '../state/index.js';
import { openStorage, StorageWriteError, toRestoreState, type DiskStorage } from '../storage/index.js';
import { PeerTransport } from '../transport/transport.js';
import type { ClientView, Completion, Executor, ReadConsistency, Watch } from './executor.js';
import { LeaderProxy } from './leader-proxy.js';
import { PendingWrites } from './pending-writes.js';
import { memberRank, snapshotDue, snapshotMayBeDue } from './snapshot-rule.js';
import {
  decodeMemberAddress, decodeMemberTable, encodeMemberAddress, encodeMemberTable, KnownPeersFile, loadKnownPeers, type MemberAddress,
} from './members.js';
import { writeFileAtomic } from './atomic-file.js';
import { keySlot } from './slots.js';
import { emptyWriteBatch, entriesAbove, mergeIntoBatch, type WriteBatch } from './write-batch.js';

export type FollowerMode = 'proxy' | 'redirect';

const BOOTSTRAP_FILE = 'cluster.json';

interface Bootstrap {
  readonly clusterId: string;
  readonly voters: readonly NodeId[];
  readonly members: Map<NodeId, MemberAddress>;
}

/**
 * The membership a node bootstraps with. Like etcd's --initial-cluster, the --peers flag only
 * matters the first time a data directory is used: it is then written to cluster.json (atomically:
 * temporary file, fsync, rename, directory fsync), and every later start reads it from there, so a
 * node restarted without flags (or with different ones) still knows the cluster it belongs to. The
 * membership after bootstrap comes from the log and snapshots.
 */
async function loadBootstrap(options: NodeOptions, log: Logger): Promise<Bootstrap> {
  const file = path.join(options.dataDir, BOOTSTRAP_FILE);
  try {
    const saved = JSON.parse(await fs.readFile(file, 'utf8')) as { clusterId: string; voters: NodeId[]; members: (MemberAddress & { id: NodeId })[] };
    if (saved.clusterId !== options.clusterId) {
      throw new Error(`${file} belongs to cluster "${saved.clusterId}", not "${options.clusterId}"`);
    }
    const members = new Map(saved.members.map(({ id, host, clientPort, peerPort }) => [id, { host, clientPort, peerPort }]));
    const flagged = [...options.peers.keys()].sort().join(',');
    if (options.peersFromFlag && flagged !== [...saved.voters].sort().join(',')) {
      log.warn({ file, saved: saved.voters, flags: flagged }, '--peers differs from the bootstrapped membership and is ignored (membership comes from the log)');
    }
    return { clusterId: saved.clusterId, voters: saved.voters, members };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const bootstrap: Bootstrap = { clusterId: options.clusterId, voters: [...options.peers.keys()], members: new Map(options.peers) };
  await fs.mkdir(options.dataDir, { recursive: true });
  const body = JSON.stringify({ clusterId: bootstrap.clusterId, voters: bootstrap.voters,
    members: [...bootstrap.members].map(([id, address]) => ({ id, ...address })) }, null, 2);
  await writeFileAtomic(file, body, true);
  return bootstrap;
}

export interface NodeOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** Every initial member, this node included. Empty when joining an existing cluster. */
  readonly peers: ReadonlyMap<NodeId, MemberAddress>;
  /** Whether `peers` came from --peers (rather than the single-node default). */
  readonly peersFromFlag?: boolean;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly fsync: 'always' | 'never';
  readonly repairWal: boolean;
  /** Take a snapshot once this many entries follow the last one. */
  readonly snapshotEntries: number;
  /**
   * Or once the entries logged since the last snapshot take at least this many bytes and at
   * least as many as that snapshot (Redis's auto-aof-rewrite-min-size with percentage 100).
   */
  readonly snapshotLogBytes: number;
  /**
   * Write the log in the background (Ready.synchronous batches excepted) instead of holding
   * the loop for each fsync. Off by default: on the reference machine it did not raise
   * throughput and cost about a fifth more CPU per write (docs/performance.md).
   */
  readonly asyncWrites: boolean;
  readonly snapshotsRetained: number;
  readonly followerMode: FollowerMode;
  /** `lease`: the leader serves reads under a lease (see docs/raft.md for the clock assumption). */
  readonly readMode: 'linearizable' | 'lease';
  /** How long a command waits for a leader before -CLUSTERDOWN. */
  readonly leaderWaitMs: number;
  /** How long a write waits to be applied before its client is told the outcome is unknown. */
  readonly commandTimeoutMs: number;
  readonly requirepass: string | undefined;
  readonly secret: string | undefined;
  readonly logger: Logger;
  /** Called once the node has removed itself (CLUSTER LEAVE) or was removed. */
  readonly onRemoved?: () => void;
  /** Called after the driver hit an error it cannot continue from (the node is closed). */
  readonly onFatal?: (error: unknown) => void;
}

/** What takeSnapshot did: wrote one, found one already being written, had nothing new, or failed. */
export type SnapshotOutcome =
  | { readonly status: 'taken'; readonly index: number; readonly bytes: number }
  | { readonly status: 'busy' }
  | { readonly status: 'current'; readonly index: number }
  | { readonly status: 'failed'; readonly error: string };

/** A client command that reached the leader during a cycle, run when the cycle ends. */
interface DeferredCommand {
  readonly kind: 'write' | 'read';
  readonly db: number;
  readonly argv: readonly Buffer[];
  readonly completion: Completion;
}

/**
 * A linearizable read. It is evaluated on the state machine exactly at `target` (after entry
 * `target` is applied and before `target + 1`), and answered once ReadIndex has confirmed this
 * node still leads. `target` = the last index of the leader's log when the read arrived: every
 * write acknowledged before the read (committed) and every earlier command of the same client
 * (proposed) is visible, and no later write is, so a client's pipeline reads as it was sent.
 */
interface PendingRead {
  readonly db: number;
  readonly argv: readonly Buffer[];
  readonly completion: Completion;
  readonly target: number;
  readonly deadline: number;
  /** The reply computed at `target`, once the state machine got there. */
  reply: Reply | undefined;
  /** ReadIndex confirmed leadership for this read. */
  confirmed: boolean;
  done: boolean;
}

const EMPTY = new Uint8Array(0);
const NO_ARGS: readonly Buffer[] = [];

function errorReply(message: string): Reply {
  return { kind: 'error', value: message };
}

/**
 * ReadIndex requests under way at once (see readsToConfirm). One, as etcd's linearizableReadLoop:
 * each round then confirms every read that arrived while the one before it was out. With two,
 * GET -P 1 was 0.88x as fast and its three nodes' CPU per read 1.19x (compare-ab, 6 rounds;
 * docs/performance.md, fourteenth session): 1.7x the heartbeat rounds, each waking a follower.
 */
const READ_INDEX_IN_FLIGHT = 1;
/** A WAL record's framing and an entry's header, roughly, for the snapshot size rule. */
const ENTRY_OVERHEAD_BYTES = 32;
const TIMEOUT_REPLY = errorReply('TIMEOUT the command was not confirmed in time: it may or may not have been applied');
const LOST_REPLY = errorReply('ERR the command was lost in a leader change; it was not applied');
const APPLIED_REPLY_LOST = errorReply('TIMEOUT the command was applied, but this node caught up through a snapshot and has no reply for it');

export class RaftNode implements Executor {
  /** Reads are evaluated at their own point in the log (see PendingRead), never after later writes. */
  readonly isolatesReadsFromLaterWrites = true;
  readonly options: NodeOptions;
  readonly machine = new StateMachine();
  readonly members = new Map<NodeId, MemberAddress>();
  private raft!: Raft;
  private storage!: DiskStorage;
  private transport!: PeerTransport;
  private readonly proxy: LeaderProxy;
  /** <data-dir>/peers.json: the member addresses this node knows, for its next start. */
  private readonly knownPeers: KnownPeersFile;
  private readonly log: Logger;

  private busy = false;
  private scheduled = false;
  /**
   * What waits for the cycle under way: callbacks, and client commands that reached the leader
   * meanwhile (most of them under load), kept as plain records rather than closures. One queue,
   * so commands keep their order among themselves and with the transactions routed as closures.
   */
  private queue: (DeferredCommand | (() => void))[] = [];
  private readonly pendingWrites = new PendingWrites();
  private readonly pendingConf = new Map<number, { term: number; done: (reply: Reply) => void }>();
  /**
   * Reads not yet answered. Each is in readsToConfirm, in a readBatches entry, or (confirmed,
   * waiting for the state machine to reach its target) in unevaluatedReads: see pendingReadList.
   */
  private pendingReadCount = 0;
  /** Reads by ReadIndex context, until the context is confirmed or dropped. */
  private readonly readBatches = new Map<number, PendingRead[]>();
  /**
   * At most READ_INDEX_IN_FLIGHT ReadIndex requests are under way at a time (etcd's
   * linearizableReadLoop keeps one): reads that arrive meanwhile wait here, and the next
   * request, made after they all arrived, confirms them together. Under load that is far fewer
   * heartbeat rounds; a read waits at most for one round to end before its own starts.
   */
  private readsToConfirm: PendingRead[] = [];
  private readonly readsInFlight = new Set<number>();
  /** Reads not yet evaluated, in arrival order (targets never decrease along it). */
  private unevaluatedReads: PendingRead[] = [];
  private leaderWaiters: { deadline: number; run: () => void; fail: (reply: Reply) => void }[] = [];
  private readSeq = 0;
  /** The last log index applied (of any kind: the machine's own index skips no-ops). */
  private appliedThrough = 0;
  private lastProposedIndex = 0;
  private expiryInFlight = 0;
  private clockFloorMs = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private snapshotting = false;
  /** The next asynchronous write, gathering the Readys that come while one is under way. */
  private writeQueued: WriteBatch | undefined;
  private writing = false;
  private writeFailed = false;
  private writeWaiters: (() => void)[] = [];
  /** The index storage.compact() was last asked for: queued entries at or below it are not written. */
  private compactedThrough = 0;
  /**
   * Bytes of the entries applied since the last snapshot (data plus an estimate of the record
   * overhead): what a snapshot at the applied index would let the log drop.
   */
  private logBytesSinceSnapshot = 0;
  /** Size of the newest snapshot, taken or installed. */
  private lastSnapshotBytes = 0;
  private diskFailure: string | undefined;
  /** Step 2's decisions: the hard state left unwritten because only its commit index moved (see persist). */
  private readonly hardStateWrites = new HardStateWrites();
  private closed = false;
  private stopping = false;
  private removed = false;
  /** Removed while leader: stop once the core has stepped down (see applyConfChange). */
  private stopOnceFollower = false;
  private lastRole: RaftStatus['role'] = 'follower';
  private lastLeader: NodeId = NONE;
  /** Peers whose snapshot stream is under way. */
  private readonly snapshotsInFlight = new Set<NodeId>();
  readonly stats = { proposals: 0, reads: 0, readIndexRequests: 0, forwarded: 0, applied: 0, snapshotsTaken: 0, snapshotsInstalled: 0, elections: 0 };

  private constructor(options: NodeOptions) {
    this.options = options;
    this.log = options.logger;
    this.proxy = new LeaderProxy(4, options.host, options.requirepass);
    this.knownPeers = new KnownPeersFile(options.dataDir, options.logger);
  }

  static async start(options: NodeOptions): Promise<RaftNode> {
    const node = new RaftNode(options);
    await node.open();
    return node;
  }

  private async open(): Promise<void> {
    const { options } = this;
    const { storage, recovered } = await openStorage(options.dataDir, {
      fsync: options.fsync,
      repair: options.repairWal,
      snapshotsRetained: options.snapshotsRetained,
      logger: this.log,
    });
    this.storage = storage;
    const bootstrap = await loadBootstrap(options, this.log);
    for (const [id, address] of bootstrap.members) this.members.set(id, address);
    for (const [id, address] of await loadKnownPeers(options.dataDir)) this.members.set(id, address);
    if (recovered.snapshot) {
      for (const [id, address] of decodeMemberTable(recovered.snapshot.metadata)) this.members.set(id, address);
      await this.installSnapshotFile(recovered.snapshot.meta.index, recovered.snapshot.meta.term);
    }
    const initialConf: ConfState = { voters: [...bootstrap.members.keys()].filter((id) => bootstrap.voters.includes(id)), learners: [], removed: [] };
    // Membership entries above the snapshot carry the addresses of the members they add.
    for (const entry of recovered.entries) if (entry.kind === 'conf' && entry.change) this.learnAddress(entry.change);
    const seed = randomBytes(4).readUInt32LE(0);
    this.raft = new Raft(
      defaultRaftConfig(options.id, new SeededPrng(seed), {
        electionTicks: options.electionTicks,
        heartbeatTicks: options.heartbeatTicks,
        leaseReads: options.readMode === 'lease',
      }),
      toRestoreState(recovered, initialConf),
    );
    this.lastProposedIndex = this.raft.status().lastIndex;
    this.transport = new PeerTransport({
      id: options.id,
      clusterId: options.clusterId,
      listen: { host: options.host, port: options.peerPort },
      secret: options.secret,
      removed: this.raft.status().confState.removed,
      logger: this.log,
      onMessage: (message) => this.withRaft(() => this.raft.step(message)),
      onUnreachable: (id) => this.withRaft(() => this.raft.reportUnreachable(id)),
      onSnapshot: (message, chunks) => this.receiveSnapshot(message, chunks),
      // A node that joined knows nobody's address until a member dials it: learn it from there.
      onPeerAddress: (id, address) => this.learnPeerAddress(id, address.host, address.port),
      onRemovedByPeer: (by) => this.onRemovedByPeer(by),
      // After --repair-wal this node may lack entries it acknowledged: its hellos say so, and a
      // leader that hears it starts replicating to it from scratch (Raft.reportLogLost).
      logLost: options.repairWal,
      onPeerLogLost: (id) => this.withRaft(() => {
        if (this.raft.currentRole !== 'leader') return;
        this.log.info({ peer: id }, 'peer says its log lost entries it had acknowledged (--repair-wal); probing it from the end of the log');
        this.raft.reportLogLost(id);
      }),
    });
    await this.transport.listen();
    this.syncPeers();
    this.tickTimer = setInterval(() => this.onTick(), options.tickMs);
    this.log.info({ id: options.id, term: this.raft.status().term, lastIndex: this.raft.status().lastIndex,
      snapshotIndex: recovered.snapshot?.meta.index ?? 0 }, 'node started');
    this.schedule();
  }

  // ---------------------------------------------------------------------------------------------
  // The driver loop

  /** Runs `fn` against the core now, or right after the cycle under way. */
  private withRaft(fn: () => void): void {
    if (this.closed) return;
    if (this.busy) {
      this.queue.push(fn);
      return;
    }
    fn();
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.busy || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startWaitingReads();
      void this.cycle();
    });
  }

  private async cycle(): Promise<void> {
    if (this.busy || this.closed || !this.raft.hasReady()) return;
    this.busy = true;
    try {
      const ready = this.raft.ready();
      this.noteSoftState(ready);
      this.sendAll(ready.messages);
      // While the disk refuses writes, every batch waits for it: the loop stalls, a leader stops
      // sending heartbeats, and the others elect a leader that can write.
      if (this.options.asyncWrites && !ready.synchronous && this.diskFailure === undefined) {
        // Asynchronous storage writes (etcd's AsyncStorageWrites): the write of this Ready's
        // entries and hard state is queued behind the ones under way, and the core goes on
        // stepping meanwhile, so a follower's acknowledgement is counted as soon as it arrives,
        // not after this node's own fsync. What must wait for the disk does: persistMessages
        // (votes, acknowledgements) are sent, and the core told persisted(), once the write is
        // durable. Committed entries are applied now: the core hands out only entries durable
        // here and on a majority.
        this.applyReady(ready);
        this.writeAsync(ready);
        this.raft.advance(false);
      } else {
        // Synchronous writes (the default; with --async-writes, a snapshot, a new term or vote
        // (see Ready.synchronous) or a failing disk): every earlier write completes first.
        // Committed entries are already on a majority's disks (the leader counts its own match
        // only for entries on its disk), so they are applied while this Ready's new entries are
        // being written, not after: a reply then waits for one fsync, not two (etcd's server
        // applies during its WAL save too). A snapshot must be installed first, so with one the
        // order stays persist, install, apply.
        await this.writesDone();
        const applyFirst = ready.snapshot === undefined;
        if (applyFirst) this.applyReady(ready);
        await this.persist(ready);
        if (this.closed) return;
        this.sendAll(ready.persistMessages);
        if (ready.snapshot) {
          await this.installSnapshotFile(ready.snapshot.meta.index, ready.snapshot.meta.term);
          this.logBytesSinceSnapshot = 0;
          this.settleCoveredBySnapshot(ready.snapshot.meta.index, ready.snapshot.meta.term);
        }
        if (!applyFirst) this.applyReady(ready);
        this.raft.advance();
      }
    } catch (error) {
      // A failed assertion or an unexpected error in the loop: the node cannot vouch for its
      // state any more. Stop rather than risk serving something wrong.
      this.log.fatal({ err: error }, 'driver loop failed; stopping the node');
      this.busy = false;
      void this.shutdownNow(1).finally(() => this.options.onFatal?.(error));
      return;
    }
    this.busy = false;
    const queued = this.queue;
    this.queue = [];
    for (const item of queued) {
      if (typeof item === 'function') item();
      else this.runAsLeader(item.kind, item.db, item.argv, item.completion);
    }
    this.maybeSnapshot();
    this.schedule();
  }

  /**
   * Queues the write of a Ready's entries and hard state. One write is under way at a time;
   * Readys that come meanwhile are merged into the next one (group commit), which then carries
   * their entries (a later Ready's entries replace an earlier one's from their first index on),
   * the newest hard state, and all their persistMessages, in order.
   */
  private writeAsync(ready: Ready): void {
    if (this.writeFailed) return;
    const needsWrite = ready.hardState !== undefined || ready.entries.length > 0;
    if (!needsWrite && ready.persistMessages.length === 0) return;
    if (!needsWrite && this.writeQueued === undefined && !this.writing) {
      // Nothing to write and nothing being written: the messages depend on nothing new.
      this.sendAll(ready.persistMessages);
      return;
    }
    this.writeQueued ??= emptyWriteBatch();
    mergeIntoBatch(this.writeQueued, ready);
    if (!this.writing) void this.runWrites();
  }

  /** Writes queued batches one after another until none is left. */
  private async runWrites(): Promise<void> {
    this.writing = true;
    try {
      for (let batch = this.writeQueued; batch !== undefined && !this.closed; batch = this.writeQueued) {
        this.writeQueued = undefined;
        // Entries a snapshot has covered since they were queued are on disk already (their
        // durable copy let the snapshot be taken) and below the log's new start: skip them.
        const entries = entriesAbove(batch, this.compactedThrough);
        await this.persist({ hardState: batch.hardState, entries, snapshot: undefined });
        if (this.closed) return;
        this.sendAll(batch.persistMessages);
        const last = entries[entries.length - 1];
        if (last !== undefined) this.withRaft(() => this.raft.persisted(last.index, last.term));
      }
    } catch (error) {
      this.writeFailed = true;
      this.log.fatal({ err: error }, 'log write failed; stopping the node');
      void this.shutdownNow(1).finally(() => this.options.onFatal?.(error));
    } finally {
      this.writing = false;
      for (const waiter of this.writeWaiters.splice(0)) waiter();
    }
  }

  /** Resolves once no write is under way or queued. */
  private writesDone(): Promise<void> {
    if (!this.writing && this.writeQueued === undefined) return Promise.resolve();
    return new Promise((resolve) => this.writeWaiters.push(resolve));
  }

  private applyReady(ready: Ready): void {
    this.applyEntries(ready.committedEntries);
    for (const state of ready.readStates) this.readConfirmed(state.context);
    for (const context of ready.droppedReads) this.readDropped(context);
  }

  /**
   * Persists a Ready; on a disk error keeps retrying (the node refuses writes meanwhile). A Ready
   * that only moves the commit index writes nothing (mustPersist). The core hands out a hard state
   * once, when it changes, so the one left unwritten goes with the next write (or is written at a
   * graceful shutdown).
   */
  private async persist(ready: Pick<Ready, 'hardState' | 'entries' | 'snapshot'>): Promise<void> {
    const hardState = this.hardStateWrites.next(ready, this.storage.hardState, this.raft.membershipIndex);
    if (hardState === null) return;
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.storage.save({ hardState, entries: ready.entries, snapshot: ready.snapshot });
        if (this.diskFailure !== undefined) {
          this.log.warn({ attempt }, 'disk writes succeed again; accepting writes');
          this.diskFailure = undefined;
        }
        return;
      } catch (error) {
        if (!(error instanceof StorageWriteError)) throw error;
        if (this.diskFailure === undefined) this.log.error({ err: error }, 'disk write failed; refusing writes until it succeeds');
        this.diskFailure = `${error.code ?? 'EIO'}: ${error.message}`;
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** Math.min(attempt, 5))));
        await this.storage.retry().catch((retryError: unknown) => this.log.warn({ err: retryError }, 'storage retry failed'));
      }
    }
  }

  private sendAll(messages: readonly Message[]): void {
    for (const message of messages) {
      if (message.type === 'snapshot') this.sendSnapshot(message);
      else this.transport.send(message);
    }
  }

  private noteSoftState(ready: Ready): void {
    const soft = ready.softState;
    if (!soft) return;
    const term = this.raft.status().term;
    if (soft.role !== this.lastRole) {
      if (soft.role === 'leader') {
        this.stats.elections++;
        this.log.info({ term }, `became leader for term ${term}`);
        // The leader's clock must not go below any entry already in the log (thesis §6.3
        // does not need it, but deterministic expiry does).
        this.clockFloorMs = Math.max(this.clockFloorMs, this.machine.lastTimeMs);
      } else if (this.lastRole === 'leader') {
        this.log.info({ term }, `stepped down in term ${term}`);
        if (this.stopOnceFollower) {
          this.stopOnceFollower = false;
          this.log.warn({ term }, 'the remaining members know this node was removed; stopping');
          setImmediate(() => this.options.onRemoved?.());
        }
      } else if (soft.role === 'candidate') {
        this.log.info({ term }, `campaigning in term ${term}`);
      }
    }
    if (soft.leader !== this.lastLeader && soft.leader !== NONE && soft.role !== 'leader') {
      this.log.info({ term, leader: soft.leader }, `following leader ${soft.leader} in term ${term}`);
    }
    this.lastRole = soft.role;
    this.lastLeader = soft.leader;
    const leader = soft.leader !== NONE && soft.leader !== this.options.id ? this.members.get(soft.leader) : undefined;
    this.proxy.setLeader(leader?.host, leader?.clientPort);
    if (soft.leader !== NONE) {
      const waiters = this.leaderWaiters;
      this.leaderWaiters = [];
      // Run after this cycle: they call back into the core.
      this.queue.push(() => { for (const waiter of waiters) waiter.run(); });
    }
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      this.logBytesSinceSnapshot += entry.data.length + ENTRY_OVERHEAD_BYTES;
      // Reads aimed at the state just before this entry are evaluated now.
      if (this.unevaluatedReads.length > 0) this.evaluateReadsThrough(entry.index - 1);
      if (entry.kind === 'normal') {
        const reply = this.machine.apply(entry.index, entry.data);
        this.stats.applied++;
        // A proposal here of another term: another leader's entry took our index, so ours was
        // never committed.
        if (this.pendingWrites.size > 0) this.pendingWrites.applied(entry.index, entry.term, reply, LOST_REPLY);
        if (entry.index === this.expiryInFlight) this.expiryInFlight = 0;
      } else if (entry.kind === 'conf' && entry.change) {
        this.applyConfChange(entry);
      }
      const conf = this.pendingConf.get(entry.index);
      if (conf) {
        this.pendingConf.delete(entry.index);
        conf.done(conf.term === entry.term ? { kind: 'simple', value: 'OK' } : errorReply('ERR the membership change was lost in a leader change'));
      }
    }
    // Proposals below the applied index that never showed up were overwritten.
    if (entries.length > 0) {
      this.appliedThrough = (entries[entries.length - 1] as Entry).index;
      this.pendingWrites.failThrough(this.appliedThrough, LOST_REPLY);
      this.evaluateReadsThrough(this.appliedThrough);
    }
  }

  /**
   * Our proposals that a snapshot from the leader covers. The entries are gone, so whether each
   * one was committed is decided by terms alone: the snapshot's last entry has term `term`, and
   * terms never decrease along a log. A proposal of that same term was ours (one leader per
   * term, and a leader never overwrites its own entries), so by Log Matching it is in the
   * committed log; a proposal of a later term cannot be; one of an earlier term may or may not
   * be. Its reply (an INCR's value, say) was computed on the leader and is lost either way, so
   * only "not applied" is a definite answer.
   */
  private settleCoveredBySnapshot(index: number, term: number): void {
    this.pendingWrites.settleThrough(index, (pendingTerm) => (
      pendingTerm > term ? LOST_REPLY
        : pendingTerm === term ? APPLIED_REPLY_LOST
          : errorReply('TIMEOUT this node caught up through a snapshot: the command may or may not have been applied')));
  }

  private applyConfChange(entry: Entry): void {
    const change = entry.change as ConfChange;
    this.learnAddress(change);
    const status = this.raft.status();
    if (change.type === 'remove') {
      this.members.delete(change.nodeId);
      this.transport.setRemoved(status.confState.removed.concat(change.nodeId));
      if (change.nodeId === this.options.id) {
        this.removed = true;
        if (status.role === 'leader') {
          // The core stays leader until the remaining voters know the removal committed
          // (Raft.leave); stopping now could leave them unable to elect anyone.
          this.log.warn({ index: entry.index }, 'this node was removed from the cluster; stopping once the others know');
          this.stopOnceFollower = true;
        } else {
          this.log.warn({ index: entry.index }, 'this node was removed from the cluster; stopping');
          setImmediate(() => this.options.onRemoved?.());
        }
      }
    }
    this.log.info({ index: entry.index, change: change.type, node: change.nodeId }, 'membership change applied');
    this.syncPeers();
  }

  /**
   * Members refuse a removed node's connections; that is how it learns of its removal when it
   * never saw the commit. Once a majority of the last configuration it knew has refused it, it
   * stops (one refusal could come from a member that is itself out of date).
   */
  private readonly refusedBy = new Set<NodeId>();
  private onRemovedByPeer(by: NodeId): void {
    if (this.removed) return;
    this.refusedBy.add(by);
    const voters = this.raft.status().confState.voters;
    const refusing = voters.filter((id) => this.refusedBy.has(id)).length;
    if (refusing < Math.floor(voters.length / 2) + 1 - (voters.includes(this.options.id) ? 1 : 0)) return;
    this.log.warn({ refusedBy: [...this.refusedBy] }, 'the cluster refuses this node as removed; stopping');
    this.removed = true;
    setImmediate(() => this.options.onRemoved?.());
  }

  private learnAddress(change: ConfChange): void {
    if (change.type !== 'addLearner') return;
    const address = decodeMemberAddress(change.context);
    if (address) this.members.set(change.nodeId, address);
  }

  private learnPeerAddress(id: NodeId, host: string, peerPort: number): void {
    const known = this.members.get(id);
    if (known && known.host === host && known.peerPort === peerPort) return;
    if (this.raft.status().confState.removed.includes(id)) return;
    // The client port is not in the handshake; assume the default offset until the log says.
    this.members.set(id, { host, peerPort, clientPort: known?.clientPort ?? peerPort - 10_000 });
    this.syncPeers();
  }

  private syncPeers(): void {
    const peers = new Map<NodeId, { host: string; port: number }>();
    for (const [id, address] of this.members) {
      if (id !== this.options.id) peers.set(id, { host: address.host, port: address.peerPort });
    }
    this.transport.setPeers(peers);
    this.knownPeers.save(this.members);
  }

  private onTick(): void {
    const now = Date.now();
    this.withRaft(() => {
      this.raft.tick();
      this.sweepExpiry();
    });
    this.expireWaiters(now);
  }

  /** The leader deletes keys whose time has passed through the log, so replicas free them alike. */
  private sweepExpiry(): void {
    if (this.expiryInFlight !== 0 || this.diskFailure !== undefined || this.raft.currentRole !== 'leader') return;
    const nowMs = this.nowMs();
    const deletes = this.machine.expiredKeys(nowMs, 256);
    if (deletes.length === 0) return;
    const result = this.raft.propose(encodeExpiryEntry({ timeMs: nowMs, deletes }));
    if (result.ok) {
      this.expiryInFlight = result.index;
      this.lastProposedIndex = result.index;
    }
  }

  private expireWaiters(now: number): void {
    if (this.leaderWaiters.length > 0) {
      const keep = [];
      for (const waiter of this.leaderWaiters) {
        if (waiter.deadline > now) keep.push(waiter);
        else waiter.fail(errorReply(`CLUSTERDOWN no leader elected within ${this.options.leaderWaitMs} ms`));
      }
      this.leaderWaiters = keep;
    }
    this.pendingWrites.expire(now, TIMEOUT_REPLY);
    if (this.pendingReadCount > 0) {
      for (const read of this.pendingReadList()) {
        if (read.deadline > now) continue;
        this.finishRead(read, errorReply('TIMEOUT the read could not be confirmed by a majority in time'));
      }
    }
    for (const [context, reads] of this.readBatches) {
      if (!reads.every((read) => read.done)) continue;
      // Every read of that request timed out: do not let the ones behind it wait for it.
      this.readBatches.delete(context);
      if (this.readsInFlight.delete(context) && this.readsToConfirm.length > 0) this.withRaft(() => this.startReadIndex());
    }
  }

  /** The leader's clock for new entries: never below what the log already carries. */
  private nowMs(): number {
    this.clockFloorMs = Math.max(this.clockFloorMs, Date.now(), this.machine.lastTimeMs);
    return this.clockFloorMs;
  }

  // ---------------------------------------------------------------------------------------------
  // Executor: what client connections call

  write(db: number, argv: readonly Buffer[], completion: Completion): void {
    if (this.refuseWriteOnDiskFailure(completion)) return;
    this.runAsLeader('write', db, argv, completion);
  }

  /**
   * A write or a linearizable read goes to the core now when this node is a leader between
   * cycles (the common case: no closure, no queue), else through route().
   */
  private runAsLeader(kind: 'write' | 'read', db: number, argv: readonly Buffer[], completion: Completion): void {
    if (this.canRunNow()) {
      if (kind === 'write') this.proposeWrite(db, argv, completion);
      else this.readAsLeader(db, argv, completion);
      this.schedule();
      return;
    }
    if (this.busy && !this.closed && this.raft.currentRole === 'leader') {
      // The core's state does not change during a cycle (its inputs wait in the queue), so this
      // node is still the leader when the command is taken from the queue; runAsLeader checks again.
      this.queue.push({ kind, db, argv, completion });
      return;
    }
    this.route(db, [argv], completion, () => this.runAsLeader(kind, db, argv, completion));
  }

  private proposeWrite(db: number, argv: readonly Buffer[], completion: Completion): void {
    this.propose(encodeWrite(this.nowMs(), db, argv), completion);
  }

  /** Whether a command may go to the core at once: a leader that is between cycles. */
  private canRunNow(): boolean {
    return !this.busy && !this.closed && this.raft.currentRole === 'leader';
  }

  transaction(db: number, commands: readonly (readonly Buffer[])[], watches: readonly Watch[], completion: Completion): void {
    if (this.refuseWriteOnDiskFailure(completion)) return;
    if (watches.length > 0 && !this.isLeader() && this.options.followerMode === 'proxy') {
      // WATCH versions were read here; the leader's may differ, and forwarding WATCH itself
      // would watch at the wrong moment. Clients that WATCH must talk to the leader.
      completion.complete(this.movedOrDown(commands[0]?.[1]));
      return;
    }
    const forwarded = [[Buffer.from('MULTI')], ...commands, [Buffer.from('EXEC')]];
    this.route(db, forwarded, completion, () => {
      this.propose(encodeTransactionEntry({ timeMs: this.nowMs(), db, commands, watches }), completion);
    });
  }

  read(db: number, argv: readonly Buffer[], consistency: ReadConsistency, completion: Completion): void {
    if (consistency === 'stale') {
      completion.complete(this.machine.read(db, argv, Date.now()));
      return;
    }
    if (this.diskFailure !== undefined) {
      // The driver loop is holding the batch the disk refused, so no ReadIndex round can run.
      completion.complete(errorReply(`TRYAGAIN this node's disk failed (${this.diskFailure}); reads resume once it accepts writes again`));
      return;
    }
    this.runAsLeader('read', db, argv, completion);
  }

  private readAsLeader(db: number, argv: readonly Buffer[], completion: Completion): void {
    this.stats.reads++;
    // Not the ReadIndex's index: before this leader's no-op commits, that is the previous
    // term's commit index, and state there can miss writes the old leader acknowledged.
    // Everything in our log was appended before the read arrived and commits before the
    // read is confirmed (else it is dropped), so the last index is a safe and sufficient
    // target; it is at least the commit index a ReadIndex made now would record.
    const target = Math.max(this.lastProposedIndex, this.raft.lastIndex);
    // With no earlier read waiting and the state machine at the target, the read is evaluated
    // now (what evaluateReadsThrough would do next), so its arguments need no copy: they are
    // views into the connection's input, valid only until it parses more.
    const evaluateNow = target <= this.appliedThrough && this.unevaluatedReads.length === 0;
    const now = Date.now();
    const read: PendingRead = {
      db,
      argv: evaluateNow ? NO_ARGS : argv.map((arg) => Buffer.from(arg)),
      completion,
      target,
      deadline: now + this.options.commandTimeoutMs,
      reply: evaluateNow ? this.machine.read(db, argv, now) : undefined,
      confirmed: false,
      done: false,
    };
    this.pendingReadCount++;
    if (!evaluateNow) this.unevaluatedReads.push(read);
    // Its ReadIndex request starts just before the next cycle (startWaitingReads), together with
    // every other read of this event-loop turn: the round's heartbeat leaves with that cycle's
    // Ready either way. Started here, the turn's first two reads took the two requests then
    // allowed in flight (both went out in one heartbeat), and the rest of the turn waited for a
    // third, made once that heartbeat came back.
    this.readsToConfirm.push(read);
    if (!evaluateNow) this.evaluateReadsThrough(this.appliedThrough);
  }

  /** Before a cycle: one ReadIndex request for all the reads waiting, if one may start. */
  private startWaitingReads(): void {
    if (this.readsToConfirm.length > 0 && this.readsInFlight.size < READ_INDEX_IN_FLIGHT && !this.busy && !this.closed) {
      this.startReadIndex();
    }
  }

  /** Asks the core to confirm leadership for every read waiting for it (never inside a Ready). */
  private startReadIndex(): void {
    const reads = this.readsToConfirm.filter((read) => !read.done);
    this.readsToConfirm = [];
    if (reads.length === 0) return;
    const context = ++this.readSeq;
    const result = this.raft.readIndex(context);
    if (!result.ok) {
      const reply = this.refusal(result);
      for (const read of reads) this.finishRead(read, reply);
      return;
    }
    this.stats.readIndexRequests++;
    this.readsInFlight.add(context);
    this.readBatches.set(context, reads);
  }

  /** The ReadIndex request under way ended: the reads that arrived meanwhile get the next one. */
  private readIndexEnded(context: number): void {
    // Called between ready() and advance(): the next request starts before the next cycle
    // (the cycle under way schedules one when it ends), after the commands queued meanwhile
    // have joined readsToConfirm.
    this.readsInFlight.delete(context);
  }

  server(client: ClientView, spec: CommandSpec, argv: readonly Buffer[], completion: Completion): void {
    if (this.serverCommands) this.serverCommands(this, client, spec, argv, completion);
    else completion.complete(errorReply(`ERR '${spec.name}' is not available`));
  }

  watch(db: number, key: Buffer): Watch {
    return this.machine.watch(db, key, Date.now());
  }

  /** Set by server-commands.ts: INFO, CONFIG, CLUSTER, RAFT.*, TIME, COMMAND, SHUTDOWN, ... */
  serverCommands: ((node: RaftNode, client: ClientView, spec: CommandSpec, argv: readonly Buffer[], completion: Completion) => void) | undefined;

  /**
   * Runs `local` on the leader; on a follower forwards `commands` to the leader (or answers
   * -MOVED); with no leader known, waits for one up to leaderWaitMs.
   */
  private route(db: number, commands: readonly (readonly Buffer[])[], completion: Completion, local: () => void, alwaysForward = false): void {
    if (this.closed) {
      completion.complete(errorReply('CLUSTERDOWN this node is shutting down'));
      return;
    }
    if (this.busy && this.proxy.hasTarget && this.options.followerMode === 'proxy') {
      // A follower that knows its leader forwards at once, rather than after its own cycle
      // (persisting the leader's appends) ends. The proxy points at the leader that the last
      // cycle saw; a command that reaches a node that has lost leadership since is forwarded
      // on or refused there, as when the core's view is checked.
      this.forward(db, commands, completion, local, alwaysForward);
      return;
    }
    this.withRaft(() => {
      const leader = this.raft.currentLeader;
      if (this.raft.currentRole === 'leader') {
        local();
        return;
      }
      if (leader === NONE || !this.members.has(leader)) {
        this.leaderWaiters.push({
          deadline: Date.now() + this.options.leaderWaitMs,
          run: () => this.route(db, commands, completion, local, alwaysForward),
          fail: (reply) => completion.complete(reply),
        });
        return;
      }
      if (this.options.followerMode === 'redirect' && !alwaysForward && completion.forward !== true) {
        completion.complete(this.movedOrDown(commands[commands.length === 1 ? 0 : 1]?.[1]));
        return;
      }
      this.forward(db, commands, completion, local, alwaysForward);
    });
  }

  private forward(db: number, commands: readonly (readonly Buffer[])[], completion: Completion, local: () => void, alwaysForward: boolean): void {
    this.stats.forwarded++;
    this.proxy.forward(db, commands, (reply) => completion.complete(reply), () => {
      // The leader could not be reached at all, so the command was never delivered: wait for
      // a (possibly new) leader like any command that finds none, instead of failing it.
      this.leaderWaiters.push({
        deadline: Date.now() + this.options.leaderWaitMs,
        run: () => this.route(db, commands, completion, local, alwaysForward),
        fail: (reply) => completion.complete(reply),
      });
    });
  }

  /**
   * While this node's disk refuses writes, the driver loop is holding the failed batch and
   * retrying it: a new write would only wait behind it, so it is refused at once, as Redis
   * refuses writes with -MISCONF when it cannot persist.
   */
  private refuseWriteOnDiskFailure(completion: Completion): boolean {
    if (this.diskFailure === undefined) return false;
    completion.complete(errorReply(`MISCONF writes are refused: this node's disk failed (${this.diskFailure}); they resume once it accepts writes again`));
    return true;
  }

  private movedOrDown(key: Buffer | undefined): Reply {
    const leader = this.leaderAddress();
    if (!leader) return errorReply('CLUSTERDOWN no leader elected');
    return errorReply(`MOVED ${key ? keySlot(key) : 0} ${leader.host}:${leader.clientPort}`);
  }

  private propose(data: Uint8Array, completion: Completion): void {
    if (this.diskFailure !== undefined) {
      completion.complete(errorReply(`MISCONF writes are refused: the disk failed (${this.diskFailure})`));
      return;
    }
    const result = this.raft.propose(data);
    if (!result.ok) {
      completion.complete(this.refusal(result));
      return;
    }
    this.stats.proposals++;
    this.lastProposedIndex = result.index;
    this.pendingWrites.add(result.index, result.term, completion, Date.now() + this.options.commandTimeoutMs);
  }

  private refusal(result: Extract<ProposeResult, { ok: false }>): Reply {
    switch (result.error) {
      case 'not-leader':
        return errorReply('TRYAGAIN this node lost leadership; retry');
      case 'transferring':
        return errorReply('TRYAGAIN leadership is being transferred; retry');
      case 'too-many-reads':
        return errorReply('BUSY too many reads waiting; retry');
      case 'conf-change-pending':
        return errorReply('ERR another membership change is in progress');
      case 'no-op-uncommitted':
        return errorReply('TRYAGAIN the new leader has not committed its first entry yet; retry');
      case 'invalid-conf-change':
        return errorReply('ERR invalid membership change (unknown node, a removed id, or the last voter)');
    }
  }

  private readConfirmed(context: number): void {
    const reads = this.readBatches.get(context);
    if (!reads) return;
    this.readBatches.delete(context);
    this.readIndexEnded(context);
    for (const read of reads) {
      read.confirmed = true;
      if (read.reply !== undefined) this.finishRead(read, read.reply);
    }
  }

  private readDropped(context: number): void {
    const reads = this.readBatches.get(context);
    if (!reads) return;
    this.readBatches.delete(context);
    this.readIndexEnded(context);
    const reply = errorReply('TRYAGAIN this node lost leadership before the read was confirmed; retry');
    for (const read of reads) this.finishRead(read, reply);
  }

  /** Evaluates every waiting read whose target is at most `index` (the state machine is there). */
  private evaluateReadsThrough(index: number): void {
    let count = 0;
    const now = Date.now();
    for (const read of this.unevaluatedReads) {
      if (read.target > index) break;
      count++;
      if (read.done) continue;
      read.reply = this.machine.read(read.db, read.argv, now);
      if (read.confirmed) this.finishRead(read, read.reply);
    }
    if (count > 0) this.unevaluatedReads.splice(0, count);
  }

  /** Every read not yet answered (a read may appear twice; finishRead ignores one already done). */
  private pendingReadList(): PendingRead[] {
    const reads = [...this.readsToConfirm, ...this.unevaluatedReads];
    for (const batch of this.readBatches.values()) reads.push(...batch);
    return reads.filter((read) => !read.done);
  }

  private finishRead(read: PendingRead, reply: Reply): void {
    if (read.done) return;
    read.done = true;
    this.pendingReadCount--;
    read.completion.complete(reply);
  }

  // ---------------------------------------------------------------------------------------------
  // Membership and leadership (CLUSTER ADDNODE / REMOVENODE / FAILOVER / LEAVE)

  /**
   * Proposes a membership change; `done` gets +OK once it is applied. On a follower the change
   * is forwarded to the leader as the equivalent CLUSTER command naming the same node (never
   * answered with -MOVED: `redis-cli -c` would follow it and CLUSTER LEAVE would then remove the
   * leader instead of this node).
   */
  changeMembership(change: ConfChange, forwarded: readonly Buffer[], done: (reply: Reply) => void): void {
    this.route(0, [forwarded], { complete: done }, () => {
      const result = this.raft.proposeConfChange(change);
      if (!result.ok) {
        done(this.refusal(result));
        return;
      }
      this.lastProposedIndex = result.index;
      this.pendingConf.set(result.index, { term: result.term, done });
    }, true);
  }

  addNode(id: NodeId, address: MemberAddress, done: (reply: Reply) => void): void {
    const argv = ['CLUSTER', 'ADDNODE', String(id), address.host, String(address.clientPort), String(address.peerPort)].map((arg) => Buffer.from(arg));
    this.changeMembership({ type: 'addLearner', nodeId: id, context: encodeMemberAddress(address) }, argv, done);
  }

  removeNode(id: NodeId, done: (reply: Reply) => void): void {
    this.changeMembership({ type: 'remove', nodeId: id, context: EMPTY }, ['CLUSTER', 'REMOVENODE', String(id)].map((arg) => Buffer.from(arg)), done);
  }

  /** Transfers leadership to `to` (or the most caught-up voter); resolves once someone else leads. */
  transferLeadership(to: NodeId | undefined, timeoutMs = this.options.tickMs * this.options.electionTicks * 2): Promise<boolean> {
    return new Promise((resolve) => {
      this.withRaft(() => {
        const status = this.raft.status();
        if (status.role !== 'leader') {
          resolve(status.leader !== this.options.id);
          return;
        }
        const target = to ?? [...status.progress].filter((p) => p.id !== this.options.id && p.voter)
          .sort((a, b) => b.match - a.match)[0]?.id;
        if (target === undefined) {
          resolve(false);
          return;
        }
        this.raft.transferLeadership(target);
        const deadline = Date.now() + timeoutMs;
        const poll = (): void => {
          const now = this.raft.status();
          if (now.role !== 'leader') resolve(true);
          else if (Date.now() > deadline) resolve(false);
          else setTimeout(poll, Math.max(5, Math.floor(this.options.tickMs / 4)));
        };
        poll();
      });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots

  /** Called after every cycle: the common answer (not yet) takes no object and no sort. */
  private maybeSnapshot(): void {
    if (this.snapshotting || this.closed) return;
    const applied = this.raft.appliedIndex;
    const snapshotIndex = this.raft.snapshotIndex;
    const logBytesThreshold = Math.max(this.options.snapshotLogBytes, this.lastSnapshotBytes);
    if (!snapshotMayBeDue(applied - snapshotIndex, this.options.snapshotEntries, this.logBytesSinceSnapshot, logBytesThreshold)) return;
    const { voters, learners } = this.raft.membership;
    const { rank, members } = memberRank(this.options.id, voters, learners);
    const due = snapshotDue({
      applied, snapshotIndex, entriesThreshold: this.options.snapshotEntries,
      logBytes: this.logBytesSinceSnapshot, logBytesThreshold, rank, members,
    });
    if (due) void this.takeSnapshot();
  }

  /**
   * Snapshots the state machine at the applied index without blocking the event loop: the
   * machine's copy-on-write view is written in chunks, yielding between them, while writes go on.
   */
  async takeSnapshot(): Promise<SnapshotOutcome> {
    if (this.snapshotting) return { status: 'busy' };
    this.snapshotting = true;
    try {
      // While a cycle persists, the state machine has already applied its committed entries but
      // the core's applied index moves only at advance(): start between cycles, where they agree,
      // or the image would hold entries beyond its index (applied twice after a restart from it).
      const status = await new Promise<RaftStatus>((resolve) => this.withRaft(() => resolve(this.raft.status())));
      const index = status.applied;
      if (index <= status.snapshotIndex) return { status: 'current', index: status.snapshotIndex };
      // No cycle ran since that status was read (cycles start on setImmediate; this continues in
      // a microtask), so the machine is still at exactly `index`.
      const meta = this.raft.snapshotMeta(index);
      const logBytesBefore = this.logBytesSinceSnapshot;
      const image = this.machine.beginSnapshot();
      // A failed attempt ends the image too: until then the keyspace keeps, for it, every value
      // that writes replace (copy-on-write, and the arena records it must not free yet).
      const writer = await this.storage.createSnapshot(meta, encodeMemberTable(this.members)).catch((error: unknown) => {
        image.cancel();
        throw error;
      });
      let bytes = 0;
      // How long each part took, for the log line: the write stalls during a large snapshot are
      // not explained yet (docs/performance.md, "What is left"), and some come near its end.
      const startedMs = performance.now();
      let writtenMs = startedMs;
      let finishedMs = startedMs;
      try {
        for (let chunk = image.nextChunkReusingBuffer(1 << 20); chunk !== null; chunk = image.nextChunkReusingBuffer(1 << 20)) {
          await writer.write(chunk);
          bytes += chunk.length;
          await new Promise((resolve) => setImmediate(resolve));
        }
        writtenMs = performance.now();
        // Durable under its final name; the snapshots beyond --snapshots-retained are being
        // deleted in the background (SnapshotStore.register).
        await writer.finish();
        finishedMs = performance.now();
      } catch (error) {
        image.cancel();
        await writer.abort().catch(() => undefined);
        throw error;
      }
      this.withRaft(() => this.raft.compact(index, EMPTY));
      this.compactedThrough = Math.max(this.compactedThrough, index);
      await this.storage.compact(index);
      // Entries applied while the snapshot was written come after its index and stay in the log.
      this.logBytesSinceSnapshot = Math.max(0, this.logBytesSinceSnapshot - logBytesBefore);
      this.lastSnapshotBytes = bytes;
      this.stats.snapshotsTaken++;
      this.log.info({ index, bytes, writeMs: Math.round(writtenMs - startedMs), finishMs: Math.round(finishedMs - writtenMs),
        compactMs: Math.round(performance.now() - finishedMs) }, 'snapshot taken');
      return { status: 'taken', index, bytes };
    } catch (error) {
      this.log.error({ err: error }, 'snapshot failed');
      return { status: 'failed', error: error instanceof Error ? error.message : String(error) };
    } finally {
      this.snapshotting = false;
    }
  }

  /** Replaces the state machine by the snapshot file at (index, term). */
  private async installSnapshotFile(index: number, term: number): Promise<void> {
    const reader = await this.storage.openSnapshot({ index, term });
    try {
      const restorer = this.machine.beginRestore();
      for (let chunk = await reader.next(); chunk !== undefined; chunk = await reader.next()) restorer.push(chunk);
      this.machine.finishRestore(restorer);
      this.appliedThrough = Math.max(this.appliedThrough, index);
      this.lastSnapshotBytes = reader.info.dataBytes;
      for (const [id, address] of decodeMemberTable(reader.info.metadata)) this.members.set(id, address);
    } finally {
      await reader.close();
    }
    this.stats.snapshotsInstalled++;
    this.log.info({ index, term }, 'snapshot installed');
  }

  /** Streams our snapshot file to a follower that needs compacted entries. */
  private sendSnapshot(message: SnapshotMessage): void {
    const to = message.to;
    if (this.snapshotsInFlight.has(to)) return;
    this.snapshotsInFlight.add(to);
    const { index, term } = message.snapshot.meta;
    const storage = this.storage;
    const members = encodeMemberTable(this.members);
    async function* source(): AsyncGenerator<Uint8Array> {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(members.length, 0);
      yield header;
      yield members;
      const reader = await storage.openSnapshot({ index, term });
      try {
        for (let chunk = await reader.next(); chunk !== undefined; chunk = await reader.next()) yield chunk;
      } finally {
        await reader.close();
      }
    }
    this.transport.sendSnapshot({ ...message, snapshot: { meta: message.snapshot.meta, data: EMPTY } }, source()).then(
      () => this.withRaft(() => this.raft.reportSnapshot(to, true)),
      (error: unknown) => {
        this.log.warn({ err: error, to, index }, 'sending a snapshot failed');
        this.withRaft(() => this.raft.reportSnapshot(to, false));
      },
    ).finally(() => this.snapshotsInFlight.delete(to));
  }

  /** Receives a snapshot stream: writes it to a snapshot file, then hands it to the core. */
  private async receiveSnapshot(message: SnapshotMessage, chunks: AsyncIterable<Buffer>): Promise<void> {
    let pending = Buffer.alloc(0);
    let membersBytes: Buffer | undefined;
    let writer: Awaited<ReturnType<DiskStorage['createSnapshot']>> | undefined;
    try {
      for await (const chunk of chunks) {
        if (!writer) {
          pending = Buffer.concat([pending, chunk]);
          if (pending.length < 4) continue;
          const length = pending.readUInt32BE(0);
          if (pending.length < 4 + length) continue;
          membersBytes = pending.subarray(4, 4 + length);
          writer = await this.storage.createSnapshot(message.snapshot.meta, membersBytes);
          const rest = pending.subarray(4 + length);
          if (rest.length > 0) await writer.write(rest);
          continue;
        }
        await writer.write(chunk);
      }
      if (!writer) throw new Error('snapshot stream ended before its header');
      await writer.finish();
    } catch (error) {
      await writer?.abort().catch(() => undefined);
      throw error;
    }
    if (membersBytes) for (const [id, address] of decodeMemberTable(membersBytes)) this.members.set(id, address);
    this.withRaft(() => this.raft.step(message));
  }

  // ---------------------------------------------------------------------------------------------
  // Introspection (INFO raft, CLUSTER NODES, /metrics, /api/stats)

  status(): RaftStatus {
    return this.raft.status();
  }

  isLeader(): boolean {
    return this.raft.currentRole === 'leader';
  }

  leaderAddress(): (MemberAddress & { id: NodeId }) | undefined {
    const leader = this.raft.status().leader;
    const address = leader === NONE ? undefined : this.members.get(leader);
    return address ? { id: leader, ...address } : undefined;
  }

  storageStats(): ReturnType<DiskStorage['stats']> {
    return this.storage.stats();
  }

  transportStats(): ReturnType<PeerTransport['stats']> {
    return this.transport.stats();
  }

  /** Client commands under way: proposals, reads, forwarded commands and commands awaiting a leader. */
  inflight(): number {
    return this.pendingWrites.size + this.pendingReadCount + this.proxy.inflight + this.leaderWaiters.length;
  }

  get diskFailureReason(): string | undefined {
    return this.diskFailure;
  }

  get isRemoved(): boolean {
    return this.removed;
  }

  // ---------------------------------------------------------------------------------------------
  // Shutdown

  /**
   * Graceful stop: a leader first hands leadership to the most caught-up voter, then the node
   * finishes the cycle under way (so everything acknowledged is on disk) and closes.
   */
  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.isLeader() && this.raft.status().confState.voters.length > 1) {
      const moved = await this.transferLeadership(undefined);
      this.log.info({ moved }, moved ? 'leadership transferred before shutdown' : 'leadership transfer before shutdown did not complete');
    }
    // Let commands already under way finish (through the new leader if there is one), so a
    // graceful shutdown fails nothing a client had in flight. Bounded: a client that keeps
    // sending to this node gets its connection closed after the grace period.
    const deadline = Date.now() + 2000;
    while (this.inflight() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.shutdownNow(0);
  }

  /**
   * Writes the commit index that persist() left unwritten, so that a node stopped gracefully
   * restarts with everything it had applied (even with no leader to tell it the commit index).
   * Clamped to the durable log, as a commit index on disk must be. A failure is logged: the
   * commit index is not needed for safety.
   */
  private async writeCommitIndex(): Promise<void> {
    const unwritten = this.hardStateWrites.unwritten;
    const durable = this.storage.hardState;
    if (unwritten === undefined) return;
    const commit = Math.min(unwritten.commit, this.storage.lastIndex);
    if (commit <= durable.commit) return;
    try {
      await this.storage.save({ hardState: { ...durable, commit }, entries: [], snapshot: undefined });
      this.hardStateWrites.written();
    } catch (error) {
      this.log.warn({ err: error, commit }, 'could not write the commit index at shutdown');
    }
  }

  private async shutdownNow(code: number): Promise<void> {
    while (this.busy && !this.closed) await new Promise((resolve) => setTimeout(resolve, 5));
    // A graceful stop flushes the log: what was handed to the disk gets there (unless the disk
    // is failing). A fatal one does not: no acknowledgement depends on what is not yet written.
    if (code === 0 && !this.closed && this.diskFailure === undefined) {
      await this.writesDone();
      await this.writeCommitIndex();
    }
    this.closed = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    const down = errorReply('CLUSTERDOWN this node is shutting down');
    this.pendingWrites.failAll(TIMEOUT_REPLY);
    for (const read of this.pendingReadList()) this.finishRead(read, down);
    this.unevaluatedReads = [];
    this.readBatches.clear();
    this.readsToConfirm = [];
    this.readsInFlight.clear();
    for (const waiter of this.leaderWaiters) waiter.fail(down);
    this.leaderWaiters = [];
    this.proxy.close();
    await this.transport.close().catch(() => undefined);
    await this.storage.close().catch(() => undefined);
    this.log.info('node stopped');
  }
}
