// The typed errors storage raises. They are operating errors, not assertions: the driver turns
// them into a refusal to start (corruption) or a stop-accepting-writes state reported in INFO
// (write errors). A failed assertion inside src/storage is a plain Error and means a bug.

/**
 * Data on disk is not what was written: a bad checksum before the end of the log, a missing
 * segment, a gap in indexes, a snapshot whose checksum does not match. `open` refuses to go on
 * (unless asked to repair) and names the file and the byte offset where it stopped trusting it.
 */
export class StorageCorruptionError extends Error {
  readonly code = 'ECORRUPT';
  override readonly name = 'StorageCorruptionError';

  constructor(
    readonly file: string,
    readonly offsetBytes: number,
    readonly reason: string,
  ) {
    super(`storage corruption in ${file} at byte ${offsetBytes}: ${reason}`);
  }
}

/**
 * A write, fsync, rename, unlink or truncate failed (ENOSPC, EIO, EDQUOT...). `code` is the
 * operating system's code, or 'EFAILED' for a write refused because an earlier one failed and
 * `retry()` has not yet succeeded. `cause` holds the original error.
 */
export class StorageWriteError extends Error {
  override readonly name = 'StorageWriteError';

  constructor(
    readonly code: string,
    readonly operation: string,
    readonly file: string,
    cause?: unknown,
  ) {
    super(`storage ${operation} failed on ${file}: ${code}${cause instanceof Error ? ` (${cause.message})` : ''}`, { cause });
  }
}

/** Wraps whatever a filesystem call threw into a StorageWriteError that keeps its code. */
export function toWriteError(error: unknown, operation: string, file: string): StorageWriteError {
  if (error instanceof StorageWriteError) return error;
  const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : 'EUNKNOWN';
  return new StorageWriteError(code, operation, file, error);
}

/** An entry could not be decoded: too short, an unknown code, a length past the end. */
export class EntryDecodeError extends Error {
  override readonly name = 'EntryDecodeError';

  constructor(
    readonly offsetBytes: number,
    readonly reason: string,
  ) {
    super(`cannot decode entry at byte ${offsetBytes}: ${reason}`);
  }
}
