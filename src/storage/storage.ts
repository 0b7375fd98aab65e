// A node's durable state in one directory: `wal/` holds the write-ahead log (entries and hard
// state), `snap/` the snapshot files. openStorage() recovers both and says what the node restarts
// from; DiskStorage then persists each Ready (save), writes and reads snapshots, compacts the log
// and reports its health for INFO.
//
// The Ready contract (src/raft/types.ts): the driver calls save() with the Ready's snapshot, hard
// state and entries, waits for it to resolve, and only then sends persistMessages. save() resolves
// once everything in it is durable, with one fsync for the entries and hard state together.
import { join } from 'node:path';
import type { ConfState, Entry, HardState, RestoreState, Snapshot, SnapshotMeta } from '../raft/types.js';
import { StorageCorruptionError, type StorageWriteError } from './errors.js';
import { NodeFs, type StorageFs } from './fs.js';
import { stderrLogger, type StorageLogger } from './logger.js';
import {
  DEFAULT_SNAPSHOT_CHUNK_BYTES, SnapshotReader, SnapshotStore, isSnapshotTempName, parseSnapshotName, verifySnapshotFile,
  type SnapshotFileInfo, type SnapshotWriter,
} from './snapshot.js';
import { SyncStats } from './sync-stats.js';
import { Wal, type WalRecovery } from './wal.js';

export const DEFAULT_SEGMENT_SIZE_BYTES = 64 << 20;
export const DEFAULT_SNAPSHOTS_RETAINED = 2;

export interface StorageOptions {
  /** Defaults to the real filesystem. */
  readonly fs?: StorageFs;
  /** A segment is closed once the next batch would take it past this size. Default 64 MiB. */
  readonly segmentSizeBytes?: number;
  /** The largest save written as one WAL batch record; larger ones get a record each. Default 1 GiB (tests lower it). */
  readonly batchRecordMaxBytes?: number;
  /**
   * 'always' (the default): save() resolves only once its batch is on disk. 'never' skips every
   * fsync: UNSAFE, a crash or power loss can lose acknowledged writes and break Raft's promises
   * (a vote forgotten, a committed entry lost). For experiments only.
   */
  readonly fsync?: 'always' | 'never';
  /**
   * Extend the active WAL segment with zeros ahead of the appends (true, the default, with fsync
   * on), so that an append's fdatasync does not also commit the file's new size. Off only in tests
   * that lay out a segment's bytes by hand.
   */
  readonly preallocate?: boolean;
  /** How many snapshot files to keep. Default 2. */
  readonly snapshotsRetained?: number;
  /** Default: JSON lines on stderr. */
  readonly logger?: StorageLogger;
  /**
   * `raftis server --repair-wal`: instead of refusing to start on corruption, truncate the log at
   * the first bad record (and delete what follows), logging exactly what was dropped. The node
   * then catches up from the leader. Repair one node at a time: a majority repaired at once can
   * lose committed writes.
   */
  readonly repair?: boolean;
}

/** What a node restarts from. */
export interface RecoveredState {
  /** Term, vote and commit; commit is at least the snapshot's index. */
  readonly hardState: HardState;
  /** The newest valid snapshot (read its image with openSnapshot), if any. */
  readonly snapshot: SnapshotFileInfo | undefined;
  /** Every entry after the snapshot, contiguous, in index order. */
  readonly entries: readonly Entry[];
}

/** One Ready's worth of state to persist. A Ready can be passed as is. */
export interface SaveBatch {
  readonly hardState?: HardState | undefined;
  readonly entries: readonly Entry[];
  /**
   * A snapshot received from the leader. Its file must already be durable (written through
   * createSnapshot), or `data` must hold the image, which save() then writes first. The log is
   * discarded up to and after the snapshot, and the batch's entries follow it.
   */
  readonly snapshot?: Snapshot | undefined;
}

export interface StorageStats {
  readonly fsyncCount: number;
  readonly fsyncAverageMicros: number;
  /** fsyncs per duration bucket (FSYNC_DURATION_BUCKETS, then one above them), not cumulative. */
  readonly fsyncBuckets: readonly number[];
  readonly fsyncTotalSeconds: number;
  readonly logSizeBytes: number;
  readonly segmentCount: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotLastIndex: number;
  readonly snapshotSizeBytes: number;
  /** The code of the write error that stopped writes ('ENOSPC', 'EIO', ...), if any. */
  readonly writeFailure: string | undefined;
  /** Write errors since open (each one stopped writes until a retry). */
  readonly writeFailures: number;
}

