// PeerTransport: the sockets between raftis nodes (docs/transport.md). It listens on the peer
// port, keeps one persistent outbound connection per peer for Raft messages, and opens a separate
// connection per snapshot stream so a snapshot never queues ahead of a heartbeat.
//
// Traffic is one-way per connection: a node sends on the connections it dials and receives on the
// ones it accepts (as etcd's rafthttp streams do), so no two nodes ever race to dedupe a pair of
// connections. The listener only speaks during the handshake and to answer a snapshot.
//
// `send` never blocks and never throws for a peer's sake: messages are encoded at once into a
// bounded per-peer queue, and every queue with something in it is written once per event-loop turn
// as one buffer. When a queue is full, or the socket behind it is not draining, new messages are
// dropped and counted; Raft retransmits what matters.

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import type { Message, NodeId, SnapshotMessage } from '../raft/types.js';
import { ChunkStream } from './chunk-stream.js';
import { encodeMessage, encodeSnapshotChunkParts, FRAME_OVERHEAD_BYTES, type Frame } from './codec.js';
import { PeerConnection, type CloseInfo, type ConnectionContext, type ConnectionEvents } from './connection.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface TransportLimits {
  /** The largest frame sent or accepted after the handshake, length prefix included. */
  readonly maxFrameBytes: number;
  /** Encoded bytes queued for one peer before new messages to it are dropped. */
  readonly maxQueueBytes: number;
  /** Messages queued for one peer before new messages to it are dropped. */
  readonly maxQueueMessages: number;
  /** Snapshot data is cut into frames of at most this many bytes. */
  readonly snapshotChunkBytes: number;
  /** Snapshot bytes a receiver buffers ahead of its handler before it stops reading the socket. */
  readonly snapshotBufferBytes: number;
  /** The first reconnect delay; it doubles per failed attempt up to `backoffMaxMs`, with jitter. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** A connection that has not finished its handshake by then is closed. */
  readonly handshakeTimeoutMs: number;
  /** A snapshot stream that moves no byte for this long is abandoned. */
  readonly snapshotIdleTimeoutMs: number;
  /** How long `close()` waits for peers to take what was flushed before destroying sockets. */
  readonly closeGraceMs: number;
  /** Accepted connections open at once (authenticated or not); more are closed on arrival. */
  readonly maxInboundConnections: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  maxFrameBytes: 16 * 1024 * 1024,
  maxQueueBytes: 8 * 1024 * 1024,
  maxQueueMessages: 4096,
  snapshotChunkBytes: 1024 * 1024,
  snapshotBufferBytes: 4 * 1024 * 1024,
  backoffBaseMs: 50,
  backoffMaxMs: 2000,
  handshakeTimeoutMs: 5000,
  snapshotIdleTimeoutMs: 30_000,
  closeGraceMs: 1000,
  maxInboundConnections: 256,
};

/**
 * Receives one snapshot: `message` is the Raft snapshot message (its `snapshot.data` is empty) and
 * `chunks` yields the image. Resolve once the image is durable (the sender then reports success
 * to Raft); reject to report failure. Resolving before `chunks` is exhausted counts as failure.
 */
export type SnapshotHandler = (message: SnapshotMessage, chunks: AsyncIterable<Buffer>) => Promise<void>;

export interface PeerTransportOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  /** Where to listen for peers; port 0 picks a free port (see `address()`). */
  readonly listen: PeerAddress;
  /** When set, every peer must prove it knows the same secret (HMAC challenge/response). */
  readonly secret?: string | Uint8Array;
  /** Ids removed from the cluster; they may not connect. See `setRemoved`. */
  readonly removed?: Iterable<NodeId>;
  readonly logger?: Logger;
  readonly limits?: Partial<TransportLimits>;
  /** Uniform in [0, 1), for backoff jitter. */
  readonly random?: () => number;
  /** Every message addressed to this node, in the order each peer sent them. */
  readonly onMessage: (message: Message) => void;
  /** A connection attempt to `id` failed or an established one was lost (see docs/transport.md). */
  readonly onUnreachable?: (id: NodeId) => void;
  readonly onSnapshot?: SnapshotHandler;
  /** A member refused our connection because this node was removed from the cluster. */
  readonly onRemovedByPeer?: (by: NodeId) => void;
  /** A peer that dialed us (and passed the handshake) listens at this address. */
  readonly onPeerAddress?: (id: NodeId, address: PeerAddress) => void;
  /**
   * Say in our hellos that this node's log may have lost entries it had acknowledged (it was
   * repaired with --repair-wal), so that the leader stops trusting its old match index.
   */
  readonly logLost?: boolean;
  /** A peer that dialed us (raft lane, handshake passed) says its log lost acknowledged entries. */
  readonly onPeerLogLost?: (id: NodeId) => void;
}

