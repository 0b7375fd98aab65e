// One framed TCP connection to a peer, from dial or accept through the handshake to its close.
// It decodes frames, runs the handshake for its role (handshake.ts), hands every later frame to
// its owner, and closes exactly once with a reason the owner logs. It knows nothing of queues,
// reconnects or snapshots: those belong to PeerTransport.

import { connect, isIP, type Socket } from 'node:net';
import type { NodeId } from '../raft/types.js';
import { CodecError, encodeFrame, FrameDecoder, type Frame, type HelloFrame, type Lane } from './codec.js';
import { checkHello, handshakeProof, newNonce, proofMatches, type ListenerIdentity, type Refusal } from './handshake.js';

/** Frames before `accept` are small; a peer that has not authenticated may not make us buffer more. */
export const HANDSHAKE_MAX_FRAME_BYTES = 4096;
/** A listener only ever sends small frames back to a dialer (accept, refuse, a snapshot result). */
const DIALER_MAX_FRAME_BYTES = 64 * 1024;

export interface ConnectionContext extends ListenerIdentity {
  readonly secret: Buffer;
  /** Where this node listens for peers (sent in the hello; also the dialing source address). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly handshakeTimeoutMs: number;
  /** The largest frame a listener accepts once the handshake is done. */
  readonly maxFrameBytes: number;
  /** Sent in our hellos: this node's log may have lost acknowledged entries (HelloFrame.logLost). */
  readonly logLost?: boolean;
  /** How long a gracefully ending connection waits for the peer to close before destroying it. */
  readonly closeGraceMs: number;
}

/**
 * Why a connection closed. `local`: we closed it; `remote`: the peer closed it or the socket
 * failed; `bad-frame`: the peer sent bytes that do not decode; `timeout`: the handshake (or, for
 * snapshot lanes, the stream) went quiet; `refused-by-us` / `refused-by-peer`: a refusal frame.
 */
export type CloseCause = 'local' | 'remote' | 'bad-frame' | 'timeout' | 'refused-by-us' | 'refused-by-peer';

export interface CloseInfo {
  readonly cause: CloseCause;
  readonly reason: string;
  /** Set for the two refusal causes. */
  readonly refusal: Refusal | undefined;
  /** Whether the handshake had completed. */
  readonly wasOpen: boolean;
}

export interface ConnectionEvents {
  /** The handshake succeeded; `conn.peerId` and `conn.lane` are final. */
  open(conn: PeerConnection): void;
  /** A frame after the handshake. */
  frame(conn: PeerConnection, frame: Frame): void;
  /** Called exactly once. */
  close(conn: PeerConnection, info: CloseInfo): void;
  /** The socket's write buffer emptied after a write returned false. */
  drain?(conn: PeerConnection): void;
}

type Step = 'connecting' | 'awaitHello' | 'awaitChallenge' | 'awaitAuth' | 'awaitAccept' | 'open' | 'ending' | 'closed';

export class PeerConnection {
  readonly socket: Socket;
  /** The node at the other end: the dialed id, or the id a hello claimed (0 until then). */
  peerId: NodeId;
  lane: Lane;
  private step: Step;
  private readonly decoder: FrameDecoder;
  private hello: HelloFrame | undefined;
  private listenerNonce: Buffer | undefined;
  private lastSocketError: Error | undefined;
  /** Set when we start closing, so the socket's own close event reports our reason, not "remote". */
  private pendingClose: { cause: CloseCause; reason: string; refusal: Refusal | undefined } | undefined;
  private wasOpen = false;
  private resolveClosed!: () => void;
  /** Settles once the socket has closed and `events.close` has run. */
  readonly closed: Promise<void> = new Promise((resolve) => (this.resolveClosed = resolve));

  private constructor(
    private readonly ctx: ConnectionContext,
    readonly role: 'dialer' | 'listener',
    socket: Socket,
    peerId: NodeId,
    lane: Lane,
    private readonly events: ConnectionEvents,
  ) {
    this.socket = socket;
    this.peerId = peerId;
    this.lane = lane;
    this.step = role === 'dialer' ? 'connecting' : 'awaitHello';
    this.decoder = new FrameDecoder({ maxFrameBytes: HANDSHAKE_MAX_FRAME_BYTES });
    socket.setNoDelay(true);
    socket.setTimeout(ctx.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => (this.lastSocketError = err));
    socket.on('timeout', () => this.destroy('timeout', `no progress for ${socket.timeout} ms in step ${this.step}`));
    socket.on('drain', () => this.events.drain?.(this));
    socket.on('close', () => this.finish());
  }