/** Builds the core's RestoreState; the snapshot's image is left empty (the driver installs it from the file). */
export function toRestoreState(recovered: RecoveredState, initialConf: ConfState): RestoreState {
  const snapshot = recovered.snapshot === undefined ? undefined : { meta: recovered.snapshot.meta, data: new Uint8Array(0) };
  return { hardState: recovered.hardState, snapshot, entries: recovered.entries, initialConf };
}

export async function openStorage(dir: string, options: StorageOptions = {}): Promise<{ storage: DiskStorage; recovered: RecoveredState }> {
  const fs = options.fs ?? new NodeFs();
  const logger = options.logger ?? stderrLogger;
  const fsync = (options.fsync ?? 'always') === 'always';
  const repair = options.repair ?? false;
  const segmentSizeBytes = options.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES;
  const retained = options.snapshotsRetained ?? DEFAULT_SNAPSHOTS_RETAINED;
  if (!(segmentSizeBytes >= 1)) throw new Error(`segmentSizeBytes must be >= 1, got ${segmentSizeBytes}`);
  if (!(Number.isInteger(retained) && retained >= 1)) throw new Error(`snapshotsRetained must be an integer >= 1, got ${retained}`);
  if (!fsync) logger.warn({ dir }, 'fsync is off: a crash can lose acknowledged writes (unsafe, for experiments only)');

  const syncStats = new SyncStats();
  const walDir = join(dir, 'wal');
  const snapDir = join(dir, 'snap');
  await fs.mkdir(walDir);
  await fs.mkdir(snapDir);
  if (fsync) await syncStats.syncDir(fs, dir);

  // Snapshots first: the newest one that checks out is where the log has to reach back to.
  const { valid, corruptNewer, corruptOlder, older } = await loadSnapshots(fs, snapDir, logger);
  let opened;
  try {
    opened = await Wal.open({ fs, dir: walDir, segmentSizeBytes, batchRecordMaxBytes: options.batchRecordMaxBytes, fsync, preallocate: fsync && (options.preallocate ?? true), repair, logger, syncStats }, valid?.meta);
  } catch (error) {
    // The log needs an older state than the newest valid snapshot: report the bad snapshot that
    // would have covered it, which is the real cause.
    const newestCorrupt = corruptNewer[0];
    if (error instanceof StorageCorruptionError && newestCorrupt !== undefined) {
      throw new StorageCorruptionError(newestCorrupt.file, newestCorrupt.offsetBytes, `${newestCorrupt.reason}; and no older snapshot lets the log be replayed (${error.message})`);
    }
    throw error;
  }
  try {
    return await reconcile({ fs, dir, snapDir, walDir, fsync, repair, retained, logger, syncStats, ...opened, valid, corrupt: [...corruptNewer, ...corruptOlder], older });
  } catch (error) {
    await opened.wal.close().catch(() => undefined);
    throw error;
  }
}

interface Recovered {
  readonly fs: StorageFs;
  readonly dir: string;
  readonly snapDir: string;
  readonly walDir: string;
  readonly fsync: boolean;
  readonly repair: boolean;
  readonly retained: number;
  readonly logger: StorageLogger;
  readonly syncStats: SyncStats;
  readonly wal: Wal;
  readonly recovery: WalRecovery;
  readonly valid: SnapshotFileInfo | undefined;
  readonly corrupt: readonly CorruptSnapshot[];
  readonly older: readonly SnapshotFileInfo[];
}

