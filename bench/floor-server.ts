// The floor of a replicated log written in Node.js: the least work that any design with raftis's
// shape (three Node.js processes, every write fsynced on the leader and on a follower before it
// is answered, every read confirmed by a round trip to a follower) has to do. bench/floor.ts
// starts three of these and measures them beside redis-server and raftis. Not a product, not a
// test: it parses nothing but the command name, keeps no data, elects nobody, and answers every
// SET with +OK and every GET with the same 64-byte value.
//
//   node --import tsx bench/floor-server.ts follower <port> <dir>
//   node --import tsx bench/floor-server.ts leader <client port> <follower port> <follower port> <dir>
//
// Leader: the request bytes received in one event-loop turn are one batch. A batch of writes goes
// to both followers at once and into the leader's file; one write + fdatasync is under way at a
// time and batches that arrive meanwhile join the next one (group commit, as raftis does). A
// batch is answered once the leader's fdatasync and one follower's acknowledgement cover it. A
// batch of reads sends one frame to the first follower and is answered when it comes back.
// Follower: appends what it receives with the same group commit and acknowledges the newest
// batch after each fdatasync; echoes read frames at once.
//
// Frames: u32 length, u32 batch number, u8 kind (0 write, 1 read), then `length` bytes.
// Acknowledgements: u32 batch number, u8 kind.
import net from 'node:net';
import path from 'node:path';
import { fdatasyncSync, writeSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';

const OK = Buffer.from('+OK\r\n');
const VALUE = Buffer.from(`$64\r\n${'x'.repeat(64)}\r\n`);
const KIND_WRITE = 0;
const KIND_READ = 1;
/** FLOOR_SYNC_IO=1: write and fdatasync with blocking calls (see drain). */
const SYNC_IO = process.env['FLOOR_SYNC_IO'] === '1';

async function openLog(dir: string, name: string): Promise<FileHandle> {
  await mkdir(dir, { recursive: true });
  return open(path.join(dir, name), 'w');
}

/** Appends buffers to a file with one write + fdatasync under way at a time; `done` runs after each. */
class GroupCommit {
  private queued: Buffer[] = [];
  private queuedThrough = 0;
  private writing = false;
  private position = 0;

  constructor(
    private readonly file: FileHandle,
    private readonly done: (through: number) => void,
  ) {}

  add(bytes: Buffer, batch: number): void {
    this.queued.push(bytes);
    this.queuedThrough = batch;
    if (this.writing) return;
    if (SYNC_IO) {
      // Everything added in this event-loop turn is written with one fdatasync, after the turn.
      this.writing = true;
      setImmediate(() => {
        this.writing = false;
        void this.drain();
      });
      return;
    }
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (SYNC_IO) {
      // Blocking variant: the write and the fdatasync run on the event loop's own thread.
      const bytes = this.queued.length === 1 ? this.queued[0]! : Buffer.concat(this.queued);
      const through = this.queuedThrough;
      this.queued = [];
      writeSync(this.file.fd, bytes, 0, bytes.length, this.position);
      this.position += bytes.length;
      fdatasyncSync(this.file.fd);
      this.done(through);
      return;
    }
    this.writing = true;
    while (this.queued.length > 0) {
      const bytes = this.queued.length === 1 ? this.queued[0]! : Buffer.concat(this.queued);
      const through = this.queuedThrough;
      this.queued = [];
      await this.file.write(bytes, 0, bytes.length, this.position);
      this.position += bytes.length;
      await this.file.datasync();
      this.done(through);
    }
    this.writing = false;
  }
}

/** Splits a byte stream into records of `headerBytes` plus the length the header's first u32 gives (times `withBody`). */
function framer(headerBytes: number, withBody: boolean, onFrame: (header: Buffer, body: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= headerBytes) {
      const bodyBytes = withBody ? pending.readUInt32LE(0) : 0;
      if (pending.length < headerBytes + bodyBytes) break;
      onFrame(pending.subarray(0, headerBytes), pending.subarray(headerBytes, headerBytes + bodyBytes));
      pending = pending.subarray(headerBytes + bodyBytes);
    }
  };
}

async function follower(port: number, dir: string): Promise<void> {
  const file = await openLog(dir, `follower-${port}`);
  net.createServer({ noDelay: true }, (socket) => {
    const acknowledge = (batch: number, kind: number): void => {
      const ack = Buffer.allocUnsafe(5);
      ack.writeUInt32LE(batch, 0);
      ack[4] = kind;
      socket.write(ack);
    };
    const log = new GroupCommit(file, (through) => acknowledge(through, KIND_WRITE));
    socket.on('data', framer(9, true, (header, body) => {
      const batch = header.readUInt32LE(4);
      if (header[8] === KIND_READ) acknowledge(batch, KIND_READ);
      else log.add(body, batch);
    }));
    socket.on('error', () => undefined);
  }).listen(port, '127.0.0.1');
}

