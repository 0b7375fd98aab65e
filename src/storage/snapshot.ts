// Snapshot files: a checksummed header, then the state machine's image as checksummed frames.
//
//   header  "RAFTSNAP" | u16 formatVersion | u16 reserved | u32 headerBytes
//           | u64 index | u64 term | u64 dataBytes | u32 dataCrc | u32 frameCount
//           | confState (u32 count + u32 ids, for voters, learners, removed)
//           | u32 metadataBytes | metadata | u32 crc32(every header byte before it)
//   frames  u32 payloadBytes | u32 crc32(payload) | payload        (payload <= 1 MiB)
//
// dataCrc chains over every frame payload in order and dataBytes sums them, so a missing, repeated
// or reordered frame is caught as well as a flipped byte. The per-frame checksum lets a reader hand
// out each chunk only after it checked out, and name the frame where the corruption is.
//
// A snapshot is written to `<name>.<n>.tmp`, synced, renamed to `<index>-<term>.snap` (16 hex
// digits each) and the directory synced: a crash leaves either the whole file or a temp file,
// which the next open deletes.
import { join } from 'node:path';
import type { ConfState, SnapshotMeta } from '../raft/types.js';
import { crc32Of, readU64, writeU32, writeU64 } from './binary.js';
import { StorageCorruptionError, toWriteError } from './errors.js';
import { removeLargeFile, type StorageFile, type StorageFs } from './fs.js';
import type { StorageLogger } from './logger.js';
import type { SyncStats } from './sync-stats.js';

export const SNAPSHOT_MAGIC = Buffer.from('RAFTSNAP', 'latin1');
export const SNAPSHOT_FORMAT_VERSION = 1;
const FIXED_HEADER_BYTES = 8 + 2 + 2 + 4 + 8 + 8 + 8 + 4 + 4;
const FRAME_HEADER_BYTES = 8;
export const SNAPSHOT_FRAME_MAX_BYTES = 1 << 20;
/** A header larger than this is garbage, not a membership list. */
const MAX_HEADER_BYTES = 64 << 20;
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1 << 20;

/** A snapshot file as found on disk. */
export interface SnapshotFileInfo {
  readonly meta: SnapshotMeta;
  readonly path: string;
  /** Opaque bytes the driver stored with the snapshot (for instance its applied-state version). */
  readonly metadata: Buffer;
  readonly dataBytes: number;
  readonly fileBytes: number;
}

const SNAPSHOT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const TEMP_NAME = /\.snap\.\d+\.tmp$/;

export function snapshotName(index: number, term: number): string {
  return `${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`;
}

export function parseSnapshotName(name: string): { readonly index: number; readonly term: number } | undefined {
  const match = SNAPSHOT_NAME.exec(name);
  if (match === null) return undefined;
  return { index: Number.parseInt(match[1]!, 16), term: Number.parseInt(match[2]!, 16) };
}

export function isSnapshotTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

function headerBytesFor(conf: ConfState, metadata: Uint8Array): number {
  const ids = conf.voters.length + conf.learners.length + conf.removed.length;
  return FIXED_HEADER_BYTES + 12 + 4 * ids + 4 + metadata.length + 4;
}

interface HeaderFields {
  readonly meta: SnapshotMeta;
  readonly metadata: Uint8Array;
  readonly dataBytes: number;
  readonly dataCrc: number;
  readonly frameCount: number;
}

function encodeHeader(fields: HeaderFields): Buffer {
  const size = headerBytesFor(fields.meta.confState, fields.metadata);
  const header = Buffer.alloc(size);
  SNAPSHOT_MAGIC.copy(header, 0);
  header.writeUInt16BE(SNAPSHOT_FORMAT_VERSION, 8);
  header.writeUInt32BE(size, 12);
  writeU64(header, 16, fields.meta.index, 'snapshot.index');
  writeU64(header, 24, fields.meta.term, 'snapshot.term');
  writeU64(header, 32, fields.dataBytes, 'snapshot.dataBytes');
  header.writeUInt32BE(fields.dataCrc, 40);
  writeU32(header, 44, fields.frameCount, 'snapshot.frameCount');
  let at = FIXED_HEADER_BYTES;
  for (const [ids, field] of [[fields.meta.confState.voters, 'voters'], [fields.meta.confState.learners, 'learners'], [fields.meta.confState.removed, 'removed']] as const) {
    writeU32(header, at, ids.length, field);
    at += 4;
    for (const id of ids) {
      writeU32(header, at, id, field);
      at += 4;
    }
  }
  writeU32(header, at, fields.metadata.length, 'metadata');
  header.set(fields.metadata, at + 4);
  at += 4 + fields.metadata.length;
  header.writeUInt32BE(crc32Of(header, 0, at), at);
  return header;
}

