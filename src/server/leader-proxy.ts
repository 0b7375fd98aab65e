// A follower's path to the leader: commands a follower cannot serve are sent over a few
// persistent RESP3 connections to the leader's client port, and the leader's replies are parsed
// back into Reply values, so each client gets them encoded in its own protocol version (a RESP2
// client must see `$-1` where the leader, speaking RESP3 to us, sent `_`).
//
// Proxy chains end: a node forwards only to the leader of its current term, and a node that
// was that leader and is no longer has moved to a higher term, so terms rise along any chain.
import net from 'node:net';
import { decimalDigitCount, writeDecimal } from '../resp/decimal.js';
import { OK } from '../resp/replies.js';
import type { Reply } from '../resp/reply.js';

/** How long a connection to the leader may take to establish. */
const CONNECT_TIMEOUT_MS = 1000;
/** How long a connection to a former leader waits for replies already due. */
const RETIRE_GRACE_MS = 3000;
/**
 * The smallest buffer a proxy connection encodes a turn's commands into; it doubles past that.
 * Small, so that a turn with one command takes its bytes from Node's buffer pool: 16 KiB buffers,
 * each a fresh allocation outside the heap, made GET -P 1 through a follower cost more CPU.
 */
const OUTGOING_BUFFER_BYTES = 256;

interface Pending {
  readonly complete: (reply: Reply) => void;
  /** Called instead of complete when the connection never reached the leader. */
  readonly undelivered?: () => void;
  /** Replies to skip (our own SELECT) before the one for this request. */
  readonly internal: boolean;
}

/** An incremental RESP3 reply parser; returns undefined until a whole reply is buffered. */
export class Resp3ReplyReader {
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;

  push(chunk: Buffer): void {
    this.buffer = this.offset < this.buffer.length ? Buffer.concat([this.buffer.subarray(this.offset), chunk]) : chunk;
    this.offset = 0;
  }

  next(): Reply | undefined {
    const start = this.offset;
    const reply = this.parse();
    if (reply === undefined) this.offset = start;
    return reply;
  }

  private line(): string | undefined {
    const end = this.buffer.indexOf('\r\n', this.offset, 'latin1');
    if (end < 0) return undefined;
    const text = this.buffer.toString('latin1', this.offset + 1, end);
    this.offset = end + 2;
    return text;
  }

  private blob(length: number): Buffer | undefined {
    if (this.offset + length + 2 > this.buffer.length) return undefined;
    const value = Buffer.from(this.buffer.subarray(this.offset, this.offset + length));
    this.offset += length + 2;
    return value;
  }

  /**
   * A bulk string (`$<length>\r\n<bytes>\r\n`, or RESP2's `$-1\r\n`), the reply to nearly every
   * proxied read: its length read from the bytes, its value a view of them. The chunks are never
   * written again, and Node sizes each to the bytes read, so a view holds no more memory than a
   * copy would until the reply is written to the client.
   */
  private bulk(): Reply | undefined {
    const buffer = this.buffer;
    let at = this.offset + 1;
    const negative = buffer[at] === 0x2d;
    if (negative) at++;
    let length = 0;
    for (let digits = 0; ; digits++) {
      if (at >= buffer.length) return undefined;
      const byte = buffer[at] as number;
      if (byte === 13) {
        if (digits === 0) throw new Error('proxy: a bulk string without a length from the leader');
        break;
      }
      if (byte < 48 || byte > 57) throw new Error(`proxy: a bulk string length with byte ${byte} from the leader`);
      length = length * 10 + (byte - 48);
      at++;
    }
    at += 2;
    if (negative) {
      if (at > buffer.length) return undefined;
      this.offset = at;
      return { kind: 'null' };
    }
    if (at + length + 2 > buffer.length) return undefined;
    this.offset = at + length + 2;
    return { kind: 'bulk', value: buffer.subarray(at, at + length) };
  }

