// One Maelstrom lin-kv node: the Raft core (src/raft) driven over Maelstrom's network. This is an
// I/O-free shell in the sense that matters for tests: messages come in through receive(), time
// through tick() and the injected clock, and everything it says leaves through `io.send`. The
// process wiring (stdin, stdout, setInterval) is in ./run.ts.
//
// How a client request is served (docs/maelstrom.md has the whole story):
// - On the leader, a write or cas is proposed; its reply is computed when the entry is applied,
//   in log order, on this node. A read asks the core for a ReadIndex and is answered once the
//   state machine has applied that index (and every entry this node had accepted before the
//   read arrived, so one client's pipelined write-then-read reads its write).
// - On a follower that knows the leader, the request is proxied: sent to the leader as a
//   `raft_forward` message, whose `raft_forward_reply` the follower passes to the client. A
//   forwarded request is never forwarded again: a node that is not the leader refuses it.
// - A node that knows no leader parks the request until one is elected or its deadline passes.
//
// Error codes follow Maelstrom's definite/indefinite split: 11 (temporarily unavailable) only
// where the operation certainly did not and never will take effect (it was never proposed, or
// the log holds another entry at its index), 0 (timeout) whenever it may have.
import {
  NONE,
  Raft,
  SeededPrng,
  defaultRaftConfig,
  type Entry,
  type Message,
  type NodeId,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
} from '../raft/index.js';
import { decodeCommand, encodeCommand, isWriteOp, LinKvStore } from './kv.js';
import {
  ErrorCode,
  errorBody,
  isKvRequestType,
  isObject,
  kvOpBody,
  MaelstromProtocolError,
  messageId,
  parseKvOp,
  type Body,
  type Envelope,
  type Json,
  type KvOp,
} from './protocol.js';
import { decodeRaftMessage, encodeRaftMessage, RaftCodecError } from './raft-codec.js';

export interface MaelstromNodeOptions {
  /** Raft election timeout, in ticks (randomized in [electionTicks, 2*electionTicks)). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /**
   * How long a request may wait at each stage (for a leader, for its entry to be applied, for
   * its ReadIndex) before it is answered with an error.
   */
  readonly requestTimeoutMs: number;
  /** A proxy waits this much longer than the leader, so the leader's own answer wins. */
  readonly forwardGraceMs: number;
  /** Most client requests in flight on this node (parked, proposed, reading, forwarded). */
  readonly maxPendingRequests: number;
  /** Snapshot the store and compact the log every this many applied entries (0: never). */
  readonly compactEveryEntries: number;
  /** Seeds the core's PRNG (mixed with the node's id, so nodes given one seed still differ). */
  readonly seed: number;
}

export const defaultMaelstromNodeOptions: MaelstromNodeOptions = {
  electionTicks: 10,
  heartbeatTicks: 2,
  requestTimeoutMs: 1000,
  forwardGraceMs: 500,
  maxPendingRequests: 10_000,
  compactEveryEntries: 10_000,
  seed: 1,
};

export interface MaelstromLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface MaelstromIo {
  send(envelope: Envelope): void;
  /** Milliseconds on a monotonic clock. */
  now(): number;
  readonly log: MaelstromLogger;
}

/** Message types nodes send each other, besides the lin-kv requests. */
export const RAFT_TYPE = 'raft';
export const FORWARD_TYPE = 'raft_forward';
export const FORWARD_REPLY_TYPE = 'raft_forward_reply';

/** Who gets the answer: the client itself, or the proxy that forwarded the request here. */
type Route =
  | { readonly kind: 'client'; readonly client: string; readonly msgId: number | undefined }
  | { readonly kind: 'forwarded'; readonly proxy: string; readonly msgId: number };

interface ClientRequest {
  readonly route: Route;
  readonly op: KvOp;
}

/** A request waiting for a leader to be known. */
interface Parked {
  readonly request: ClientRequest;
  readonly deadline: number;
}