  static dial(ctx: ConnectionContext, to: NodeId, address: { readonly host: string; readonly port: number }, lane: Lane, events: ConnectionEvents): PeerConnection {
    // Dial from our own address, so that a peer (and a firewall rule in a partition test) sees
    // traffic coming from the node's address rather than 127.0.0.1.
    const socket = connect({ host: address.host, port: address.port, ...(isIP(ctx.listen.host) ? { localAddress: ctx.listen.host } : {}) });
    const conn = new PeerConnection(ctx, 'dialer', socket, to, lane, events);
    socket.once('connect', () => conn.sendHello());
    return conn;
  }

  static accept(ctx: ConnectionContext, socket: Socket, events: ConnectionEvents): PeerConnection {
    return new PeerConnection(ctx, 'listener', socket, 0, 'raft', events);
  }

  get isOpen(): boolean {
    return this.step === 'open';
  }

  get isClosed(): boolean {
    return this.step === 'closed' || this.step === 'ending';
  }

  /** Where the peer is, for logs. */
  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  /** Writes one frame; returns what socket.write returns (false: wait for drain). */
  send(frame: Frame): boolean {
    return this.sendEncoded(encodeFrame(frame));
  }

  sendEncoded(bytes: Buffer): boolean {
    if (this.isClosed) throw new Error(`send on a ${this.step} connection to node ${this.peerId}`);
    return this.socket.write(bytes);
  }

  /** Writes pre-encoded pieces as one corked write; returns what the last socket.write returned. */
  sendParts(parts: readonly Uint8Array[]): boolean {
    if (this.isClosed) throw new Error(`send on a ${this.step} connection to node ${this.peerId}`);
    this.socket.cork();
    let flowing = true;
    for (const part of parts) flowing = this.socket.write(part);
    this.socket.uncork();
    return flowing;
  }

  /** Tells the peer why, then ends the connection gracefully. */
  refuse(refusal: Refusal): void {
    if (this.isClosed) return;
    this.socket.write(encodeFrame({ type: 'refuse', ...refusal }));
    this.end('refused-by-us', `${refusal.reason}: ${refusal.detail}`, refusal);
  }

  /** Ends gracefully: what was written is delivered, then the socket closes (or is destroyed after a grace period). */
  end(cause: CloseCause, reason: string, refusal?: Refusal): void {
    if (this.isClosed) return;
    this.step = 'ending';
    this.pendingClose = { cause, reason, refusal };
    this.socket.end();
    // Do not let a peer that never closes its side keep the socket (or the process) alive.
    setTimeout(() => this.socket.destroy(), this.ctx.closeGraceMs).unref();
  }

  /** Closes at once, discarding anything unwritten. */
  destroy(cause: CloseCause, reason: string, refusal?: Refusal): void {
    if (this.step === 'closed') return;
    this.pendingClose ??= { cause, reason, refusal };
    this.step = 'ending';
    this.socket.destroy();
  }

  private finish(): void {
    if (this.step === 'closed') return;
    this.step = 'closed';
    const pending = this.pendingClose;
    const info: CloseInfo =
      pending !== undefined
        ? { ...pending, wasOpen: this.wasOpen }
        : {
            cause: 'remote',
            reason: this.lastSocketError !== undefined ? `socket error: ${this.lastSocketError.message}` : 'closed by the peer',
            refusal: undefined,
            wasOpen: this.wasOpen,
          };
    this.events.close(this, info);
    this.resolveClosed();
  }

  private receive(chunk: Buffer): void {
    this.decoder.push(chunk);
    for (;;) {
      if (this.isClosed) return;
      let frame: Frame | undefined;
      try {
        frame = this.decoder.next();
      } catch (err) {
        if (!(err instanceof CodecError)) throw err;
        // A peer of another protocol version is told so (the frame header is the same in every
        // version, so it can read a refusal); anything else that does not decode is garbage.
        if (err.code === 'version') this.refuse({ reason: 'version', detail: err.message });
        else this.destroy('bad-frame', `bad frame (${err.code}): ${err.message}`);
        return;
      }
      if (frame === undefined) return;
      this.handle(frame);
    }
  }

