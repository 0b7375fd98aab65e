// A simulated disk for storage tests (and for the cluster simulator's disk faults). It keeps what
// a crash is guaranteed to preserve apart from what was merely written:
//
// - A file's data written since its last successful sync() is pending. A directory's creations,
//   renames and unlinks since its last fsyncDir() are pending.
// - crash() (or a crash scheduled after a number of mutating calls) powers the disk off: every
//   later call fails with ECRASH. reboot() then decides, with the seeded PRNG, what survived: for
//   each file and each directory a random prefix of its pending operations is kept (possibly none)
//   and the last kept write is torn at a random byte. Everything else pending is lost. This models
//   a page cache that writes back in order; a disk that persists later pages before earlier ones
//   leaves a hole, which storage reports as corruption rather than mistaking for a torn tail.
// - A full disk (capacityBytes) accepts the part of a write that fits, then fails with ENOSPC.
// - injectFault() makes chosen calls fail with EIO (or any code). A failed sync() drops the
//   file's pending writes from what a crash can keep while reads still see them, as Linux does
//   after a writeback error ("fsyncgate"): only rewriting the data and syncing again makes it safe.
//
// Each process lifetime uses its own mount(): after reboot() the old mount's files and calls fail
// with ESTALE, so a storage instance from before the crash cannot touch the new lifetime's files.
import { basename, dirname, normalize } from 'node:path';
import { SeededPrng } from '../raft/prng.js';
import type { OpenMode, StorageFile, StorageFs } from './fs.js';

export type SimOperation = 'mkdir' | 'open' | 'create' | 'read' | 'write' | 'sync' | 'truncate' | 'rename' | 'unlink' | 'fsyncDir' | 'readdir';

export interface SimFault {
  readonly op: SimOperation;
  /** The error code to throw: 'EIO', 'ENOSPC', ... */
  readonly code: string;
  /** Only calls whose path contains this string fail. */
  readonly pathIncludes?: string;
  /** How many matching calls fail before the fault clears; default 1. */
  readonly count?: number;
}

type DataOp =
  | { readonly kind: 'write'; readonly position: number; readonly bytes: Buffer }
  | { readonly kind: 'truncate'; readonly sizeBytes: number };

type DirOp =
  | { readonly kind: 'link'; readonly name: string; readonly inode: number }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string };

interface Inode {
  /** What a crash keeps for certain. */
  durable: Buffer;
  /** What reads see. */
  current: Buffer;
  /** Operations since the last successful sync, in order; a crash keeps a prefix of them. */
  pending: DataOp[];
}

interface Dir {
  durable: Map<string, number>;
  current: Map<string, number>;
  pending: DirOp[];
}

/** What reboot() kept and lost, for tests that want to assert on it or print it. */
export interface SimCrashReport {
  readonly tornFiles: readonly { readonly path: string; readonly keptOps: number; readonly pendingOps: number; readonly tornAtByte?: number }[];
  readonly dirs: readonly { readonly dir: string; readonly keptOps: number; readonly pendingOps: number }[];
}