  private parse(): Reply | undefined {
    const buffer = this.buffer;
    const at = this.offset;
    if (at >= buffer.length) return undefined;
    if (buffer[at] === 0x24) return this.bulk();
    // "+OK\r\n", the reply to every proxied write: the shared constant, no string made.
    if (buffer[at] === 0x2b && buffer[at + 1] === 0x4f && buffer[at + 2] === 0x4b && buffer[at + 3] === 13 && buffer[at + 4] === 10) {
      this.offset = at + 5;
      return OK;
    }
    const type = String.fromCharCode(this.buffer[this.offset] as number);
    const text = this.line();
    if (text === undefined) return undefined;
    switch (type) {
      case '+':
        return { kind: 'simple', value: text };
      case '-':
        return { kind: 'error', value: text };
      case ':': {
        const value = BigInt(text);
        return { kind: 'integer', value: value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value };
      }
      case '_':
        return { kind: 'null' };
      case ',':
        return { kind: 'double', value: text };
      case '#':
        return { kind: 'boolean', value: text === 't' };
      case '=':
      case '!': {
        const length = Number(text);
        if (length < 0) return { kind: 'null' };
        const value = this.blob(length);
        if (value === undefined) return undefined;
        if (type === '=') return { kind: 'verbatim', format: value.toString('latin1', 0, 3), value: value.subarray(4) };
        return { kind: 'error', value: value.toString('latin1') };
      }
      case '*':
      case '~':
      case '>': {
        const count = Number(text);
        if (count < 0) return { kind: 'nullArray' };
        const items: Reply[] = [];
        for (let k = 0; k < count; k++) {
          const item = this.parse();
          if (item === undefined) return undefined;
          items.push(item);
        }
        return type === '~' ? { kind: 'set', value: items } : { kind: 'array', value: items };
      }
      case '%': {
        const count = Number(text);
        const pairs: [Reply, Reply][] = [];
        for (let k = 0; k < count; k++) {
          const key = this.parse();
          if (key === undefined) return undefined;
          const value = this.parse();
          if (value === undefined) return undefined;
          pairs.push([key, value]);
        }
        return { kind: 'map', value: pairs };
      }
      default:
        throw new Error(`proxy: unexpected RESP type byte ${JSON.stringify(type)} from the leader`);
    }
  }
}

/** Bytes of `commands` as RESP arrays of bulk strings. */
function encodedLength(commands: readonly (readonly Buffer[])[]): number {
  let size = 0;
  for (const argv of commands) {
    size += 3 + decimalDigitCount(argv.length);
    for (const arg of argv) size += 5 + decimalDigitCount(arg.length) + arg.length;
  }
  return size;
}

/** Writes `commands` as RESP arrays of bulk strings into `out` from `at` (room checked by the caller); returns the end. */
function encodeCommandsInto(out: Buffer, at: number, commands: readonly (readonly Buffer[])[]): number {
  for (const argv of commands) {
    out[at++] = 42; // '*'
    at = writeDecimal(out, at, argv.length);
    out[at++] = 13;
    out[at++] = 10;
    for (const arg of argv) {
      out[at++] = 36; // '$'
      at = writeDecimal(out, at, arg.length);
      out[at++] = 13;
      out[at++] = 10;
      at += arg.copy(out, at);
      out[at++] = 13;
      out[at++] = 10;
    }
  }
  return at;
}

/** RESP arrays of bulk strings for `commands`, in one buffer. */
export function encodeCommands(commands: readonly (readonly Buffer[])[]): Buffer {
  const out = Buffer.allocUnsafe(encodedLength(commands));
  encodeCommandsInto(out, 0, commands);
  return out;
}

/**
 * What a proxy connection sends during one event-loop turn, encoded into one buffer as the
 * commands come: at GET -P 16 through a follower, a buffer and a header string per command, and
 * the writev of them all, took a sixth of the follower's CPU.
 */
export class OutgoingCommands {
  private buffer: Buffer = Buffer.alloc(0);
  private used = 0;

  append(commands: readonly (readonly Buffer[])[]): void {
    const size = encodedLength(commands);
    if (this.buffer.length - this.used < size) {
      // Doubling what the turn holds, or exactly enough: a large value is not given twice its size.
      const grown = Buffer.allocUnsafe(Math.max(OUTGOING_BUFFER_BYTES, 2 * this.used, this.used + size));
      this.buffer.copy(grown, 0, 0, this.used);
      this.buffer = grown;
    }
    this.used = encodeCommandsInto(this.buffer, this.used, commands);
  }

  /** The bytes appended since the last take (the socket owns them from then on), or undefined. */
  take(): Buffer | undefined {
    if (this.used === 0) return undefined;
    const bytes = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.alloc(0);
    this.used = 0;
    return bytes;
  }
}

function encodeCommand(argv: readonly Buffer[]): Buffer {
  return encodeCommands([argv]);
}

class ProxyConnection {
  private readonly socket: net.Socket;
  private readonly reader = new Resp3ReplyReader();
  private readonly pending: Pending[] = [];
  private db = 0;
  closed = false;