  private handle(frame: Frame): void {
    if (frame.type === 'refuse') {
      this.destroy('refused-by-peer', `${frame.reason}: ${frame.detail}`, { reason: frame.reason, detail: frame.detail });
      return;
    }
    switch (this.step) {
      case 'open':
        this.events.frame(this, frame);
        return;
      case 'awaitHello':
        if (frame.type !== 'hello') break;
        this.onHello(frame);
        return;
      case 'awaitChallenge':
        if (frame.type !== 'challenge') break;
        this.onChallenge(frame.nonce, frame.proof);
        return;
      case 'awaitAuth':
        if (frame.type !== 'auth') break;
        this.onAuth(frame.proof);
        return;
      case 'awaitAccept':
        if (frame.type !== 'accept') break;
        this.becomeOpen(DIALER_MAX_FRAME_BYTES);
        return;
      case 'connecting':
      case 'ending':
      case 'closed':
        break;
    }
    this.refuse({ reason: 'protocol', detail: `unexpected ${frame.type} frame in handshake step ${this.step}` });
  }

  private sendHello(): void {
    if (this.isClosed) return;
    this.hello = {
      type: 'hello', clusterId: this.ctx.clusterId, from: this.ctx.id, to: this.peerId, lane: this.lane, nonce: newNonce(),
      listenHost: this.ctx.listen.host, listenPort: this.ctx.listen.port,
      ...(this.ctx.logLost === true ? { logLost: true } : {}),
    };
    this.step = 'awaitChallenge';
    this.socket.write(encodeFrame(this.hello));
  }

  /** Whether the dialer's hello said its log lost acknowledged entries. */
  get helloLogLost(): boolean {
    return this.role === 'listener' && this.hello?.logLost === true;
  }

  /** The dialer's advertised listen address, once its hello arrived. */
  get helloAddress(): { host: string; port: number } | undefined {
    return this.role === 'listener' && this.hello ? { host: this.hello.listenHost, port: this.hello.listenPort } : undefined;
  }

  private onHello(hello: HelloFrame): void {
    this.hello = hello;
    this.peerId = hello.from;
    this.lane = hello.lane;
    const refusal = checkHello(hello, this.ctx);
    if (refusal !== undefined) {
      this.refuse(refusal);
      return;
    }
    this.listenerNonce = newNonce();
    this.step = 'awaitAuth';
    const proof = handshakeProof(this.ctx.secret, 'listener', hello, this.listenerNonce);
    this.socket.write(encodeFrame({ type: 'challenge', nonce: this.listenerNonce, proof }));
  }

  private onChallenge(listenerNonce: Buffer, proof: Buffer): void {
    const hello = this.hello as HelloFrame;
    if (!proofMatches(handshakeProof(this.ctx.secret, 'listener', hello, listenerNonce), proof)) {
      this.refuse({ reason: 'bad-secret', detail: `node ${this.peerId} could not prove it knows the shared secret` });
      return;
    }
    this.step = 'awaitAccept';
    this.socket.write(encodeFrame({ type: 'auth', proof: handshakeProof(this.ctx.secret, 'dialer', hello, listenerNonce) }));
  }

  private onAuth(proof: Buffer): void {
    const hello = this.hello as HelloFrame;
    if (!proofMatches(handshakeProof(this.ctx.secret, 'dialer', hello, this.listenerNonce as Buffer), proof)) {
      this.refuse({ reason: 'bad-secret', detail: `node ${hello.from} could not prove it knows the shared secret` });
      return;
    }
    this.socket.write(encodeFrame({ type: 'accept' }));
    this.becomeOpen(this.ctx.maxFrameBytes);
  }

  private becomeOpen(maxFrameBytes: number): void {
    this.step = 'open';
    this.wasOpen = true;
    this.decoder.maxFrameBytes = maxFrameBytes;
    this.socket.setTimeout(0);
    this.events.open(this);
  }
}