/** Makes the recovered log, snapshot and hard state agree, and builds the storage. */
async function reconcile(found: Recovered): Promise<{ storage: DiskStorage; recovered: RecoveredState }> {
  const { fs, dir, snapDir, walDir, fsync, repair, retained, logger, syncStats, wal, recovery, valid, corrupt, older } = found;
  const snapshot = valid?.meta;
  for (const bad of corrupt) {
    // The log reaches back to the snapshot we use, so nothing is lost; set the bad file aside,
    // under a name no later open will load, for someone to look at.
    logger.error({ file: bad.file, offset: bad.offsetBytes, reason: bad.reason, using: valid?.path }, repair ? 'repair: deleting a corrupt snapshot' : 'a snapshot is corrupt; setting it aside as .corrupt');
    if (repair) await fs.unlink(bad.file);
    else await fs.rename(bad.file, `${bad.file}.corrupt`);
  }
  if (corrupt.length > 0 && fsync) await syncStats.syncDir(fs, snapDir);

  const store = new SnapshotStore({ fs, dir: snapDir, fsync, retained, logger, syncStats });
  store.adopt(valid === undefined ? older : [valid, ...older]);
  const storage = new DiskStorage(fs, wal, store, syncStats, logger);

  // The log must continue from the snapshot. If it ends before it, or disagrees with it about the
  // term at its index (a snapshot install interrupted before the log was reset), the entries are
  // superseded by the snapshot: restart the log after it.
  const snapshotIndex = snapshot?.index ?? 0;
  if (snapshot !== undefined) {
    const termThere = recovery.termAt(snapshot.index);
    const ends = wal.lastIndex < snapshot.index;
    if (ends || (termThere !== undefined && termThere !== snapshot.term)) {
      logger.warn(
        { snapshot: { index: snapshot.index, term: snapshot.term }, logLastIndex: wal.lastIndex, logTermAtSnapshot: termThere },
        ends ? 'the log ends before the snapshot: restarting it after the snapshot' : 'the log disagrees with the snapshot (an interrupted install): discarding it and restarting after the snapshot',
      );
      await wal.append({ reset: { index: snapshot.index, term: snapshot.term }, entries: [] });
      await wal.compact(snapshot.index).catch((error: unknown) => logger.warn({ err: error }, 'could not remove the superseded segments yet'));
    }
  }

  let hardState = recovery.hardState;
  if (snapshot !== undefined && snapshot.term > hardState.term) {
    // Only an install interrupted between the snapshot file and the log's reset leaves a snapshot
    // from a later term than the hard state. The node had taken the leader's term when it
    // accepted the snapshot (Raft Figure 2: a higher term in any RPC is adopted); it cannot have
    // voted in that term yet, or the vote would be durable with the term.
    hardState = { term: snapshot.term, vote: 0, commit: Math.max(hardState.commit, snapshot.index) };
    logger.warn({ from: recovery.hardState, to: hardState }, "raising the term to the snapshot's: its install was interrupted");
    await wal.append({ entries: [], hardState });
  }
  const reach = Math.max(wal.lastIndex, snapshotIndex);
  if (hardState.commit > reach) {
    const at = recovery.hardStateAt;
    if (!repair) throw new StorageCorruptionError(at?.file ?? walDir, at?.offset ?? 0, `hard state commit ${hardState.commit} is beyond the last index ${reach}`);
    logger.warn({ commit: hardState.commit, lastIndex: reach }, 'repair: lowering the commit index to the last index');
    hardState = { ...hardState, commit: reach };
    await wal.append({ entries: [], hardState });
  }
  // Everything a snapshot holds is committed, whether or not a hard state said so yet.
  if (hardState.commit < snapshotIndex) hardState = { ...hardState, commit: snapshotIndex };

  const entries = wal.lastIndex <= snapshotIndex ? [] : recovery.entries.filter((entry) => entry.index > snapshotIndex);
  if (entries.length > 0 && (entries[0]!.index !== snapshotIndex + 1 || entries.at(-1)!.index !== wal.lastIndex)) {
    throw new Error(`recovered entries ${entries[0]!.index}..${entries.at(-1)!.index} do not run from ${snapshotIndex + 1} to ${wal.lastIndex}`);
  }
  logger.info(
    { dir, snapshotIndex, firstIndex: entries[0]?.index ?? snapshotIndex + 1, lastIndex: wal.lastIndex, hardState, segments: wal.segmentCount },
    'storage recovered',
  );
  return { storage, recovered: { hardState, snapshot: valid, entries } };
}

interface CorruptSnapshot {
  readonly file: string;
  readonly offsetBytes: number;
  readonly reason: string;
}

