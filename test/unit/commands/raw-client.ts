// Test helper: sends commands over a plain socket and returns the exact bytes of each reply, so a
// test can compare our encoded reply with redis-server's byte for byte. Replies are delimited by a
// small RESP scanner (no interpretation beyond finding where each reply ends).
import net from 'node:net';

/** Length of the complete RESP value starting at `offset`, or -1 if more bytes are needed. */
export function respLength(buf: Buffer, offset: number): number {
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd < 0) return -1;
  const type = String.fromCharCode(buf[offset]!);
  const header = buf.toString('latin1', offset + 1, lineEnd);
  let end = lineEnd + 2;
  switch (type) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
      return end - offset;
    case '$': case '=': case '!': {
      const size = Number(header);
      if (size < 0) return end - offset;
      if (buf.length < end + size + 2) return -1;
      return end + size + 2 - offset;
    }
    case '*': case '~': case '>': case '%': case '|': {
      let count = Number(header);
      if (count < 0) return end - offset;
      if (type === '%' || type === '|') count *= 2;
      for (let i = 0; i < count; i++) {
        const length = respLength(buf, end);
        if (length < 0) return -1;
        end += length;
      }
      return end - offset;
    }
    default:
      throw new Error(`not RESP at ${offset}: ${JSON.stringify(buf.toString('latin1', offset, offset + 20))}`);
  }
}

function encodeCommand(argv: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)];
  for (const arg of argv) {
    const value = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: { count: number; resolve: (replies: Buffer[]) => void }[] = [];
  private replies: Buffer[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        if (this.buffer.length === 0) break;
        const length = respLength(this.buffer, 0);
        if (length < 0) break;
        this.replies.push(this.buffer.subarray(0, length));
        this.buffer = this.buffer.subarray(length);
      }
      this.flush();
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.on('error', reject);
    });
  }

  private flush(): void {
    while (this.waiters.length > 0 && this.replies.length >= this.waiters[0]!.count) {
      const waiter = this.waiters.shift()!;
      waiter.resolve(this.replies.splice(0, waiter.count));
    }
  }

  /** Sends a pipeline and resolves with the raw bytes of each reply. */
  send(commands: readonly (readonly (string | Buffer)[])[]): Promise<Buffer[]> {
    return new Promise((resolve) => {
      this.waiters.push({ count: commands.length, resolve });
      this.socket.write(Buffer.concat(commands.map(encodeCommand)));
      this.flush();
    });
  }

  async call(...argv: (string | Buffer)[]): Promise<Buffer> {
    const [reply] = await this.send([argv]);
    return reply!;
  }

  close(): void {
    this.socket.destroy();
  }
}
