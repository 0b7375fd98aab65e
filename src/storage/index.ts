// Durable storage for a raftis node: the write-ahead log, hard state and snapshot files.
// docs/storage.md describes the file formats, the recovery rules and the fault behaviour.
export {
  DEFAULT_SEGMENT_SIZE_BYTES, DEFAULT_SNAPSHOTS_RETAINED, DiskStorage, openStorage, toRestoreState,
  type RecoveredState, type SaveBatch, type StorageOptions, type StorageStats,
} from './storage.js';
export { SnapshotReader, SnapshotWriter, verifySnapshotFile, type SnapshotFileInfo } from './snapshot.js';
export { EntryDecodeError, StorageCorruptionError, StorageWriteError } from './errors.js';
export { decodeEntry, decodeEntryAt, encodeEntry, encodeEntryInto, encodedEntrySize, ENTRY_MIN_BYTES } from './entry-codec.js';
export { NodeFs, type OpenMode, type StorageFile, type StorageFs } from './fs.js';
export { stderrLogger, type StorageLogger } from './logger.js';
export { SimDisk, type SimCrashReport, type SimFault, type SimOperation } from './sim-fs.js';