export function simError(code: string, op: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${op} ${path}`), { code, syscall: op, path });
}

function applyData(contents: Buffer, op: DataOp): Buffer {
  switch (op.kind) {
    case 'write': {
      const end = op.position + op.bytes.length;
      const grown = end > contents.length ? Buffer.alloc(end) : contents;
      if (grown !== contents) contents.copy(grown, 0);
      op.bytes.copy(grown, op.position);
      return grown;
    }
    case 'truncate': {
      if (op.sizeBytes <= contents.length) return Buffer.from(contents.subarray(0, op.sizeBytes));
      const grown = Buffer.alloc(op.sizeBytes);
      contents.copy(grown, 0);
      return grown;
    }
    default: {
      const never: never = op;
      throw new Error(`unhandled data op ${JSON.stringify(never)}`);
    }
  }
}

function applyDir(names: Map<string, number>, op: DirOp): void {
  switch (op.kind) {
    case 'link':
      names.set(op.name, op.inode);
      return;
    case 'unlink':
      names.delete(op.name);
      return;
    case 'rename': {
      const inode = names.get(op.from);
      if (inode === undefined) return;
      names.set(op.to, inode);
      names.delete(op.from);
      return;
    }
    default: {
      const never: never = op;
      throw new Error(`unhandled dir op ${JSON.stringify(never)}`);
    }
  }
}

export class SimDisk {
  /** Bytes the disk can hold across all files; writes past it fail with ENOSPC. */
  capacityBytes = Number.POSITIVE_INFINITY;
  /** Successful sync() and fsyncDir() calls, to check group commit. */
  syncCount = 0;

  private readonly prng: SeededPrng;
  private readonly inodes = new Map<number, Inode>();
  private readonly dirs = new Map<string, Dir>();
  private nextInode = 1;
  private epoch = 0;
  private poweredOff = false;
  private opsUntilCrash: number | undefined;
  private faults: { fault: SimFault; remaining: number }[] = [];

  constructor(readonly seed: number) {
    this.prng = new SeededPrng(seed);
  }

  /** A filesystem view for one process lifetime; it goes stale at the next reboot(). */
  mount(): StorageFs {
    return new SimMount(this, this.epoch);
  }

  /** Powers off after `count` more mutating calls: the call that would be number count + 1 fails. */
  crashAfterOps(count: number): void {
    this.opsUntilCrash = count;
  }

  crash(): void {
    this.poweredOff = true;
    this.opsUntilCrash = undefined;
  }

  get crashed(): boolean {
    return this.poweredOff;
  }

  injectFault(fault: SimFault): void {
    this.faults.push({ fault, remaining: fault.count ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Decides what survived the crash (see the file comment) and starts a new lifetime. */
  reboot(): SimCrashReport {
    const tornFiles: { path: string; keptOps: number; pendingOps: number; tornAtByte?: number }[] = [];
    const dirs: { dir: string; keptOps: number; pendingOps: number }[] = [];
    for (const [dir, entry] of [...this.dirs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const kept = this.prng.nextInt(entry.pending.length + 1);
      for (const op of entry.pending.slice(0, kept)) applyDir(entry.durable, op);
      if (entry.pending.length > 0) dirs.push({ dir, keptOps: kept, pendingOps: entry.pending.length });
      entry.pending = [];
      entry.current = new Map(entry.durable);
    }
    for (const [id, inode] of [...this.inodes].sort(([a], [b]) => a - b)) {
      const kept = this.prng.nextInt(inode.pending.length + 1);
      let tornAtByte: number | undefined;
      for (let i = 0; i < kept; i++) {
        let op = inode.pending[i]!;
        if (i === kept - 1 && op.kind === 'write') {
          tornAtByte = this.prng.nextInt(op.bytes.length + 1);
          op = { kind: 'write', position: op.position, bytes: op.bytes.subarray(0, tornAtByte) };
        }
        inode.durable = applyData(inode.durable, op);
      }
      if (inode.pending.length > 0) {
        const report = { path: this.pathOf(id) ?? `<inode ${id}>`, keptOps: kept, pendingOps: inode.pending.length };
        tornFiles.push(tornAtByte === undefined ? report : { ...report, tornAtByte });
      }
      inode.pending = [];
      inode.current = Buffer.from(inode.durable);
    }
    // A file no durable name refers to is gone.
    const live = new Set<number>();
    for (const entry of this.dirs.values()) for (const id of entry.durable.values()) live.add(id);
    for (const id of [...this.inodes.keys()]) if (!live.has(id)) this.inodes.delete(id);
    this.epoch += 1;
    this.poweredOff = false;
    this.opsUntilCrash = undefined;
    this.faults = [];
    return { tornFiles, dirs };
  }

  // ---- Inspection and bit rot, for tests. They bypass faults and do not count as operations.

  /** Names in `dir` as reads see them now. */
  list(dir: string): string[] {
    return [...(this.dirs.get(normalize(dir))?.current.keys() ?? [])].sort();
  }

  /** A file's contents as reads see them now, or undefined if it does not exist. */
  contents(path: string): Buffer | undefined {
    const id = this.lookup(path);
    return id === undefined ? undefined : Buffer.from(this.inodes.get(id)!.current);
  }

  /** Replaces a file's contents, durably (as if a disk's sector changed under us). */
  setContents(path: string, contents: Buffer): void {
    const id = this.lookup(path);
    if (id === undefined) throw new Error(`no file ${path}`);
    const inode = this.inodes.get(id)!;
    inode.durable = Buffer.from(contents);
    inode.current = Buffer.from(contents);
    inode.pending = [];
  }

  /** Bytes used by files that have a name now. */
  usedBytes(): number {
    let used = 0;
    const seen = new Set<number>();
    for (const entry of this.dirs.values()) {
      for (const id of entry.current.values()) {
        if (id === 0 || seen.has(id)) continue;
        seen.add(id);
        used += this.inodes.get(id)!.current.length;
      }
    }
    return used;
  }

  // ---- The operations SimMount and SimFile forward to.

  /** Counts a call, fails it if the disk is off, a fault matches, or the scheduled crash is due. */
  step(epoch: number, op: SimOperation, path: string, mutating: boolean, inode?: number): void {
    if (epoch !== this.epoch) throw simError('ESTALE', op, path);
    if (this.poweredOff) throw simError('ECRASH', op, path);
    for (const entry of this.faults) {
      if (entry.remaining <= 0 || entry.fault.op !== op) continue;
      if (entry.fault.pathIncludes !== undefined && !path.includes(entry.fault.pathIncludes)) continue;
      entry.remaining -= 1;
      if (op === 'sync' && inode !== undefined) this.inodes.get(inode)!.pending = [];
      throw simError(entry.fault.code, op, path);
    }
    if (!mutating || this.opsUntilCrash === undefined) return;
    if (this.opsUntilCrash <= 0) {
      this.crash();
      throw simError('ECRASH', op, path);
    }
    this.opsUntilCrash -= 1;
  }

  mkdir(dir: string): void {
    // Directories are created durably at once: storage creates them only when it starts. A
    // directory appears in its parent's listing under inode 0, which no file uses.
    const at = normalize(dir);
    if (this.dirs.has(at)) return;
    const parent = dirname(at);
    if (parent !== at) {
      this.mkdir(parent);
      const entry = this.dirs.get(parent)!;
      entry.current.set(basename(at), 0);
      entry.durable.set(basename(at), 0);
    }
    this.dirs.set(at, { durable: new Map(), current: new Map(), pending: [] });
  }

  openInode(path: string, mode: OpenMode): number {
    const dir = this.requireDir(path, 'open');
    const name = basename(path);
    const existing = dir.current.get(name);
    if (mode !== 'create') {
      if (existing === undefined || existing === 0) throw simError('ENOENT', 'open', path);
      return existing;
    }
    if (existing !== undefined && existing !== 0) {
      this.dataOp(existing, { kind: 'truncate', sizeBytes: 0 });
      return existing;
    }
    const id = this.nextInode++;
    this.inodes.set(id, { durable: Buffer.alloc(0), current: Buffer.alloc(0), pending: [] });
    dir.current.set(name, id);
    dir.pending.push({ kind: 'link', name, inode: id });
    return id;
  }

  write(id: number, path: string, bytes: Uint8Array, position: number): void {
    const inode = this.inode(id, path);
    const growthBytes = Math.max(0, position + bytes.length - inode.current.length);
    const freeBytes = this.capacityBytes === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : this.capacityBytes - this.usedBytes();
    if (growthBytes > freeBytes) {
      // Like a real disk: the part that fits is written, then the call fails.
      const fitting = Math.max(0, Math.min(bytes.length, inode.current.length + Math.max(0, freeBytes) - position));
      if (fitting > 0) this.dataOp(id, { kind: 'write', position, bytes: Buffer.from(bytes.subarray(0, fitting)) });
      throw simError('ENOSPC', 'write', path);
    }
    this.dataOp(id, { kind: 'write', position, bytes: Buffer.from(bytes) });
  }

  read(id: number, path: string, into: Uint8Array, position: number): number {
    const contents = this.inode(id, path).current;
    if (position >= contents.length) return 0;
    const count = Math.min(into.length, contents.length - position);
    contents.copy(into, 0, position, position + count);
    return count;
  }

  sync(id: number, path: string): void {
    const inode = this.inode(id, path);
    for (const op of inode.pending) inode.durable = applyData(inode.durable, op);
    inode.pending = [];
    this.syncCount += 1;
  }

  truncate(id: number, path: string, sizeBytes: number): void {
    this.inode(id, path);
    this.dataOp(id, { kind: 'truncate', sizeBytes });
  }

  sizeBytes(id: number, path: string): number {
    return this.inode(id, path).current.length;
  }

  readdir(dir: string): string[] {
    const entry = this.dirs.get(normalize(dir));
    if (entry === undefined) throw simError('ENOENT', 'readdir', dir);
    return [...entry.current.keys()];
  }

  rename(from: string, to: string): void {
    const dir = this.requireDir(from, 'rename');
    if (normalize(dirname(from)) !== normalize(dirname(to))) throw simError('EXDEV', 'rename', `${from} -> ${to}`);
    const id = dir.current.get(basename(from));
    if (id === undefined) throw simError('ENOENT', 'rename', from);
    dir.current.set(basename(to), id);
    dir.current.delete(basename(from));
    dir.pending.push({ kind: 'rename', from: basename(from), to: basename(to) });
  }

  unlink(path: string): void {
    const dir = this.requireDir(path, 'unlink');
    if (!dir.current.has(basename(path))) throw simError('ENOENT', 'unlink', path);
    dir.current.delete(basename(path));
    dir.pending.push({ kind: 'unlink', name: basename(path) });
  }

  fsyncDir(dir: string): void {
    const entry = this.dirs.get(normalize(dir));
    if (entry === undefined) throw simError('ENOENT', 'fsyncDir', dir);
    for (const op of entry.pending) applyDir(entry.durable, op);
    entry.pending = [];
    this.syncCount += 1;
  }

  private dataOp(id: number, op: DataOp): void {
    const inode = this.inodes.get(id)!;
    inode.current = applyData(inode.current, op);
    inode.pending.push(op);
  }

  private inode(id: number, path: string): Inode {
    const inode = this.inodes.get(id);
    if (inode === undefined) throw simError('EBADF', 'file', path);
    return inode;
  }

  private lookup(path: string): number | undefined {
    const id = this.dirs.get(normalize(dirname(path)))?.current.get(basename(path));
    return id === 0 ? undefined : id;
  }

  private requireDir(path: string, op: string): Dir {
    const dir = this.dirs.get(normalize(dirname(path)));
    if (dir === undefined) throw simError('ENOENT', op, path);
    return dir;
  }

  private pathOf(id: number): string | undefined {
    for (const [dir, entry] of this.dirs) {
      for (const [name, inode] of entry.current) if (inode === id) return `${dir}/${name}`;
    }
    return undefined;
  }
}

class SimMount implements StorageFs {
  constructor(
    private readonly disk: SimDisk,
    private readonly epoch: number,
  ) {}

  async mkdir(dir: string): Promise<void> {
    this.disk.step(this.epoch, 'mkdir', dir, false);
    this.disk.mkdir(dir);
  }

  async open(path: string, mode: OpenMode): Promise<StorageFile> {
    this.disk.step(this.epoch, mode === 'create' ? 'create' : 'open', path, mode === 'create');
    return new SimFile(this.disk, this.epoch, path, this.disk.openInode(path, mode), mode !== 'read');
  }

  async readdir(dir: string): Promise<string[]> {
    this.disk.step(this.epoch, 'readdir', dir, false);
    return this.disk.readdir(dir);
  }

  async rename(from: string, to: string): Promise<void> {
    this.disk.step(this.epoch, 'rename', from, true);
    this.disk.rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    this.disk.step(this.epoch, 'unlink', path, true);
    this.disk.unlink(path);
  }

  async fsyncDir(dir: string): Promise<void> {
    this.disk.step(this.epoch, 'fsyncDir', dir, true);
    this.disk.fsyncDir(dir);
  }
}

class SimFile implements StorageFile {
  private closed = false;

  constructor(
    private readonly disk: SimDisk,
    private readonly epoch: number,
    readonly path: string,
    private readonly inode: number,
    private readonly writable: boolean,
  ) {}

  async write(bytes: Uint8Array, position: number): Promise<void> {
    this.check('write', true);
    if (!this.writable) throw simError('EBADF', 'write', this.path);
    this.disk.write(this.inode, this.path, bytes, position);
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    this.check('read', false);
    return this.disk.read(this.inode, this.path, into, position);
  }

  async sync(): Promise<void> {
    this.check('sync', true);
    this.disk.sync(this.inode, this.path);
  }

  async truncate(sizeBytes: number): Promise<void> {
    this.check('truncate', true);
    this.disk.truncate(this.inode, this.path, sizeBytes);
  }

  async sizeBytes(): Promise<number> {
    this.check('read', false);
    return this.disk.sizeBytes(this.inode, this.path);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(op: SimOperation, mutating: boolean): void {
    if (this.closed) throw simError('EBADF', op, this.path);
    // A failed sync drops the pending writes from what a crash can keep (see the file comment).
    this.disk.step(this.epoch, op, this.path, mutating, this.inode);
  }
}
