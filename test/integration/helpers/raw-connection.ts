// Test helper: a client socket that speaks raw bytes, for comparing servers byte for byte. It
// never interprets replies beyond finding where each ends (resp-reply.ts), so what a test sees is
// exactly what the server wrote. Every wait is for a condition (N replies, the server closing);
// the deadline (below vitest's 60 s test timeout) only turns a hang into a readable failure.
import net from 'node:net';
import { replyLength } from './resp-reply.js';

export const READ_DEADLINE_MS = 50_000;

/** Encodes commands as RESP arrays of bulk strings. */
export function encodeCommands(commands: readonly (readonly (string | Buffer)[])[]): Buffer {
  const parts: Buffer[] = [];
  for (const argv of commands) {
    parts.push(Buffer.from(`*${argv.length}\r\n`));
    for (const arg of argv) {
      const bytes = typeof arg === 'string' ? Buffer.from(arg, 'latin1') : arg;
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
    }
  }
  return Buffer.concat(parts);
}

export class RawConnection {
  private received: Buffer = Buffer.alloc(0);
  private consumed = 0;
  private ended = false;
  private waiter: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = this.received.length === this.consumed ? chunk : Buffer.concat([this.received.subarray(this.consumed), chunk]);
      this.consumed = 0;
      this.wake();
    });
    socket.on('error', () => undefined);
    // With allowHalfOpen, 'end' (the server's FIN) is what says the server closed; 'close' only
    // follows once we end our side too.
    const serverClosed = (): void => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', serverClosed);
    socket.on('close', serverClosed);
  }

  static open(host: string, port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, allowHalfOpen: true });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  /** Resolves once `ready()` holds, or the server closed, or the deadline passed. */
  private async until(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + READ_DEADLINE_MS;
    while (!ready() && !this.ended) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for ${what}; have ${JSON.stringify(this.pending().toString('latin1').slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private pending(): Buffer {
    return this.received.subarray(this.consumed);
  }

  send(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /**
   * The next `count` complete replies. If the server closes first, resolves with the replies it
   * sent (fewer than `count`), so that a test compares the truncation as well.
   */
  async readReplies(count: number): Promise<Buffer[]> {
    const replies: Buffer[] = [];
    const take = (): boolean => {
      while (replies.length < count) {
        const pending = this.pending();
        if (pending.length === 0) return false;
        const length = replyLength(pending, 0);
        if (length < 0) return false;
        replies.push(Buffer.from(pending.subarray(0, length)));
        this.consumed += length;
      }
      return true;
    };
    await this.until(take, `${count} replies (got ${replies.length})`);
    take();
    return replies;
  }

  /** Shuts down our side and resolves with every byte the server sends until it closes. */
  async finish(): Promise<Buffer> {
    this.socket.end();
    await this.until(() => false, 'the server to close the connection');
    this.socket.destroy();
    const rest = Buffer.from(this.pending());
    this.consumed = this.received.length;
    return rest;
  }

  /** Resolves with every byte until the server closes, without shutting down our side. */
  async closedByServer(): Promise<Buffer> {
    await this.until(() => false, 'the server to close the connection');
    this.socket.destroy();
    const rest = Buffer.from(this.pending());
    this.consumed = this.received.length;
    return rest;
  }

  get isClosed(): boolean {
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