async function readExactly(file: StorageFile, position: number, length: number): Promise<Buffer | undefined> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const count = await file.read(buffer.subarray(done), position + done);
    if (count === 0) return undefined;
    done += count;
  }
  return buffer;
}

/** Reads a snapshot file chunk by chunk, checking every frame and, at the end, the whole. */
export class SnapshotReader implements AsyncIterable<Buffer> {
  private offset: number;
  private framesRead = 0;
  private dataBytesRead = 0;
  private dataCrc = 0;
  private pending: Buffer | undefined;
  private done = false;

  private constructor(
    private readonly file: StorageFile,
    readonly info: SnapshotFileInfo,
    private readonly headerBytes: number,
    private readonly expectedDataCrc: number,
    private readonly frameCount: number,
    private readonly chunkBytes: number,
  ) {
    this.offset = headerBytes;
  }

  /** Opens `path` and checks its header; the data is checked as it is read. */
  static async open(fs: StorageFs, path: string, chunkBytes = DEFAULT_SNAPSHOT_CHUNK_BYTES): Promise<SnapshotReader> {
    if (!(chunkBytes >= 1)) throw new Error(`chunkBytes must be >= 1, got ${chunkBytes}`);
    const file = await fs.open(path, 'read');
    try {
      const fileBytes = await file.sizeBytes();
      const corrupt = (offset: number, reason: string): StorageCorruptionError => new StorageCorruptionError(path, offset, reason);
      const fixed = await readExactly(file, 0, FIXED_HEADER_BYTES);
      if (fixed === undefined) throw corrupt(0, `file of ${fileBytes} bytes is shorter than a snapshot header`);
      if (!fixed.subarray(0, 8).equals(SNAPSHOT_MAGIC)) throw corrupt(0, 'bad snapshot magic');
      const version = fixed.readUInt16BE(8);
      if (version !== SNAPSHOT_FORMAT_VERSION) throw corrupt(8, `unsupported snapshot format version ${version}`);
      const headerBytes = fixed.readUInt32BE(12);
      if (headerBytes < FIXED_HEADER_BYTES + 20 || headerBytes > MAX_HEADER_BYTES || headerBytes > fileBytes) {
        throw corrupt(12, `implausible header length ${headerBytes} (file is ${fileBytes} bytes)`);
      }
      const header = (await readExactly(file, 0, headerBytes))!;
      const storedCrc = header.readUInt32BE(headerBytes - 4);
      const actualCrc = crc32Of(header, 0, headerBytes - 4);
      if (storedCrc !== actualCrc) {
        throw corrupt(0, `header checksum mismatch over bytes 0..${headerBytes - 4}: stored 0x${storedCrc.toString(16)}, computed 0x${actualCrc.toString(16)}`);
      }
      // The checksum matched, so the fields below were written as they are; still refuse values a
      // correct writer cannot produce rather than trust them.
      const index = readU64(header, 16);
      const term = readU64(header, 24);
      const dataBytes = readU64(header, 32);
      if (index < 0 || term < 0 || dataBytes < 0) throw corrupt(16, 'index, term or data length exceeds 2^53');
      let at = FIXED_HEADER_BYTES;
      const ids = (): number[] => {
        const count = header.readUInt32BE(at);
        at += 4;
        if (at + 4 * count > headerBytes - 4) throw corrupt(at - 4, `membership list of ${count} ids overruns the header`);
        const list: number[] = [];
        for (let i = 0; i < count; i++, at += 4) list.push(header.readUInt32BE(at));
        return list;
      };
      const confState: ConfState = { voters: ids(), learners: ids(), removed: ids() };
      const metadataBytes = header.readUInt32BE(at);
      if (at + 4 + metadataBytes !== headerBytes - 4) throw corrupt(at, `metadata length ${metadataBytes} does not fill the header`);
      const metadata = Buffer.from(header.subarray(at + 4, at + 4 + metadataBytes));
      const info: SnapshotFileInfo = { meta: { index, term, confState }, path, metadata, dataBytes, fileBytes };
      return new SnapshotReader(file, info, headerBytes, header.readUInt32BE(40), header.readUInt32BE(44), chunkBytes);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  get meta(): SnapshotMeta {
    return this.info.meta;
  }

  /**
   * The next chunk of the image (at most chunkBytes), or undefined at the end. Each chunk comes
   * from a frame whose checksum matched; the end is reported only once the whole image's length,
   * frame count and checksum matched too, so a consumer must not treat the image as complete (or
   * install it) before next() has returned undefined.
   */
  async next(): Promise<Buffer | undefined> {
    if (this.pending !== undefined) return this.takePending();
    if (this.done) return undefined;
    const path = this.info.path;
    if (this.framesRead === this.frameCount) {
      if (this.dataBytesRead !== this.info.dataBytes) {
        throw new StorageCorruptionError(path, this.offset, `frames hold ${this.dataBytesRead} bytes, header says ${this.info.dataBytes}`);
      }
      if (this.dataCrc !== this.expectedDataCrc) {
        throw new StorageCorruptionError(path, this.headerBytes, `image checksum mismatch: header 0x${this.expectedDataCrc.toString(16)}, computed 0x${this.dataCrc.toString(16)}`);
      }
      if (this.offset !== this.info.fileBytes) {
        throw new StorageCorruptionError(path, this.offset, `${this.info.fileBytes - this.offset} unexpected bytes after the last frame`);
      }
      this.done = true;
      return undefined;
    }
    const frameHeader = await readExactly(this.file, this.offset, FRAME_HEADER_BYTES);
    if (frameHeader === undefined) throw new StorageCorruptionError(path, this.offset, `file ends before frame ${this.framesRead} of ${this.frameCount}`);
    const payloadBytes = frameHeader.readUInt32BE(0);
    if (payloadBytes > SNAPSHOT_FRAME_MAX_BYTES || this.offset + FRAME_HEADER_BYTES + payloadBytes > this.info.fileBytes) {
      throw new StorageCorruptionError(path, this.offset, `implausible frame length ${payloadBytes}`);
    }
    const payload = (await readExactly(this.file, this.offset + FRAME_HEADER_BYTES, payloadBytes)) ?? Buffer.alloc(0);
    if (payload.length !== payloadBytes) throw new StorageCorruptionError(path, this.offset, 'frame truncated');
    const stored = frameHeader.readUInt32BE(4);
    const actual = crc32Of(payload);
    if (stored !== actual) {
      throw new StorageCorruptionError(path, this.offset, `frame ${this.framesRead} checksum mismatch over bytes ${this.offset + FRAME_HEADER_BYTES}..${this.offset + FRAME_HEADER_BYTES + payloadBytes}`);
    }
    this.dataCrc = crc32Of(payload, 0, payload.length, this.dataCrc);
    this.dataBytesRead += payloadBytes;
    this.framesRead += 1;
    this.offset += FRAME_HEADER_BYTES + payloadBytes;
    this.pending = payload;
    return payloadBytes === 0 ? this.next() : this.takePending();
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    try {
      for (let chunk = await this.next(); chunk !== undefined; chunk = await this.next()) yield chunk;
    } finally {
      await this.close();
    }
  }

  private takePending(): Buffer {
    const pending = this.pending!;
    if (pending.length <= this.chunkBytes) {
      this.pending = undefined;
      return pending;
    }
    this.pending = pending.subarray(this.chunkBytes);
    return pending.subarray(0, this.chunkBytes);
  }
}

/** Reads a whole snapshot file, checking everything; returns what it describes. */
export async function verifySnapshotFile(fs: StorageFs, path: string): Promise<SnapshotFileInfo> {
  const reader = await SnapshotReader.open(fs, path, SNAPSHOT_FRAME_MAX_BYTES);
  try {
    while ((await reader.next()) !== undefined) {
      // Each frame is checked as it is read.
    }
    return reader.info;
  } finally {
    await reader.close();
  }
}

export interface SnapshotStoreOptions {
  readonly fs: StorageFs;
  readonly dir: string;
  readonly fsync: boolean;
  /** Snapshots kept; older ones are deleted once a newer one is durable. */
  readonly retained: number;
  readonly logger: StorageLogger;
  readonly syncStats: SyncStats;
}

/**
 * The snapshot directory: the files it holds, newest first, and their retention. The newest is
 * the one recovery loaded; older ones are kept as fallbacks (see docs/storage.md on compaction).
 */
export class SnapshotStore {
  private files: SnapshotFileInfo[] = [];
  private nextTempId = 0;
  /** The deletions of old snapshots that register() started, one after another; never rejects. */
  private deletions: Promise<void> = Promise.resolve();

  constructor(readonly options: SnapshotStoreOptions) {}

  get newest(): SnapshotFileInfo | undefined {
    return this.files[0];
  }

  get all(): readonly SnapshotFileInfo[] {
    return this.files;
  }

  /** Sets what open() found valid (newest first). */
  adopt(files: readonly SnapshotFileInfo[]): void {
    this.files = [...files].sort((a, b) => b.meta.index - a.meta.index || b.meta.term - a.meta.term);
  }

  find(index: number, term: number): SnapshotFileInfo | undefined {
    return this.files.find((file) => file.meta.index === index && file.meta.term === term);
  }

  /** Starts writing a snapshot of the state machine as of `meta.index`. */
  async create(meta: SnapshotMeta, metadata: Uint8Array = Buffer.alloc(0)): Promise<SnapshotWriter> {
    const final = join(this.options.dir, snapshotName(meta.index, meta.term));
    const temp = `${final}.${this.nextTempId++}.tmp`;
    let file: StorageFile;
    try {
      file = await this.options.fs.open(temp, 'create');
    } catch (error) {
      throw toWriteError(error, 'create snapshot', temp);
    }
    return new SnapshotWriter(this, file, final, meta, Buffer.from(metadata));
  }

  /**
   * Called by a writer once its file is durable under its final name. The snapshots beyond
   * `retained` leave the list at once and are deleted in the background: deleting an old
   * snapshot is housekeeping, the new one is already durable. A 1 GB snapshot takes about 2 s to
   * delete 4 MiB at a time (removeLargeFile), and the snapshot's completion (RAFT.SNAPSHOT's reply,
   * a follower's install) waited for it; etcd purges old snapshot files in the background too.
   */
  register(info: SnapshotFileInfo): void {
    this.files = [info, ...this.files.filter((file) => file.path !== info.path)];
    this.files.sort((a, b) => b.meta.index - a.meta.index || b.meta.term - a.meta.term);
    const surplus = this.files.slice(this.options.retained);
    if (surplus.length === 0) return;
    this.files = this.files.slice(0, this.options.retained);
    this.deletions = this.deletions.then(() => this.remove(surplus));
  }

  /** Resolves once every deletion register() has started is over (done, or failed and logged). */
  deletionsSettled(): Promise<void> {
    return this.deletions;
  }

  /** Deletes snapshots no longer listed. A failure is logged, and the file is left for the next open to list again. */
  private async remove(surplus: readonly SnapshotFileInfo[]): Promise<void> {
    try {
      for (const file of surplus) await removeLargeFile(this.options.fs, file.path);
      if (this.options.fsync) await this.options.syncStats.syncDir(this.options.fs, this.options.dir);
      this.options.logger.info({ removed: surplus.map((file) => file.path), kept: this.files.map((file) => file.path) }, 'removed old snapshots');
    } catch (error) {
      this.options.logger.warn({ err: error, surplus: surplus.map((file) => file.path) }, 'could not remove old snapshots');
    }
  }
}

type WriterState = 'open' | 'finishing' | 'finished' | 'failed' | 'aborted';

/**
 * The writer flushes the file every this many bytes. Left to the kernel, a 1 GB image sits in
 * dirty pages until finish()'s fsync, and every WAL fsync meanwhile waits for that writeback too
 * (on ext4 a journal commit carries other files' data with it): writes stalled for 0.6 s during
 * a 1 GB snapshot on a live leader (bench/snapshot-live.ts). Flushed in steps, a WAL fsync waits
 * for at most one step: its longest was 16 ms with 16 MiB steps and 6-7 ms with 4 MiB, for 10%
 * less write throughput (bench/disk-stall.ts). With 1 MiB steps (one per chunk the driver
 * writes), the snapshotting leader's WAL fsyncs averaged 2.4 ms during a 1 GB snapshot against
 * 4.0 ms with 4 MiB, its longest write took 57 ms against 87, and the snapshot took 7.0 s either
 * way (bench/snapshot-live.ts, twelfth session). Not counted in SyncStats, whose average is the
 * WAL's fsync latency.
 */
export const SNAPSHOT_SYNC_EVERY_BYTES = 1024 * 1024;

/**
 * Streams a state machine image into a new snapshot file. write() as many chunks as needed, then
 * finish(); or abort() to throw the attempt away. After a write error the writer is failed: abort
 * it (which deletes the temp file) and start again.
 */
export class SnapshotWriter {
  private state: WriterState = 'open';
  private offset: number;
  private dataBytes = 0;
  private dataCrc = 0;
  private frameCount = 0;
  private unsyncedBytes = 0;
  private frameBuffer: Buffer | undefined;
  private readonly headerBytes: number;

  constructor(
    private readonly store: SnapshotStore,
    private readonly file: StorageFile,
    readonly path: string,
    readonly meta: SnapshotMeta,
    private readonly metadata: Buffer,
  ) {
    this.headerBytes = headerBytesFor(meta.confState, metadata);
    this.offset = this.headerBytes;
  }

  get bytesWritten(): number {
    return this.dataBytes;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.expectState('open', 'write');
    try {
      for (let start = 0; start < chunk.length; start += SNAPSHOT_FRAME_MAX_BYTES) {
        const payload = chunk.subarray(start, Math.min(chunk.length, start + SNAPSHOT_FRAME_MAX_BYTES));
        // One frame buffer for the whole file (each write completes before the next frame is
        // built): a fresh one per frame is a GB of short-lived external memory for a 1 GB image.
        this.frameBuffer ??= Buffer.allocUnsafe(FRAME_HEADER_BYTES + SNAPSHOT_FRAME_MAX_BYTES);
        const frame = this.frameBuffer.subarray(0, FRAME_HEADER_BYTES + payload.length);
        frame.writeUInt32BE(payload.length, 0);
        frame.writeUInt32BE(crc32Of(payload), 4);
        frame.set(payload, FRAME_HEADER_BYTES);
        await this.file.write(frame, this.offset);
        this.offset += frame.length;
        this.dataBytes += payload.length;
        this.dataCrc = crc32Of(payload, 0, payload.length, this.dataCrc);
        this.frameCount += 1;
        this.unsyncedBytes += frame.length;
      }
      if (this.store.options.fsync && this.unsyncedBytes >= SNAPSHOT_SYNC_EVERY_BYTES) {
        this.unsyncedBytes = 0;
        await this.file.sync();
      }
    } catch (error) {
      this.state = 'failed';
      throw toWriteError(error, 'write snapshot', this.tempPath);
    }
  }

  /** Makes the snapshot durable under its final name and returns its meta. */
  async finish(): Promise<SnapshotMeta> {
    this.expectState('open', 'finish');
    this.state = 'finishing';
    const { fs, dir, fsync, syncStats } = this.store.options;
    let step = 'write snapshot header';
    try {
      const header = encodeHeader({ meta: this.meta, metadata: this.metadata, dataBytes: this.dataBytes, dataCrc: this.dataCrc, frameCount: this.frameCount });
      if (header.length !== this.headerBytes) throw new Error(`snapshot header is ${header.length} bytes, sized ${this.headerBytes}`);
      await this.file.write(header, 0);
      step = 'sync snapshot';
      if (fsync) await syncStats.syncFile(this.file);
      await this.file.close();
      step = 'rename snapshot';
      await fs.rename(this.tempPath, this.path);
      step = 'sync snapshot directory';
      if (fsync) await syncStats.syncDir(fs, dir);
    } catch (error) {
      this.state = 'failed';
      await this.file.close().catch(() => undefined);
      throw toWriteError(error, step, this.tempPath);
    }
    this.state = 'finished';
    this.store.register({ meta: this.meta, path: this.path, metadata: this.metadata, dataBytes: this.dataBytes, fileBytes: this.offset });
    return this.meta;
  }

  /** Deletes the temp file. Safe to call in any state but finished. */
  async abort(): Promise<void> {
    if (this.state === 'finished' || this.state === 'aborted') return;
    this.state = 'aborted';
    await this.file.close().catch(() => undefined);
    await this.store.options.fs.unlink(this.tempPath).catch(() => undefined);
  }

  private get tempPath(): string {
    return this.file.path;
  }

  private expectState(expected: WriterState, operation: string): void {
    if (this.state !== expected) throw new Error(`snapshot writer: cannot ${operation} when ${this.state}`);
  }
}