/** A write or cas this node proposed as leader, keyed by its log index. */
interface Proposal {
  readonly request: ClientRequest;
  readonly id: string;
  /** With the index, names the entry uniquely (Raft §5.3, Log Matching). */
  readonly term: number;
  readonly deadline: number;
}

interface PendingRead {
  readonly request: ClientRequest;
  readonly key: Json;
  /** The last index of this node's log when the read arrived. */
  readonly minIndex: number;
  readonly deadline: number;
  /** Set once the core has confirmed leadership: the index to apply before serving. */
  serveIndex: number;
}

interface Forward {
  readonly request: ClientRequest;
  readonly deadline: number;
}

/** Assigns msg_ids: one counter per node, starting at 0, shared by every body that has one. */
class Outbox {
  private nextMsgId = 0;

  constructor(private readonly io: MaelstromIo) {}

  /** A reply: carries the next msg_id and names the request it answers. */
  reply(src: string, dest: string, inReplyTo: number | undefined, body: Body): void {
    const msgId = this.nextMsgId++;
    const full = inReplyTo === undefined ? { ...body, msg_id: msgId } : { ...body, in_reply_to: inReplyTo, msg_id: msgId };
    this.io.send({ src, dest, body: full });
  }

  /** A request that expects a reply; returns its msg_id. */
  request(src: string, dest: string, body: Body): number {
    const msgId = this.nextMsgId++;
    this.io.send({ src, dest, body: { ...body, msg_id: msgId } });
    return msgId;
  }

  /** A one-way message (Raft traffic): no msg_id, so it never shifts the client-visible ids. */
  notify(src: string, dest: string, body: Body): void {
    this.io.send({ src, dest, body });
  }
}

export class MaelstromNode {
  private readonly outbox: Outbox;
  private replica: Replica | undefined;

  constructor(private readonly options: MaelstromNodeOptions, private readonly io: MaelstromIo) {
    this.outbox = new Outbox(io);
  }

  /** This node's name once initialized. */
  get name(): string | undefined {
    return this.replica?.self;
  }

  /** Handles one incoming message. Call flush() after a batch of them. */
  receive(envelope: Envelope): void {
    const { body } = envelope;
    if (body.type === 'init') {
      this.init(envelope);
      return;
    }
    if (this.replica) {
      this.replica.receive(envelope);
      return;
    }
    // Maelstrom sends init first; peers may already be talking, and Raft tolerates the loss.
    if (body.type === RAFT_TYPE) return;
    const msgId = messageId(body);
    if (msgId !== undefined) {
      this.outbox.reply(envelope.dest, envelope.src, msgId, errorBody(ErrorCode.temporarilyUnavailable, 'not initialized yet'));
    }
  }

  /** One clock tick: Raft's logical clock, and request deadlines. */
  tick(): void {
    this.replica?.tick();
  }

  /** Runs the Ready loop until the core is quiet, answering whatever can be answered. */
  flush(): void {
    this.replica?.flush();
  }

  /** Client requests not yet answered. */
  outstanding(): number {
    return this.replica?.outstanding() ?? 0;
  }

  /** Raft's view, for logs and tests. */
  status(): ReturnType<Raft['status']> | undefined {
    return this.replica?.raft.status();
  }

  private init(envelope: Envelope): void {
    const { body } = envelope;
    const msgId = messageId(body);
    const refuse = (text: string): void => this.outbox.reply(envelope.dest, envelope.src, msgId, errorBody(ErrorCode.malformedRequest, text));
    if (this.replica) {
      refuse(`already initialized as ${this.replica.self}`);
      return;
    }
    const self = body.node_id;
    const names = body.node_ids;
    if (typeof self !== 'string') return refuse('`init` needs a string `node_id`');
    if (!Array.isArray(names) || !names.every((name): name is string => typeof name === 'string')) {
      return refuse('`init` needs `node_ids`, an array of strings');
    }
    if (new Set(names).size !== names.length) return refuse('`node_ids` has duplicates');
    if (!names.includes(self)) return refuse(`\`node_ids\` does not include this node (${self})`);
    this.outbox.reply(self, envelope.src, msgId, { type: 'init_ok' });
    this.replica = new Replica(self, names, this.options, this.io, this.outbox);
  }
}