/**
 * Lists snapshots, deletes temp files, and checks them newest first until one is whole; of the
 * older ones only the headers are read. Returns the bad ones newer and older than that one.
 */
async function loadSnapshots(
  fs: StorageFs,
  dir: string,
  logger: StorageLogger,
): Promise<{ valid: SnapshotFileInfo | undefined; corruptNewer: CorruptSnapshot[]; corruptOlder: CorruptSnapshot[]; older: SnapshotFileInfo[] }> {
  const candidates: { index: number; term: number; path: string }[] = [];
  for (const name of await fs.readdir(dir)) {
    const path = join(dir, name);
    if (isSnapshotTempName(name)) {
      logger.info({ file: path }, 'removing an unfinished snapshot');
      await fs.unlink(path);
      continue;
    }
    const parsed = parseSnapshotName(name);
    if (parsed === undefined) {
      if (!name.endsWith('.corrupt')) logger.warn({ file: path }, 'ignoring a file that is not a snapshot');
      continue;
    }
    candidates.push({ ...parsed, path });
  }
  candidates.sort((a, b) => b.index - a.index || b.term - a.term);
  const corruptNewer: CorruptSnapshot[] = [];
  for (let k = 0; k < candidates.length; k++) {
    const candidate = candidates[k]!;
    try {
      const info = await verifySnapshotFile(fs, candidate.path);
      if (info.meta.index !== candidate.index || info.meta.term !== candidate.term) {
        throw new StorageCorruptionError(candidate.path, 16, `the header says index ${info.meta.index} term ${info.meta.term}, the name says index ${candidate.index} term ${candidate.term}`);
      }
      // Older snapshots are only fallbacks; their headers are read, their images checked when used.
      const older: SnapshotFileInfo[] = [];
      const corruptOlder: CorruptSnapshot[] = [];
      for (const rest of candidates.slice(k + 1)) {
        try {
          const reader = await SnapshotReader.open(fs, rest.path, DEFAULT_SNAPSHOT_CHUNK_BYTES);
          await reader.close();
          older.push(reader.info);
        } catch (error) {
          if (!(error instanceof StorageCorruptionError)) throw error;
          corruptOlder.push({ file: error.file, offsetBytes: error.offsetBytes, reason: error.reason });
        }
      }
      return { valid: info, corruptNewer, corruptOlder, older };
    } catch (error) {
      if (!(error instanceof StorageCorruptionError)) throw error;
      corruptNewer.push({ file: error.file, offsetBytes: error.offsetBytes, reason: error.reason });
    }
  }
  return { valid: undefined, corruptNewer, corruptOlder: [], older: [] };
}

type Operation<T> = () => Promise<T>;

export class DiskStorage {
  /** WAL operations run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly fs: StorageFs,
    private readonly wal: Wal,
    private readonly snapshots: SnapshotStore,
    private readonly syncStats: SyncStats,
    private readonly logger: StorageLogger,
  ) {}

  get lastIndex(): number {
    return this.wal.lastIndex;
  }

  get hardState(): HardState {
    return this.wal.hardState;
  }

  /** The newest durable snapshot. */
  get snapshot(): SnapshotFileInfo | undefined {
    return this.snapshots.newest;
  }

  /** The write error that stopped writes, until retry() succeeds. */
  get failure(): StorageWriteError | undefined {
    return this.wal.failure;
  }