/** The outbound connection's state. `refused`: the peer (or we) refused the handshake. */
export type PeerState = 'connecting' | 'connected' | 'backoff' | 'refused';

export interface PeerStats {
  readonly id: NodeId;
  /** Undefined for a node we only hear from (no address configured). */
  readonly address: PeerAddress | undefined;
  readonly state: PeerState | 'unknown';
  /** The last refusal of our connection, for operators: "removed: node 4 was removed ...". */
  readonly refusal: string | undefined;
  /** Whether this node's own connection to us is up. */
  readonly inbound: boolean;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Bytes handed to the socket and not yet taken by the kernel. */
  readonly socketBufferedBytes: number;
  readonly sent: number;
  /** Socket writes: each carries every message queued in one event-loop turn. */
  readonly batches: number;
  readonly received: number;
  readonly dropped: number;
}

export interface TransportStats {
  readonly peers: readonly PeerStats[];
  /** Messages to ids with no address, or sent after close(). */
  readonly droppedUnroutable: number;
  /** Inbound connections we refused (wrong cluster, target or secret, removed id, protocol error). */
  readonly refusedConnections: number;
  /** Connections closed because the peer sent bytes that do not decode. */
  readonly badFrameConnections: number;
  readonly snapshotsSent: number;
  readonly snapshotsReceived: number;
  /** Snapshot bytes received and not yet taken by the handler, over all streams. */
  readonly snapshotBufferedBytes: number;
}

export type TransportErrorCode = 'unknown-peer' | 'closed' | 'refused' | 'connection-lost' | 'timeout' | 'rejected' | 'source-failed';

/** An operating error of the transport (a peer, a network, a snapshot source), never a bug. */
export class TransportError extends Error {
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

/**
 * The delay before reconnect attempt `attempt` (0-based): exponential from `baseMs`, capped at
 * `maxMs`, with "equal jitter" (a uniform pick in the upper half) so that peers that lost each
 * other at the same moment do not retry in lockstep.
 */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceilingMs = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return ceilingMs / 2 + (random() * ceilingMs) / 2;
}

interface OutboundPeer {
  readonly id: NodeId;
  address: PeerAddress;
  state: PeerState;
  refusal: string | undefined;
  /** The raft-lane connection, dialing or open. */
  conn: PeerConnection | undefined;
  /** Encoded message frames, oldest first. Invariant: queue.length <= maxQueueMessages. */
  queue: Buffer[];
  /** Sum of queue's lengths. Invariant: queuedBytes <= maxQueueBytes. */
  queuedBytes: number;
  /** Failed attempts since the last successful handshake. */
  attempt: number;
  retryTimer: NodeJS.Timeout | undefined;
  /** Drops have started and not yet been logged as over; keeps a full queue to one log line. */
  dropping: boolean;
  sent: number;
  batches: number;
  dropped: number;
}

/** A snapshot lane being received. */
interface SnapshotReceipt {
  readonly from: NodeId;
  stream: ChunkStream | undefined;
  receivedBytes: number;
  ended: boolean;
  /** Bytes taken in this event-loop turn; see the turn budget in onSnapshotFrame. */
  turnBytes: number;
  /** Reading stopped until the next turn. */
  throttled: boolean;
}

const EMPTY = new Uint8Array(0);

export class PeerTransport {
  readonly id: NodeId;
  readonly clusterId: string;
  private readonly limits: TransportLimits;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly options: PeerTransportOptions;
  /** Where we listen, as advertised in our hellos. */
  private readonly listenAddress: { host: string; port: number };
  private readonly ctx: ConnectionContext;
  private removed: ReadonlySet<NodeId>;
  private server: Server | undefined;
  private readonly peers = new Map<NodeId, OutboundPeer>();
  /** The open inbound raft-lane connection from each peer (a newer one replaces an older one). */
  private readonly inbound = new Map<NodeId, PeerConnection>();
  /** Every connection not yet closed, in both directions and on both lanes. */
  private readonly connections = new Set<PeerConnection>();
  private inboundCount = 0;
  private readonly receipts = new Map<PeerConnection, SnapshotReceipt>();
  private readonly receivedCounts = new Map<NodeId, number>();
  /** Peers with queued messages to write in the next flush. */
  private readonly dirty = new Set<OutboundPeer>();
  private flushScheduled = false;
  private closing: Promise<void> | undefined;
  private droppedUnroutable = 0;
  private refusedConnections = 0;
  private badFrameConnections = 0;
  private snapshotsSent = 0;
  private snapshotsReceived = 0;