/**
 * Raft ids for Maelstrom node names: their position, counting from 1, in the names sorted by
 * length and then text (n1 < n2 < ... < n10). Every node computes the same map from the same
 * `node_ids`, whatever order init lists them in: n1..n5 become 1..5, and n0..n4 become 1..5.
 */
export function raftIds(names: readonly string[]): Map<string, NodeId> {
  const sorted = [...names].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  return new Map(sorted.map((name, position) => [name, position + 1]));
}

/** The node after init: the core, the store, and every request in flight. */
class Replica {
  readonly raft: Raft;
  readonly self: string;
  private readonly selfId: NodeId;
  private readonly idByName: Map<string, NodeId>;
  private readonly nameById = new Map<NodeId, string>();
  private readonly store = new LinKvStore();

  /** Highest index applied to `store`. Only grows. */
  private applied = 0;
  /** Index of the last log compaction. */
  private compactedIndex = 0;
  /** From the latest SoftState. */
  private leader: NodeId = NONE;
  private role: Role = 'follower';

  // Requests in flight. Each map is in deadline order, because deadlines are the insertion
  // time plus a constant: expiry stops at the first one not yet due.
  private parked: Parked[] = [];
  private readonly proposals = new Map<number, Proposal>();
  private readonly reads = new Map<number, PendingRead>();
  /** Contexts of reads the core has confirmed, waiting for `applied` to reach their index. */
  private confirmedReads: number[] = [];
  /** Requests proxied to the leader, by the msg_id of the forward. */
  private readonly forwards = new Map<number, Forward>();
  private proposalSequence = 0;
  private readSequence = 0;
  /** Peers sent a snapshot in the Ready being handled; reported to the core after advance(). */
  private snapshotsSent: NodeId[] = [];

  constructor(
    self: string,
    names: readonly string[],
    private readonly options: MaelstromNodeOptions,
    private readonly io: MaelstromIo,
    private readonly outbox: Outbox,
  ) {
    this.self = self;
    this.idByName = raftIds(names);
    for (const [name, id] of this.idByName) this.nameById.set(id, name);
    this.selfId = this.idByName.get(self) as NodeId;
    const prng = new SeededPrng((options.seed ^ Math.imul(this.selfId, 0x9e3779b9)) >>> 0);
    const config = defaultRaftConfig(this.selfId, prng, {
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
    });
    const voters = [...this.idByName.values()];
    this.raft = new Raft(config, {
      hardState: { term: 0, vote: NONE, commit: 0 },
      snapshot: undefined,
      entries: [],
      initialConf: { voters, learners: [], removed: [] },
    });
    this.io.log.info({ node: self, raftId: this.selfId, members: Object.fromEntries(this.idByName) }, 'initialized');
  }

  receive(envelope: Envelope): void {
    const { src, body } = envelope;
    switch (body.type) {
      case RAFT_TYPE:
        this.receiveRaft(src, body);
        return;
      case FORWARD_TYPE:
        this.receiveForward(src, body);
        return;
      case FORWARD_REPLY_TYPE:
        this.receiveForwardReply(body);
        return;
      default:
        break;
    }
    const msgId = messageId(body);
    if (!isKvRequestType(body.type)) {
      this.io.log.warn({ src, type: body.type }, 'unsupported message type');
      if (msgId !== undefined) this.outbox.reply(this.self, src, msgId, errorBody(ErrorCode.notSupported, `unsupported message type ${JSON.stringify(body.type)}`));
      return;
    }
    let op: KvOp;
    try {
      op = parseKvOp(body);
    } catch (error) {
      if (!(error instanceof MaelstromProtocolError)) throw error;
      this.outbox.reply(this.self, src, msgId, errorBody(ErrorCode.malformedRequest, error.message));
      return;
    }
    this.handleRequest({ route: { kind: 'client', client: src, msgId }, op });
  }