  /**
   * Persists one Ready: snapshot (if any), then entries and hard state with one write and one
   * fsync. Resolves once durable; rejects with StorageWriteError if the disk refused, after
   * which every save is refused until retry() succeeds (then save the same batch again).
   */
  save(batch: SaveBatch): Promise<void> {
    return this.enqueue(async () => {
      const snapshot = batch.snapshot;
      if (snapshot === undefined) {
        const snapshotIndex = this.snapshots.newest?.meta.index ?? 0;
        const first = batch.entries[0];
        if (first !== undefined && first.index <= snapshotIndex) {
          throw new Error(`save: entry ${first.index} is at or below the snapshot at ${snapshotIndex}`);
        }
        await this.wal.append({ entries: batch.entries, hardState: batch.hardState });
        return;
      }
      const { index, term } = snapshot.meta;
      const newest = this.snapshots.newest;
      if (newest !== undefined && index < newest.meta.index) throw new Error(`save: snapshot ${index} is older than the snapshot at ${newest.meta.index}`);
      if (this.snapshots.find(index, term) === undefined) {
        if (snapshot.data.length === 0) throw new Error(`save: no snapshot file for index ${index} term ${term}, and no image in the Ready`);
        const writer = await this.snapshots.create(snapshot.meta);
        try {
          await writer.write(snapshot.data);
          await writer.finish();
        } catch (error) {
          await writer.abort();
          throw error;
        }
      }
      await this.wal.append({ reset: { index, term }, entries: batch.entries, hardState: batch.hardState });
      // The snapshot replaced the log: the old segments can go now (the follower installed the
      // snapshot atomically before discarding its log). A failure only delays that.
      await this.wal.compact(index).catch((error: unknown) => this.logger.warn({ err: error }, 'compaction after a snapshot install failed'));
    });
  }

  /**
   * Starts writing a snapshot of the state machine as applied up to `meta.index`. `metadata` is
   * stored with it and returned by openSnapshot/recovery (the driver's own bookkeeping).
   * Snapshot writes run alongside saves; finish() makes the file durable and applies retention.
   */
  createSnapshot(meta: SnapshotMeta, metadata?: Uint8Array): Promise<SnapshotWriter> {
    return this.snapshots.create(meta, metadata);
  }

  /** Opens the newest snapshot (or the one at `at`) for reading in chunks of at most chunkBytes. */
  async openSnapshot(at?: { readonly index: number; readonly term: number }, chunkBytes = DEFAULT_SNAPSHOT_CHUNK_BYTES): Promise<SnapshotReader> {
    const info = at === undefined ? this.snapshots.newest : this.snapshots.find(at.index, at.term);
    if (info === undefined) throw new Error(at === undefined ? 'no snapshot' : `no snapshot at index ${at.index} term ${at.term}`);
    return SnapshotReader.open(this.fs, info.path, chunkBytes);
  }

  /**
   * Removes whole WAL segments whose entries all lie at or below `index`, which a durable
   * snapshot must cover. Compacting only to the oldest retained snapshot keeps the older
   * snapshots usable as fallbacks; compacting to the newest frees the most space.
   */
  async compact(index: number): Promise<number> {
    // Only the bookkeeping waits its turn among the WAL's operations; the files are deleted
    // after it, while appends go on (a 1 GB log's segments took 0.5 s to delete on a live
    // leader, and every write waited behind them: bench/snapshot-live.ts).
    const paths = await this.enqueue(async () => {
      const newest = this.snapshots.newest?.meta.index ?? 0;
      if (index > newest) throw new Error(`compact: index ${index} is above the newest snapshot at ${newest}`);
      return this.wal.detachThrough(index);
    });
    await this.wal.removeSegments(paths);
    return paths.length;
  }

  /** After a write error: puts the log's tail back the way it was when last durable. */
  retry(): Promise<void> {
    return this.enqueue(() => this.wal.retry());
  }

  stats(): StorageStats {
    const newest = this.snapshots.newest;
    return {
      fsyncCount: this.syncStats.count,
      fsyncAverageMicros: this.syncStats.averageMicros,
      fsyncBuckets: [...this.syncStats.buckets],
      fsyncTotalSeconds: this.syncStats.totalMicros / 1e6,
      logSizeBytes: this.wal.sizeBytes,
      segmentCount: this.wal.segmentCount,
      firstIndex: this.wal.firstIndex,
      lastIndex: this.wal.lastIndex,
      snapshotLastIndex: newest?.meta.index ?? 0,
      snapshotSizeBytes: newest?.fileBytes ?? 0,
      writeFailure: this.wal.failure?.code,
      writeFailures: this.wal.failureCount,
    };
  }

  /** Resolves once the deletions of old snapshots under way (they run in the background) are over. */
  snapshotDeletionsSettled(): Promise<void> {
    return this.snapshots.deletionsSettled();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.snapshots.deletionsSettled();
    await this.wal.close();
  }

  private enqueue<T>(operation: Operation<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    const result = this.queue.then(operation);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