  constructor(options: PeerTransportOptions) {
    if (!Number.isInteger(options.id) || options.id <= 0) throw new Error(`node id must be a positive integer, not ${options.id}`);
    this.options = options;
    this.id = options.id;
    this.clusterId = options.clusterId;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    if (this.limits.snapshotChunkBytes + FRAME_OVERHEAD_BYTES > this.limits.maxFrameBytes) {
      throw new Error(`snapshotChunkBytes ${this.limits.snapshotChunkBytes} does not fit in maxFrameBytes ${this.limits.maxFrameBytes}`);
    }
    this.log = (options.logger ?? pino({ name: 'raftis' })).child({ component: 'transport', node: options.id });
    this.random = options.random ?? Math.random;
    this.removed = new Set(options.removed ?? []);
    const secret = options.secret === undefined ? Buffer.alloc(0) : Buffer.from(options.secret);
    // Connections read the removed set when a hello arrives, so they must see later setRemoved calls.
    const currentRemoved = (): ReadonlySet<NodeId> => this.removed;
    const listenAddress = { host: options.listen.host, port: options.listen.port };
    this.listenAddress = listenAddress;
    this.ctx = {
      id: this.id,
      clusterId: this.clusterId,
      secret,
      listen: listenAddress,
      handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
      maxFrameBytes: this.limits.maxFrameBytes,
      closeGraceMs: this.limits.closeGraceMs,
      logLost: options.logLost === true,
      get removed() {
        return currentRemoved();
      },
    };
  }