  tick(): void {
    this.raft.tick();
    this.expire(this.io.now());
  }

  flush(): void {
    for (let rounds = 0; ; rounds++) {
      if (rounds > 1000) throw new Error(`maelstrom node ${this.self}: the Ready loop does not settle`);
      while (this.raft.hasReady()) {
        this.handleReady(this.raft.ready());
        this.raft.advance();
        // Sending is all we do with a snapshot message; whether it arrived shows in the
        // follower's answer. Reporting it lets the leader probe again if it was lost.
        for (const to of this.snapshotsSent) this.raft.reportSnapshot(to, true);
        this.snapshotsSent = [];
      }
      this.serveReads();
      this.maybeCompact();
      if (!this.dispatchParked()) return;
    }
  }

  outstanding(): number {
    return this.parked.length + this.proposals.size + this.reads.size + this.forwards.size;
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  private handleRequest(request: ClientRequest): void {
    if (this.outstanding() >= this.options.maxPendingRequests) {
      this.reply(request.route, errorBody(ErrorCode.temporarilyUnavailable, `${this.outstanding()} requests in flight; try again`));
      return;
    }
    if (this.role === 'leader') {
      this.execute(request);
    } else if (request.route.kind === 'forwarded') {
      // One hop only: the proxy guessed wrong, and nothing was proposed.
      this.reply(request.route, errorBody(ErrorCode.temporarilyUnavailable, `${this.self} is not the leader`));
    } else if (this.leader !== NONE) {
      this.forward(request);
    } else {
      this.parked.push({ request, deadline: this.io.now() + this.options.requestTimeoutMs });
    }
  }

  /** Leader only: proposes a write or cas, or starts a ReadIndex for a read. */
  private execute(request: ClientRequest): void {
    const { op } = request;
    const deadline = this.io.now() + this.options.requestTimeoutMs;
    if (!isWriteOp(op)) {
      const context = ++this.readSequence;
      const minIndex = this.raft.status().lastIndex;
      const result = this.raft.readIndex(context);
      if (!result.ok) {
        this.reply(request.route, errorBody(ErrorCode.temporarilyUnavailable, `read refused: ${result.error}`));
        return;
      }
      this.reads.set(context, { request, key: op.key, minIndex, deadline, serveIndex: 0 });
      return;
    }
    const id = `${this.self}:${++this.proposalSequence}`;
    const result = this.raft.propose(encodeCommand({ id, op }));
    if (!result.ok) {
      this.reply(request.route, errorBody(ErrorCode.temporarilyUnavailable, `not proposed: ${result.error}`));
      return;
    }
    const earlier = this.proposals.get(result.index);
    if (earlier) {
      // Our log held another of our entries at this index, and a leader of a later term
      // overwrote it: that entry was never committed and never will be (Leader Completeness).
      this.proposals.delete(result.index);
      this.reply(earlier.request.route, errorBody(ErrorCode.temporarilyUnavailable, 'leadership changed before this was committed; it did not take effect'));
    }
    this.proposals.set(result.index, { request, id, term: result.term, deadline });
  }

  private forward(request: ClientRequest): void {
    const leaderName = this.nameById.get(this.leader);
    if (leaderName === undefined) throw new Error(`maelstrom node ${this.self}: leader ${this.leader} has no name`);
    const msgId = this.outbox.request(this.self, leaderName, { type: FORWARD_TYPE, request: kvOpBody(request.op) });
    this.forwards.set(msgId, { request, deadline: this.io.now() + this.options.requestTimeoutMs + this.options.forwardGraceMs });
  }

  /** Once a leader is known, sends every parked request its way; returns whether there were any. */
  private dispatchParked(): boolean {
    if (this.parked.length === 0 || this.leader === NONE) return false;
    const parked = this.parked;
    this.parked = [];
    for (const { request } of parked) this.handleRequest(request);
    return true;
  }

  private receiveForward(src: string, body: Body): void {
    const msgId = messageId(body);
    if (!this.idByName.has(src) || msgId === undefined || !isObject(body.request) || typeof body.request.type !== 'string' || !isKvRequestType(body.request.type)) {
      this.io.log.warn({ src, body }, 'dropping a malformed forward');
      return;
    }
    const route: Route = { kind: 'forwarded', proxy: src, msgId };
    let op: KvOp;
    try {
      op = parseKvOp(body.request as Body);
    } catch (error) {
      if (!(error instanceof MaelstromProtocolError)) throw error;
      this.reply(route, errorBody(ErrorCode.malformedRequest, error.message));
      return;
    }
    this.handleRequest({ route, op });
  }

  private receiveForwardReply(body: Body): void {
    const inReplyTo = body.in_reply_to;
    const forward = typeof inReplyTo === 'number' ? this.forwards.get(inReplyTo) : undefined;
    // Absent: it timed out here already, and the client has its (indefinite) answer.
    if (!forward) return;
    this.forwards.delete(inReplyTo as number);
    const reply = body.reply;
    if (!isObject(reply) || typeof reply.type !== 'string') {
      this.io.log.warn({ body }, 'malformed forward reply');
      this.reply(forward.request.route, errorBody(ErrorCode.crash, 'the leader answered with something unreadable'));
      return;
    }
    const { msg_id: _msgId, in_reply_to: _inReplyTo, ...rest } = reply;
    this.reply(forward.request.route, rest as Body);
  }

  private reply(route: Route, body: Body): void {
    switch (route.kind) {
      case 'client':
        this.outbox.reply(this.self, route.client, route.msgId, body);
        return;
      case 'forwarded':
        this.outbox.reply(this.self, route.proxy, route.msgId, { type: FORWARD_REPLY_TYPE, reply: body });
        return;
      default:
        assertNever(route);
    }
  }

  /** Answers every request whose deadline has passed. */
  private expire(now: number): void {
    while (this.parked.length > 0 && (this.parked[0] as Parked).deadline <= now) {
      const { request } = this.parked.shift() as Parked;
      // Never sent anywhere, so certainly not done.
      this.reply(request.route, errorBody(ErrorCode.temporarilyUnavailable, 'no leader known'));
    }
    for (const [index, proposal] of this.proposals) {
      if (proposal.deadline > now) break;
      this.proposals.delete(index);
      this.reply(proposal.request.route, errorBody(ErrorCode.timeout, `entry ${index} not applied in time; it may still take effect`));
    }
    for (const [context, read] of this.reads) {
      if (read.deadline > now) break;
      this.reads.delete(context);
      this.reply(read.request.route, errorBody(ErrorCode.timeout, 'read not confirmed in time'));
    }
    for (const [msgId, forward] of this.forwards) {
      if (forward.deadline > now) break;
      this.forwards.delete(msgId);
      // The leader may have proposed it.
      this.reply(forward.request.route, errorBody(ErrorCode.timeout, 'no answer from the leader; it may still take effect'));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Raft

  private receiveRaft(src: string, body: Body): void {
    const fromId = this.idByName.get(src);
    if (fromId === undefined) {
      this.io.log.warn({ src }, 'raft message from a node outside the cluster');
      return;
    }
    let message: Message;
    try {
      message = decodeRaftMessage(body.msg);
    } catch (error) {
      if (!(error instanceof RaftCodecError)) throw error;
      this.io.log.warn({ src, error: error.message }, 'dropping a malformed raft message');
      return;
    }
    if (message.from !== fromId || message.to !== this.selfId) {
      this.io.log.warn({ src, from: message.from, to: message.to }, 'raft message with the wrong addresses');
      return;
    }
    this.raft.step(message);
  }

  private handleReady(ready: Ready): void {
    if (ready.softState) this.noteSoftState(ready.softState);
    for (const message of ready.messages) this.sendRaft(message);
    // Persisting is a no-op: a Maelstrom node keeps everything in memory and is never restarted
    // from disk. The order still holds, so no vote or acknowledgement runs ahead of its state.
    for (const message of ready.persistMessages) this.sendRaft(message);
    if (ready.snapshot) this.installSnapshot(ready.snapshot);
    for (const entry of ready.committedEntries) this.apply(entry);
    for (const readState of ready.readStates) this.confirmRead(readState);
    for (const context of ready.droppedReads) {
      const read = this.reads.get(context);
      if (!read) continue;
      this.reads.delete(context);
      this.reply(read.request.route, errorBody(ErrorCode.temporarilyUnavailable, 'leadership lost before the read was confirmed'));
    }
  }

  private noteSoftState(softState: SoftState): void {
    if (softState.leader !== this.leader || softState.role !== this.role) {
      this.io.log.info({ node: this.self, role: softState.role, leader: this.nameById.get(softState.leader) ?? null, term: this.raft.status().term }, 'raft state');
    }
    this.leader = softState.leader;
    this.role = softState.role;
  }

  private sendRaft(message: Message): void {
    const dest = this.nameById.get(message.to);
    if (dest === undefined) throw new Error(`maelstrom node ${this.self}: raft message to unknown node ${message.to}`);
    if (message.type === 'snapshot') this.snapshotsSent.push(message.to);
    this.outbox.notify(this.self, dest, { type: RAFT_TYPE, msg: encodeRaftMessage(message) });
  }

  private apply(entry: Entry): void {
    if (entry.index !== this.applied + 1) {
      throw new Error(`maelstrom node ${this.self}: applying entry ${entry.index} after ${this.applied}`);
    }
    this.applied = entry.index;
    let reply: Body | undefined;
    let id: string | undefined;
    if (entry.kind === 'normal') {
      const command = decodeCommand(entry.data);
      id = command.id;
      reply = this.store.apply(command.op);
    }
    const proposal = this.proposals.get(entry.index);
    if (!proposal) return;
    this.proposals.delete(entry.index);
    if (proposal.term !== entry.term || reply === undefined) {
      // Another entry was committed at our entry's index, so ours never will be.
      this.reply(proposal.request.route, errorBody(ErrorCode.temporarilyUnavailable, 'leadership changed before this was committed; it did not take effect'));
      return;
    }
    if (id !== proposal.id) {
      throw new Error(`maelstrom node ${this.self}: entry ${entry.index}@${entry.term} holds ${id}, but ${proposal.id} was proposed there`);
    }
    this.reply(proposal.request.route, reply);
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.store.restore(snapshot.data);
    this.applied = snapshot.meta.index;
    this.compactedIndex = snapshot.meta.index;
    for (const [index, proposal] of this.proposals) {
      if (index > snapshot.meta.index) continue;
      // The snapshot says what happened up to its index, but not to which request.
      this.proposals.delete(index);
      this.reply(proposal.request.route, errorBody(ErrorCode.timeout, `entry ${index} was compacted into a snapshot; its outcome is unknown`));
    }
  }

  private confirmRead(readState: ReadState): void {
    const read = this.reads.get(readState.context);
    // Absent: it timed out while the core confirmed it.
    if (!read) return;
    read.serveIndex = Math.max(readState.index, read.minIndex);
    this.confirmedReads.push(readState.context);
  }

  private serveReads(): void {
    if (this.confirmedReads.length === 0) return;
    const waiting: number[] = [];
    for (const context of this.confirmedReads) {
      const read = this.reads.get(context);
      if (!read) continue;
      if (this.applied < read.serveIndex) {
        waiting.push(context);
        continue;
      }
      this.reads.delete(context);
      this.reply(read.request.route, this.store.read(read.key));
    }
    this.confirmedReads = waiting;
  }

  private maybeCompact(): void {
    const every = this.options.compactEveryEntries;
    if (every <= 0 || this.applied - this.compactedIndex < every) return;
    this.raft.compact(this.applied, this.store.snapshot());
    this.compactedIndex = this.applied;
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled route: ${JSON.stringify(value)}`);
}
