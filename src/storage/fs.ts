// The few filesystem operations storage uses, behind an interface so the tests can run the same
// code on a simulated disk that loses unsynced writes, tears the last one, and fills up
// (sim-fs.ts). The real implementation is a thin layer over node:fs/promises.
//
// Durability contract, as on Linux: data written to a file is durable once `sync()` on that file
// has resolved; a file's creation, a rename or an unlink is durable once `fsyncDir()` on its
// directory has resolved. Nothing else is promised.
import { open, mkdir, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';

/** 'read': must exist, read only. 'readwrite': must exist. 'create': created, or emptied if present. */
export type OpenMode = 'read' | 'readwrite' | 'create';

export interface StorageFile {
  readonly path: string;
  /** Writes all of `bytes` at `position`, or throws. A throw may leave a prefix written. */
  write(bytes: Uint8Array, position: number): Promise<void>;
  /** Reads up to `into.length` bytes at `position`; returns how many (0 at end of file). */
  read(into: Uint8Array, position: number): Promise<number>;
  /** Makes the file's data durable (fdatasync). */
  sync(): Promise<void>;
  truncate(sizeBytes: number): Promise<void>;
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

export interface StorageFs {
  /** Creates `dir` and any missing parents; no error if it exists. */
  mkdir(dir: string): Promise<void>;
  open(path: string, mode: OpenMode): Promise<StorageFile>;
  /** File names (not paths) in `dir`, in no particular order. */
  readdir(dir: string): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes creations, renames and unlinks in `dir` durable. */
  fsyncDir(dir: string): Promise<void>;
}

const OPEN_FLAGS: { readonly [M in OpenMode]: string } = { read: 'r', readwrite: 'r+', create: 'w+' };

class NodeFile implements StorageFile {
  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  async write(bytes: Uint8Array, position: number): Promise<void> {
    // A regular file may accept only part of a write (for instance when the disk fills up): keep
    // writing the rest, so that the next call reports the error that stopped it.
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, position + done);
      if (bytesWritten <= 0) throw Object.assign(new Error(`write of ${bytes.length - done} bytes made no progress`), { code: 'EIO' });
      done += bytesWritten;
    }
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(into, 0, into.length, position);
    return bytesRead;
  }

  sync(): Promise<void> {
    return this.handle.datasync();
  }

  truncate(sizeBytes: number): Promise<void> {
    return this.handle.truncate(sizeBytes);
  }

  async sizeBytes(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** The real filesystem. */
export class NodeFs implements StorageFs {
  async mkdir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
  }

  async open(path: string, mode: OpenMode): Promise<StorageFile> {
    return new NodeFile(path, await open(path, OPEN_FLAGS[mode]));
  }

  readdir(dir: string): Promise<string[]> {
    return readdir(dir);
  }

  rename(from: string, to: string): Promise<void> {
    return rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return unlink(path);
  }

  async fsyncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/** Reads the whole file, in bounded reads. */
export async function readWholeFile(file: StorageFile): Promise<Buffer> {
  const sizeBytes = await file.sizeBytes();
  const contents = Buffer.allocUnsafe(sizeBytes);
  let done = 0;
  while (done < sizeBytes) {
    const count = await file.read(contents.subarray(done, Math.min(sizeBytes, done + (8 << 20))), done);
    if (count === 0) break;
    done += count;
  }
  return done === sizeBytes ? contents : contents.subarray(0, done);
}

/** A file is shrunk this much at a time before it is deleted (see removeLargeFile). */
export const DELETE_STEP_BYTES = 4 * 1024 * 1024;
/** The pause between two steps, in which the WAL's queued fdatasyncs get their journal commit. */
export const DELETE_STEP_PAUSE_MS = 2;

/**
 * Deletes a file that may be large (an old snapshot, a WAL segment) without stalling the WAL's
 * fsyncs. Freeing extents is journal work (and a discard, on a file system mounted with it) that
 * every fdatasync on the same file system waits behind. Measured with bench/disk-stall.ts on
 * ext4, the longest concurrent WAL fdatasync while a 1 GB file went:
 * - in one unlink, 0.3-0.5 s;
 * - shrunk 64 MiB at a time (this function's step before the eighth session), about 90 ms;
 * - 4 MiB at a time with 2 ms pauses, 11-18 ms, at about 450 MiB/s.
 * RocksDB's rate-limited deletion does the same. A reader that still has the file open (a
 * snapshot being streamed to a follower) sees it cut short, fails its CRC or length check, and
 * the leader sends the newest snapshot instead.
 */
export async function removeLargeFile(fs: StorageFs, path: string, stepBytes = DELETE_STEP_BYTES, pauseMs = DELETE_STEP_PAUSE_MS): Promise<void> {
  const file = await fs.open(path, 'readwrite');
  try {
    const size = await file.sizeBytes();
    for (let target = size - stepBytes; target > 0; target -= stepBytes) {
      await file.truncate(target);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  } finally {
    await file.close();
  }
  await fs.unlink(path);
}