  /** Starts listening; resolves with the bound address (the real port when 0 was asked). */
  async listen(): Promise<PeerAddress> {
    if (this.server !== undefined) throw new Error('listen() called twice');
    if (this.closing !== undefined) throw new TransportError('closed', 'transport is closed');
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listen.port, this.options.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'peer listener failed'));
    this.server = server;
    const address = this.address();
    // Port 0 asked for a free port: advertise the real one.
    this.listenAddress.port = address.port;
    this.log.info({ address }, 'listening for peers');
    return address;
  }

  address(): PeerAddress {
    const info = this.server?.address() as AddressInfo | null | undefined;
    if (info === undefined || info === null) throw new Error('not listening');
    return { host: info.address, port: info.port };
  }

  /**
   * Makes the peer set exactly `peers` (this node's own id is ignored): new peers are dialed,
   * peers whose address changed are redialed at once, peers left out are removed.
   */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    for (const id of [...this.peers.keys()]) {
      if (!peers.has(id)) this.removePeer(id);
    }
    for (const [id, address] of peers) {
      if (id === this.id) continue;
      if (!Number.isInteger(id) || id <= 0) throw new Error(`peer id must be a positive integer, not ${id}`);
      if (!Number.isInteger(address.port) || address.port <= 0 || address.port > 65535) {
        throw new Error(`peer ${id}: port ${address.port} is not a TCP port`);
      }
      const peer = this.peers.get(id);
      if (peer === undefined) {
        this.addPeer(id, address);
      } else if (peer.address.host !== address.host || peer.address.port !== address.port) {
        this.log.info({ peer: id, from: peer.address, to: address }, 'peer address changed; reconnecting');
        peer.address = { host: address.host, port: address.port };
        this.redial(peer);
      }
    }
  }

  /** Forgets a peer's address: its connection closes and its queued messages are discarded. */
  removePeer(id: NodeId): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    this.dirty.delete(peer);
    clearTimeout(peer.retryTimer);
    const conn = peer.conn;
    peer.conn = undefined;
    conn?.destroy('local', 'peer removed');
    this.log.info({ peer: id }, 'peer removed');
  }

  /**
   * Sets the ids removed from the cluster (ConfState.removed). They are refused at the
   * handshake from now on, and their open connections to us are closed with that reason.
   */
  setRemoved(ids: Iterable<NodeId>): void {
    this.removed = new Set(ids);
    for (const conn of this.connections) {
      if (conn.role === 'listener' && this.removed.has(conn.peerId)) {
        conn.refuse({ reason: 'removed', detail: `node ${conn.peerId} was removed from the cluster` });
      }
    }
  }

  /**
   * Queues `message` for `message.to`; it is written at the end of this event-loop turn. Never
   * blocks. Dropped (and counted) when the peer is unknown, its queue is full, or the message is
   * larger than a frame may be.
   */
  send(message: Message): void {
    if (message.from !== this.id) throw new Error(`send: message is from node ${message.from}, but this is node ${this.id}`);
    if (message.to === this.id) throw new Error(`send: a ${message.type} message addressed to this node itself`);
    const peer = this.peers.get(message.to);
    if (peer === undefined || this.closing !== undefined) {
      this.droppedUnroutable++;
      return;
    }
    if (peer.queue.length >= this.limits.maxQueueMessages) {
      this.drop(peer, 'queue full (messages)');
      return;
    }
    const frame = encodeMessage(message);
    if (frame.length > this.limits.maxFrameBytes) {
      this.drop(peer, `a ${message.type} message of ${frame.length} bytes exceeds maxFrameBytes ${this.limits.maxFrameBytes}`);
      return;
    }
    if (peer.queuedBytes + frame.length > this.limits.maxQueueBytes) {
      this.drop(peer, 'queue full (bytes)');
      return;
    }
    peer.queue.push(frame);
    peer.queuedBytes += frame.length;
    if (peer.state === 'connected') this.markDirty(peer);
  }

  /**
   * Streams a snapshot to `message.to` on a connection of its own, in frames of at most
   * `snapshotChunkBytes`, waiting for the socket to drain between writes. Resolves when the
   * receiver's handler has accepted it; rejects with a TransportError otherwise. The driver
   * reports either outcome to Raft (`reportSnapshot`). `message.snapshot.data` is not sent:
   * `source` is the image.
   */
  async sendSnapshot(message: SnapshotMessage, source: AsyncIterable<Uint8Array>): Promise<void> {
    if (message.from !== this.id) throw new Error(`sendSnapshot: message is from node ${message.from}, but this is node ${this.id}`);
    if (this.closing !== undefined) throw new TransportError('closed', 'transport is closed');
    const peer = this.peers.get(message.to);
    if (peer === undefined) throw new TransportError('unknown-peer', `no address for node ${message.to}`);
    const log = this.log.child({ peer: message.to, lane: 'snapshot', index: message.snapshot.meta.index });
    const lane = new SnapshotLane();
    const conn = PeerConnection.dial(this.ctx, peer.id, peer.address, 'snapshot', lane.events);
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
    const startedMs = performance.now();
    let totalBytes = 0;
    try {
      await lane.opened;
      conn.socket.setTimeout(this.limits.snapshotIdleTimeoutMs);
      conn.send({ type: 'snapshotBegin', message: { ...message, snapshot: { meta: message.snapshot.meta, data: EMPTY } } });
      try {
        for await (const piece of source) {
          // A result before the end is a failure the receiver already decided: stop sending.
          if (lane.hasResult) break;
          for (let at = 0; at < piece.length && !lane.hasResult; at += this.limits.snapshotChunkBytes) {
            lane.throwIfClosed();
            const size = Math.min(this.limits.snapshotChunkBytes, piece.length - at);
            totalBytes += size;
            // One chunk per turn at most: wait for the socket to drain, or at least for the
            // next turn, so other sockets get their share of this thread between chunks.
            if (conn.sendParts(encodeSnapshotChunkParts(piece.subarray(at, at + size)))) await nextTurn();
            else await lane.drained();
          }
        }
      } catch (err) {
        if (err instanceof TransportError) throw err;
        throw new TransportError('source-failed', `snapshot source failed: ${(err as Error).message}`, { cause: err });
      }
      lane.throwIfClosed();
      if (!lane.hasResult) conn.send({ type: 'snapshotEnd', totalBytes });
      const result = await lane.result;
      if (!result.ok) throw new TransportError('rejected', `node ${peer.id} rejected the snapshot: ${result.detail}`);
      this.snapshotsSent++;
      log.info({ bytes: totalBytes, ms: Math.round(performance.now() - startedMs) }, 'snapshot sent');
    } catch (err) {
      log.warn({ bytes: totalBytes, err: (err as Error).message }, 'snapshot send failed');
      throw err;
    } finally {
      conn.end('local', 'snapshot stream finished');
    }
  }

  /** Connection state and counters for one peer (configured or merely heard from). */
  peerStats(id: NodeId): PeerStats | undefined {
    const peer = this.peers.get(id);
    const inbound = this.inbound.has(id);
    const received = this.receivedCounts.get(id) ?? 0;
    if (peer === undefined) {
      if (!inbound && !this.receivedCounts.has(id)) return undefined;
      return {
        id,
        address: undefined,
        state: 'unknown',
        refusal: undefined,
        inbound,
        queuedMessages: 0,
        queuedBytes: 0,
        socketBufferedBytes: 0,
        sent: 0,
        batches: 0,
        received,
        dropped: 0,
      };
    }
    return {
      id,
      address: peer.address,
      state: peer.state,
      refusal: peer.refusal,
      inbound,
      queuedMessages: peer.queue.length,
      queuedBytes: peer.queuedBytes,
      socketBufferedBytes: peer.conn?.socket.writableLength ?? 0,
      sent: peer.sent,
      batches: peer.batches,
      received,
      dropped: peer.dropped,
    };
  }

  stats(): TransportStats {
    const ids = new Set([...this.peers.keys(), ...this.inbound.keys(), ...this.receivedCounts.keys()]);
    return {
      peers: [...ids].sort((a, b) => a - b).map((id) => this.peerStats(id) as PeerStats),
      droppedUnroutable: this.droppedUnroutable,
      refusedConnections: this.refusedConnections,
      badFrameConnections: this.badFrameConnections,
      snapshotsSent: this.snapshotsSent,
      snapshotsReceived: this.snapshotsReceived,
      snapshotBufferedBytes: [...this.receipts.values()].reduce((sum, r) => sum + (r.stream?.bufferedBytes ?? 0), 0),
    };
  }

  /**
   * Writes what is queued, stops listening and closes every connection: gracefully (peers get
   * what was written) within `closeGraceMs`, then by force. Snapshot streams in flight fail.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.flush();
    for (const peer of this.peers.values()) {
      clearTimeout(peer.retryTimer);
      peer.retryTimer = undefined;
    }
    const serverClosed = new Promise<void>((resolve) => {
      if (this.server === undefined) resolve();
      else this.server.close(() => resolve());
    });
    const connections = [...this.connections];
    for (const conn of connections) conn.end('local', 'transport closing');
    // end() destroys each socket after closeGraceMs at the latest, so these all settle.
    await Promise.all(connections.map((conn) => conn.closed));
    await serverClosed;
    this.log.info('transport closed');
  }

  // -------------------------------------------------------------------------------------------
  // Outbound raft lane.

  private addPeer(id: NodeId, address: PeerAddress): void {
    const peer: OutboundPeer = {
      id,
      address: { host: address.host, port: address.port },
      state: 'connecting',
      refusal: undefined,
      conn: undefined,
      queue: [],
      queuedBytes: 0,
      attempt: 0,
      retryTimer: undefined,
      dropping: false,
      sent: 0,
      batches: 0,
      dropped: 0,
    };
    this.peers.set(id, peer);
    this.dial(peer);
  }

  private redial(peer: OutboundPeer): void {
    clearTimeout(peer.retryTimer);
    peer.retryTimer = undefined;
    const conn = peer.conn;
    peer.conn = undefined;
    conn?.destroy('local', 'peer address changed');
    peer.attempt = 0;
    this.dial(peer);
  }

  private dial(peer: OutboundPeer): void {
    if (this.closing !== undefined) return;
    peer.retryTimer = undefined;
    peer.state = 'connecting';
    const events: ConnectionEvents = {
      open: () => {
        peer.state = 'connected';
        peer.attempt = 0;
        peer.refusal = undefined;
        this.log.info({ peer: peer.id, address: peer.address }, 'connected to peer');
        if (peer.queue.length > 0) this.markDirty(peer);
      },
      frame: (conn, frame) => conn.refuse({ reason: 'protocol', detail: `unexpected ${frame.type} frame from the listener of a raft lane` }),
      close: (conn, info) => this.onOutboundClosed(peer, conn, info),
      drain: () => this.markDirty(peer),
    };
    const conn = PeerConnection.dial(this.ctx, peer.id, peer.address, 'raft', events);
    peer.conn = conn;
    this.connections.add(conn);
  }

  private onOutboundClosed(peer: OutboundPeer, conn: PeerConnection, info: CloseInfo): void {
    this.connections.delete(conn);
    if (info.cause === 'bad-frame') this.badFrameConnections++;
    // A connection replaced by redial() or removePeer() closes quietly.
    if (peer.conn !== conn) return;
    peer.conn = undefined;
    const log = { peer: peer.id, address: peer.address, cause: info.cause, reason: info.reason };
    // Messages written into a broken connection are lost; so are the ones still queued, which
    // would be stale by the time a new connection is up. Raft resends what it still needs.
    if (peer.queue.length > 0) {
      peer.dropped += peer.queue.length;
      peer.queue = [];
      peer.queuedBytes = 0;
      this.dirty.delete(peer);
    }
    if (this.closing !== undefined) return;
    let delayMs: number;
    if (info.refusal !== undefined) {
      const refusal = `${info.refusal.reason}: ${info.refusal.detail}`;
      // A member refusing us as removed is how a removed node learns it (the leader stops
      // replicating to it once the removal commits, so it may never see that commit).
      if (info.cause === 'refused-by-peer' && info.refusal.reason === 'removed') this.options.onRemovedByPeer?.(peer.id);
      // Refusals come from configuration, which changes rarely: retry slowly, log once per cause.
      if (peer.refusal !== refusal || peer.state !== 'refused') {
        this.log.warn(log, info.cause === 'refused-by-peer' ? 'peer refused our connection' : 'refused to connect to peer');
      }
      peer.state = 'refused';
      peer.refusal = refusal;
      delayMs = backoffDelayMs(Infinity, this.limits.backoffBaseMs, this.limits.backoffMaxMs, this.random);
    } else {
      if (info.wasOpen) this.log.warn(log, 'lost connection to peer');
      else if (peer.attempt === 0 || info.cause === 'bad-frame') this.log.info(log, 'cannot reach peer; will retry');
      else this.log.debug(log, 'cannot reach peer; will retry');
      peer.state = 'backoff';
      delayMs = backoffDelayMs(peer.attempt, this.limits.backoffBaseMs, this.limits.backoffMaxMs, this.random);
      peer.attempt++;
    }
    peer.retryTimer = setTimeout(() => this.dial(peer), delayMs);
    this.options.onUnreachable?.(peer.id);
  }

  private drop(peer: OutboundPeer, why: string): void {
    peer.dropped++;
    if (!peer.dropping) {
      peer.dropping = true;
      this.log.warn({ peer: peer.id, state: peer.state, queuedMessages: peer.queue.length, queuedBytes: peer.queuedBytes }, `dropping messages: ${why}`);
    }
  }

  private markDirty(peer: OutboundPeer): void {
    this.dirty.add(peer);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes every dirty peer's queue as one buffer. Runs once per event-loop turn at most. */
  private flush(): void {
    this.flushScheduled = false;
    for (const peer of this.dirty) {
      const conn = peer.conn;
      if (conn === undefined || !conn.isOpen || peer.queue.length === 0) continue;
      // A socket that has not drained its last batch is a slow peer: hold (and, once the queue
      // is full, drop) rather than pile more into the socket's unbounded buffer. 'drain' re-marks.
      if (conn.socket.writableNeedDrain) continue;
      const batch = peer.queue.length === 1 ? (peer.queue[0] as Buffer) : Buffer.concat(peer.queue, peer.queuedBytes);
      conn.sendEncoded(batch);
      peer.sent += peer.queue.length;
      peer.batches++;
      peer.queue = [];
      peer.queuedBytes = 0;
      if (peer.dropping) {
        peer.dropping = false;
        this.log.info({ peer: peer.id, dropped: peer.dropped }, 'queue drained; no longer dropping');
      }
    }
    this.dirty.clear();
  }

  // -------------------------------------------------------------------------------------------
  // Inbound: both lanes.

  private accept(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    if (this.inboundCount >= this.limits.maxInboundConnections) {
      this.refusedConnections++;
      this.log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, open: this.inboundCount }, 'too many peer connections; closing a new one');
      socket.destroy();
      return;
    }
    this.inboundCount++;
    const conn = PeerConnection.accept(this.ctx, socket, {
      open: (c) => this.onInboundOpen(c),
      frame: (c, frame) => (c.lane === 'raft' ? this.onRaftFrame(c, frame) : this.onSnapshotFrame(c, frame)),
      close: (c, info) => this.onInboundClosed(c, info),
    });
    this.connections.add(conn);
  }

  private onInboundOpen(conn: PeerConnection): void {
    if (conn.lane === 'snapshot') {
      conn.socket.setTimeout(this.limits.snapshotIdleTimeoutMs);
      this.receipts.set(conn, { from: conn.peerId, stream: undefined, receivedBytes: 0, ended: false, turnBytes: 0, throttled: false });
      return;
    }
    const previous = this.inbound.get(conn.peerId);
    this.inbound.set(conn.peerId, conn);
    // The peer dialed again, so it has given up on the old connection (which may be half-dead).
    previous?.destroy('local', 'replaced by a newer connection from the same peer');
    this.log.info({ peer: conn.peerId, remote: conn.remote }, 'accepted connection from peer');
    const advertised = conn.helloAddress;
    if (advertised) this.options.onPeerAddress?.(conn.peerId, advertised);
    if (conn.helloLogLost) this.options.onPeerLogLost?.(conn.peerId);
  }

  private onRaftFrame(conn: PeerConnection, frame: Frame): void {
    if (frame.type !== 'message') {
      this.protocolError(conn, `unexpected ${frame.type} frame on a raft lane`);
      return;
    }
    const message = frame.message;
    if (message.from !== conn.peerId) {
      this.protocolError(conn, `a message from node ${message.from} on the connection of node ${conn.peerId}`);
      return;
    }
    if (message.to !== this.id) {
      this.protocolError(conn, `a message for node ${message.to} sent to node ${this.id}`);
      return;
    }
    this.receivedCounts.set(message.from, (this.receivedCounts.get(message.from) ?? 0) + 1);
    this.options.onMessage(message);
  }

  private onSnapshotFrame(conn: PeerConnection, frame: Frame): void {
    const receipt = this.receipts.get(conn) as SnapshotReceipt;
    switch (frame.type) {
      case 'snapshotBegin': {
        if (receipt.stream !== undefined) return this.protocolError(conn, 'a second snapshotBegin on one lane');
        const message = frame.message;
        if (message.from !== conn.peerId || message.to !== this.id) {
          return this.protocolError(conn, `a snapshot from ${message.from} to ${message.to} on the lane of ${conn.peerId} to ${this.id}`);
        }
        const stream = new ChunkStream(() => this.resumeSnapshot(conn, receipt));
        receipt.stream = stream;
        this.log.info({ peer: conn.peerId, index: message.snapshot.meta.index, term: message.snapshot.meta.term }, 'receiving snapshot');
        const handler = this.options.onSnapshot;
        const handled = handler === undefined ? Promise.reject(new Error('this node has no snapshot handler')) : handler(message, stream);
        handled.then(
          () => this.finishReceipt(conn, receipt, undefined),
          (err: unknown) => this.finishReceipt(conn, receipt, err instanceof Error ? err : new Error(String(err))),
        );
        return;
      }
      case 'snapshotChunk': {
        const stream = receipt.stream;
        if (stream === undefined || receipt.ended) return this.protocolError(conn, 'a snapshot chunk outside a stream');
        receipt.receivedBytes += frame.data.length;
        stream.push(frame.data);
        // Backpressure: stop reading while the handler is behind.
        if (stream.bufferedBytes >= this.limits.snapshotBufferBytes) conn.socket.pause();
        // Fairness: every snapshot byte costs a copy and a CRC on this thread, and libuv reads
        // up to 32 buffers from one socket per turn. Take at most one chunk's worth per stream
        // per turn, so a heartbeat waiting on another socket is never more than that behind.
        receipt.turnBytes += frame.data.length;
        if (receipt.turnBytes >= this.limits.snapshotChunkBytes && !receipt.throttled) {
          receipt.throttled = true;
          conn.socket.pause();
          setImmediate(() => {
            receipt.throttled = false;
            receipt.turnBytes = 0;
            this.resumeSnapshot(conn, receipt);
          });
        }
        return;
      }
      case 'snapshotEnd': {
        const stream = receipt.stream;
        if (stream === undefined || receipt.ended) return this.protocolError(conn, 'a snapshot end outside a stream');
        receipt.ended = true;
        if (frame.totalBytes === receipt.receivedBytes) stream.end();
        else stream.fail(new TransportError('connection-lost', `snapshot stream claims ${frame.totalBytes} bytes; ${receipt.receivedBytes} arrived`));
        return;
      }
      default:
        return this.protocolError(conn, `unexpected ${frame.type} frame on a snapshot lane`);
    }
  }

  private resumeSnapshot(conn: PeerConnection, receipt: SnapshotReceipt): void {
    const buffered = receipt.stream?.bufferedBytes ?? 0;
    if (conn.socket.isPaused() && !receipt.throttled && buffered < this.limits.snapshotBufferBytes) conn.socket.resume();
  }

  /** The snapshot handler settled: tell the sender, then let it close the lane. */
  private finishReceipt(conn: PeerConnection, receipt: SnapshotReceipt, err: Error | undefined): void {
    let failure = err;
    if (failure === undefined && !receipt.ended) failure = new Error('the snapshot handler returned before the stream ended');
    const log = { peer: receipt.from, bytes: receipt.receivedBytes };
    if (failure === undefined) {
      this.snapshotsReceived++;
      this.log.info(log, 'snapshot received');
    } else {
      this.log.warn({ ...log, err: failure.message }, 'snapshot receive failed');
    }
    // Whatever still arrives has no reader; take it off the socket so the sender is not stuck.
    receipt.stream?.discard();
    if (conn.isClosed) return;
    conn.send({ type: 'snapshotResult', ok: failure === undefined, detail: failure?.message ?? '' });
  }

  private onInboundClosed(conn: PeerConnection, info: CloseInfo): void {
    this.connections.delete(conn);
    this.inboundCount--;
    if (info.cause === 'bad-frame') this.badFrameConnections++;
    if (info.cause === 'refused-by-us') this.refusedConnections++;
    if (this.inbound.get(conn.peerId) === conn) this.inbound.delete(conn.peerId);
    const receipt = this.receipts.get(conn);
    if (receipt !== undefined) {
      this.receipts.delete(conn);
      if (receipt.stream !== undefined && !receipt.ended) {
        receipt.stream.fail(new TransportError('connection-lost', `snapshot stream from node ${receipt.from} broke off: ${info.reason}`));
      }
    }
    const fields = { peer: conn.peerId, remote: conn.remote, lane: conn.lane, cause: info.cause, reason: info.reason };
    switch (info.cause) {
      case 'bad-frame':
      case 'timeout':
        this.log.warn(fields, 'closed peer connection');
        return;
      case 'refused-by-us':
        this.log.warn(fields, 'refused peer connection');
        return;
      case 'refused-by-peer':
        this.log.warn(fields, 'peer refused our handshake');
        return;
      case 'remote':
        if (info.wasOpen && conn.lane === 'raft') this.log.info(fields, 'peer connection closed');
        else this.log.debug(fields, 'peer connection closed');
        return;
      case 'local':
        this.log.debug(fields, 'peer connection closed');
        return;
    }
  }

  private protocolError(conn: PeerConnection, detail: string): void {
    conn.refuse({ reason: 'protocol', detail });
  }
}