  constructor(host: string, port: number, localAddress: string, password: string | undefined, private readonly onClose: (conn: ProxyConnection) => void) {
    // Dial from the node's own address, as peer connections do, so the proxy path is part of the
    // node's network identity (a firewall rule or partition on that address covers it too).
    this.socket = net.connect({ host, port, ...(net.isIP(localAddress) ? { localAddress } : {}) });
    this.socket.setNoDelay(true);
    const hello = password === undefined
      ? [Buffer.from('HELLO'), Buffer.from('3')]
      : [Buffer.from('HELLO'), Buffer.from('3'), Buffer.from('AUTH'), Buffer.from('default'), Buffer.from(password)];
    this.pending.push({ internal: true, complete: () => undefined });
    this.socket.write(encodeCommand(hello));
    // A partition drops SYNs silently: give up connecting after a bound (nothing was delivered).
    this.socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
      if (!this.connected) this.close();
    });
    this.socket.once('connect', () => {
      this.connected = true;
      this.socket.setTimeout(0);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => this.close());
    this.socket.on('close', () => this.close());
  }

  get depth(): number {
    return this.pending.length;
  }

  /** Closes once every command sent has its reply (the leader moved: send nothing new here). */
  retire(): void {
    this.retiring = true;
    // Never connected: nothing reached the old leader, so its commands can go elsewhere now.
    if (!this.connected || this.pending.every((waiter) => waiter.internal)) {
      this.close();
      return;
    }
    // A leader cut off by a partition never answers; after the grace period the commands' outcome
    // is reported unknown rather than left waiting on TCP retransmission timeouts.
    setTimeout(() => this.close(), RETIRE_GRACE_MS).unref();
  }

  private retiring = false;
  /** Until the socket connects, nothing sent has reached the leader. */
  private connected = false;

  send(db: number, commands: readonly (readonly Buffer[])[], complete: (reply: Reply) => void, undelivered?: () => void): void {
    if (db !== this.db) {
      this.write([[Buffer.from('SELECT'), Buffer.from(String(db))]]);
      this.pending.push({ internal: true, complete: () => undefined });
      this.db = db;
    }
    for (let k = 0; k < commands.length; k++) this.pending.push({ internal: k < commands.length - 1, complete, undelivered });
    this.write(commands);
  }

  /** Commands go out together at the end of the event-loop turn: one buffer, one write. */
  private write(commands: readonly (readonly Buffer[])[]): void {
    this.outgoing.append(commands);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const bytes = this.outgoing.take();
      if (bytes !== undefined && !this.closed) this.socket.write(bytes);
    });
  }

  private readonly outgoing = new OutgoingCommands();
  private flushScheduled = false;

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    for (;;) {
      let reply: Reply | undefined;
      try {
        reply = this.reader.next();
      } catch {
        this.close();
        return;
      }
      if (reply === undefined) return;
      const waiter = this.pending.shift();
      if (waiter && !waiter.internal) waiter.complete(reply);
      if (this.retiring && this.pending.every((other) => other.internal)) {
        this.close();
        return;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const lost: Reply = { kind: 'error', value: 'ERR connection to the leader lost: the command may or may not have been applied' };
    for (const waiter of this.pending.splice(0)) {
      if (waiter.internal) continue;
      if (!this.connected && waiter.undelivered) waiter.undelivered();
      else waiter.complete(lost);
    }
    this.onClose(this);
  }
}

/** A small pool of connections to the current leader. */
export class LeaderProxy {
  private target: { host: string; port: number } | undefined;
  private connections: ProxyConnection[] = [];
  private nextConnection = 0;

  constructor(private readonly poolSize: number, private readonly localAddress: string, private readonly password: string | undefined) {}

  /** Points the proxy at a new leader (or none), closing connections to the old one. */
  setLeader(host: string | undefined, port: number | undefined): void {
    if (host === this.target?.host && port === this.target?.port) return;
    // Commands already sent to the old leader still get their replies (it forwards them or
    // refuses them); only new ones go to the new leader.
    for (const conn of this.connections.splice(0)) conn.retire();
    this.target = host !== undefined && port !== undefined ? { host, port } : undefined;
  }

  /** Commands sent and not yet answered, over every connection. */
  get inflight(): number {
    return this.connections.reduce((sum, conn) => sum + conn.depth, 0);
  }

  /** Whether a leader to forward to is known. */
  get hasTarget(): boolean {
    return this.target !== undefined;
  }

  /** Sends commands (replies to all but the last are swallowed) and completes with the last reply. */
  forward(db: number, commands: readonly (readonly Buffer[])[], complete: (reply: Reply) => void, undelivered?: () => void): void {
    const target = this.target;
    if (!target) {
      complete({ kind: 'error', value: 'CLUSTERDOWN no leader to forward to' });
      return;
    }
    if (this.connections.length < this.poolSize) {
      this.connections.push(new ProxyConnection(target.host, target.port, this.localAddress, this.password, (conn) => {
        this.connections = this.connections.filter((other) => other !== conn);
      }));
    }
    const conn = this.connections[this.nextConnection++ % this.connections.length] as ProxyConnection;
    conn.send(db, commands, complete, undelivered);
  }

  close(): void {
    for (const conn of this.connections.splice(0)) conn.close();
  }
}