/** How many requests a chunk holds (arrays starting a line), and whether the first is a GET. */
function scan(chunk: Buffer): { count: number; read: boolean } {
  let count = 0;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === 0x2a && (i === 0 || chunk[i - 1] === 0x0a)) count++;
  }
  // "*2\r\n$3\r\nGET\r\n..."
  const read = chunk.length > 10 && (chunk[8] === 0x47 || chunk[8] === 0x67) && (chunk[9] === 0x45 || chunk[9] === 0x65);
  return { count, read };
}

interface Waiting {
  readonly socket: net.Socket;
  readonly count: number;
}

async function leader(clientPort: number, followerPorts: readonly number[], dir: string): Promise<void> {
  const file = await openLog(dir, 'leader');
  let batchNumber = 0;
  let readNumber = 0;
  let syncedThrough = 0;
  let ackedThrough = 0;
  let answeredThrough = 0;
  const writeBatches = new Map<number, Waiting[]>();
  const readBatches = new Map<number, Waiting[]>();
  let writes: Waiting[] = [];
  let writeBytes: Buffer[] = [];
  let reads: Waiting[] = [];
  let flushScheduled = false;

  const answer = (list: readonly Waiting[], reply: Buffer): void => {
    const corked = new Set<net.Socket>();
    for (const { socket, count } of list) {
      if (!corked.has(socket)) {
        corked.add(socket);
        socket.cork();
      }
      for (let i = 0; i < count; i++) socket.write(reply);
    }
    for (const socket of corked) socket.uncork();
  };
  const commit = (): void => {
    const through = Math.min(syncedThrough, ackedThrough);
    for (; answeredThrough < through; answeredThrough++) {
      const list = writeBatches.get(answeredThrough + 1)!;
      writeBatches.delete(answeredThrough + 1);
      answer(list, OK);
    }
  };
  const log = new GroupCommit(file, (through) => {
    syncedThrough = through;
    commit();
  });
  const peers = followerPorts.map((port) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    socket.on('data', framer(5, false, (header) => {
      const batch = header.readUInt32LE(0);
      if (header[4] === KIND_READ) {
        const list = readBatches.get(batch);
        readBatches.delete(batch);
        if (list !== undefined) answer(list, VALUE);
        return;
      }
      if (batch > ackedThrough) ackedThrough = batch;
      commit();
    }));
    socket.on('error', (error) => {
      process.stderr.write(`follower ${port}: ${error.message}\n`);
      process.exit(1);
    });
    return socket;
  });
  const frame = (kind: number, batch: number, body: Buffer): Buffer => {
    const header = Buffer.allocUnsafe(9);
    header.writeUInt32LE(body.length, 0);
    header.writeUInt32LE(batch, 4);
    header[8] = kind;
    return header;
  };
  const flush = (): void => {
    flushScheduled = false;
    if (writes.length > 0) {
      const batch = ++batchNumber;
      const body = writeBytes.length === 1 ? writeBytes[0]! : Buffer.concat(writeBytes);
      writeBatches.set(batch, writes);
      writes = [];
      writeBytes = [];
      const header = frame(KIND_WRITE, batch, body);
      for (const peer of peers) {
        peer.cork();
        peer.write(header);
        peer.write(body);
        peer.uncork();
      }
      log.add(body, batch);
    }
    if (reads.length > 0) {
      const batch = ++readNumber;
      readBatches.set(batch, reads);
      reads = [];
      peers[0]!.write(frame(KIND_READ, batch, Buffer.alloc(0)));
    }
  };
  net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', (chunk: Buffer) => {
      const { count, read } = scan(chunk);
      if (count === 0) return;
      if (read) reads.push({ socket, count });
      else {
        writes.push({ socket, count });
        writeBytes.push(chunk);
      }
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });
    socket.on('error', () => undefined);
  }).listen(clientPort, '127.0.0.1');
}

const [role, ...args] = process.argv.slice(2);
if (role === 'follower') await follower(Number(args[0]), args[1]!);
else if (role === 'leader') await leader(Number(args[0]), [Number(args[1]), Number(args[2])], args[3]!);
else throw new Error('usage: floor-server.ts follower <port> <dir> | leader <client port> <follower port> <follower port> <dir>');