/** The sending end of one snapshot lane: the connection's events, exposed as promises. */
class SnapshotLane {
  readonly opened: Promise<void>;
  readonly result: Promise<{ ok: boolean; detail: string }>;
  private closeError: TransportError | undefined;
  private resolveOpened!: () => void;
  private rejectOpened!: (err: Error) => void;
  private resolveResult!: (result: { ok: boolean; detail: string }) => void;
  private rejectResult!: (err: Error) => void;
  private drainWaiter: { resolve: () => void; reject: (err: Error) => void } | undefined;
  hasResult = false;

  readonly events: ConnectionEvents = {
    open: () => this.resolveOpened(),
    frame: (conn, frame) => {
      if (frame.type === 'snapshotResult') {
        this.hasResult = true;
        this.resolveResult(frame);
        this.drainWaiter?.resolve();
      } else conn.refuse({ reason: 'protocol', detail: `unexpected ${frame.type} frame from a snapshot receiver` });
    },
    close: (_conn, info) => {
      this.closeError = closeError(info);
      this.rejectOpened(this.closeError);
      this.rejectResult(this.closeError);
      this.drainWaiter?.reject(this.closeError);
    },
    drain: () => this.drainWaiter?.resolve(),
  };

  constructor() {
    this.opened = new Promise((resolve, reject) => {
      this.resolveOpened = resolve;
      this.rejectOpened = reject;
    });
    this.result = new Promise((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // Both are awaited later, if at all; keep an early rejection from counting as unhandled.
    this.opened.catch(() => {});
    this.result.catch(() => {});
  }

  throwIfClosed(): void {
    if (this.closeError !== undefined) throw this.closeError;
  }

  drained(): Promise<void> {
    this.throwIfClosed();
    return new Promise((resolve, reject) => {
      this.drainWaiter = {
        resolve: () => {
          this.drainWaiter = undefined;
          resolve();
        },
        reject,
      };
    });
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function closeError(info: CloseInfo): TransportError {
  switch (info.cause) {
    case 'refused-by-peer':
    case 'refused-by-us':
      return new TransportError('refused', `handshake refused: ${info.reason}`);
    case 'timeout':
      return new TransportError('timeout', info.reason);
    case 'local':
      return new TransportError('closed', info.reason);
    case 'remote':
    case 'bad-frame':
      return new TransportError('connection-lost', info.reason);
  }
}
