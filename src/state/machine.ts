// The deterministic state machine: what `apply` does with a committed entry, and how reads are
// served. Given the same entries at the same indexes, every replica reaches the same keyspace and
// the same digest: "now" comes from the entry (the leader's clock), randomness from the log index,
// and nothing here reads a clock, a file or Math.random.

import type { Reply } from '../resp/reply.js';
import type { ExecContext, Handler } from '../commands/context.js';
import { HANDLERS } from '../commands/handlers.js';
import { resolveCommand } from '../commands/table.js';
import { NULL_BULK, OK, bulk, keyOf } from '../commands/parse.js';
import { decodeEntry, EntryDecodeError, plainSetInto, type PlainSet, type StateEntry, type WatchedKey } from './codec.js';
import { DB_COUNT, Keyspace, isLive, latin1, type ExpiredKey } from './keyspace.js';
import { SnapshotRestorer, SnapshotWriter } from './snapshot.js';

/** Scratch for plainSetInto: apply() runs one entry at a time. */
const plainSet: PlainSet = { timeMs: 0, db: 0, keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0 };

export interface StateMachineOptions {
  /**
   * proto-max-bulk-len for values the state machine builds (APPEND, SETRANGE, ...). It must be
   * the same on every replica, so it is fixed when the machine is created, not read from CONFIG.
   */
  readonly maxStringBytes?: number;
}

export const DEFAULT_MAX_STRING_BYTES = 512 * 1024 * 1024;

export interface KeyspaceInfo {
  readonly db: number;
  /** Stored keys, as Redis counts them (expired keys not yet deleted included). */
  readonly keys: number;
  readonly expires: number;
  /** Average remaining TTL of the keys with one, in ms (0 when none). */
  readonly avgTtlMs: number;
}

export interface StateInfo {
  readonly appliedIndex: number;
  readonly lastTimeMs: number;
  /** Databases that hold at least one key, in index order (INFO keyspace). */
  readonly keyspace: readonly KeyspaceInfo[];
  readonly keys: number;
  readonly expires: number;
  /** An estimate of the memory the keyspace uses (keys, values and per-key overhead). */
  readonly memoryBytes: number;
  /** The value arenas (keyspace.ts, Stored): bytes of the records in use, and of their slabs. */
  readonly arenaBytesInUse: number;
  readonly arenaBytesAllocated: number;
  /** The key tables (key-table.ts): bytes of key records and slot blocks in use, and of their slabs and pools. */
  readonly keyTableBytesInUse: number;
  readonly keyTableBytesAllocated: number;
  readonly snapshotInProgress: boolean;
}

/** Mulberry32: a tiny deterministic PRNG for RANDOMKEY. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * What a handler sees of the entry it runs in. The random generator (seeded by the log index, so
 * every replica draws the same numbers) is made only when a command asks for one: RANDOMKEY does,
 * a SET does not.
 */
class Context implements ExecContext {
  readonly mutable: boolean;

  constructor(
    readonly ks: Keyspace,
    public db: number,
    readonly nowMs: number,
    readonly index: number,
    readonly maxStringBytes: number,
    private generator: (() => number) | undefined,
  ) {
    this.mutable = index > 0;
  }

  random(): number {
    this.generator ??= mulberry32(this.index);
    return this.generator();
  }
}

const ERR_NOT_EXECUTABLE = (name: string): Reply => ({
  kind: 'error', value: `ERR '${name}' cannot be executed by the raftis state machine`,
});

/** Whether a command name is GET, in any case. */
function isGet(name: Buffer): boolean {
  return name.length === 3 && (name[0]! | 0x20) === 0x67 && (name[1]! | 0x20) === 0x65 && (name[2]! | 0x20) === 0x74;
}

export class StateMachine {
  private keyspace = new Keyspace();
  private applied = 0;
  private lastTime = 0;
  private readonly maxStringBytes: number;
  private readRandom = mulberry32(0x2545f491);

  constructor(options: StateMachineOptions = {}) {
    this.maxStringBytes = options.maxStringBytes ?? DEFAULT_MAX_STRING_BYTES;
  }

  /** The index of the last entry applied (or restored from a snapshot). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** The largest entry clock applied so far: "now" never goes below it. */
  get lastTimeMs(): number {
    return this.lastTime;
  }

  /**
   * Applies the committed entry at log `index` and returns the reply for the client that proposed
   * it. Indexes must increase (gaps are fine: no-op and membership entries never reach here).
   * Bytes that do not decode get an error reply and change nothing, on every replica alike.
   */
  apply(index: number, data: Uint8Array): Reply {
    if (!(index > this.applied)) throw new Error(`assertion: apply index ${index} <= applied ${this.applied}`);
    this.applied = index;
    if (Buffer.isBuffer(data) && plainSetInto(data, plainSet) && plainSet.db < DB_COUNT) return this.applyPlainSet(index, data, plainSet);
    let entry: StateEntry;
    try {
      entry = decodeEntry(data);
    } catch (error) {
      if (error instanceof EntryDecodeError) return { kind: 'error', value: `ERR undecodable log entry: ${error.message}` };
      throw error;
    }
    const nowMs = this.beginApply(index, entry.timeMs);
    const ks = this.keyspace;
    try {
      switch (entry.kind) {
        case 'write':
          return this.execute(this.context(entry.db, nowMs, index), entry.argv);
        case 'transaction':
          return this.applyTransaction(entry.db, entry.commands, entry.watches, nowMs, index);
        case 'expiry': {
          let deleted = 0;
          for (const item of entry.deletes) {
            if (item.db < DB_COUNT && ks.removeExpired(item.db, keyOf(item.key))) deleted++;
          }
          return { kind: 'integer', value: deleted };
        }
        default: {
          const never: never = entry;
          throw new Error(`unknown entry ${JSON.stringify(never)}`);
        }
      }
    } finally {
      ks.mutable = false;
    }
  }

  /** Opens the keyspace to the entry at `index`, whose clock is `timeMs`; returns its "now". */
  private beginApply(index: number, timeMs: number): number {
    // The leader's clock never goes backwards; guard anyway, identically on every replica.
    const nowMs = Math.max(timeMs, this.lastTime);
    this.lastTime = nowMs;
    const ks = this.keyspace;
    ks.nowMs = nowMs;
    ks.index = index;
    ks.mutable = true;
    return nowMs;
  }

  /**
   * A plain `SET key value`, the most common write, applied from the entry's bytes: what the SET
   * handler does for it (put, no expiry, OK), without decoding the entry into Buffers, resolving
   * the command or making a context.
   */
  private applyPlainSet(index: number, data: Buffer, set: PlainSet): Reply {
    this.beginApply(index, set.timeMs);
    const ks = this.keyspace;
    try {
      const valueLength = set.valueEnd - set.valueStart;
      if (!ks.rewriteBytes(set.db, data, set.keyStart, set.keyEnd - set.keyStart, set.valueStart, valueLength)) {
        ks.putBytes(set.db, latin1(data, set.keyStart, set.keyEnd), data, set.valueStart, valueLength);
      }
    } finally {
      ks.mutable = false;
    }
    return OK;
  }

  private applyTransaction(
    db: number, commands: readonly (readonly Buffer[])[], watches: readonly WatchedKey[], nowMs: number, index: number,
  ): Reply {
    // WATCH is decided here, at apply time, so every replica reaches the same outcome.
    for (const watch of watches) {
      if (watch.db >= DB_COUNT) return { kind: 'nullArray' };
      const target = this.keyspace.db(watch.db);
      const key = keyOf(watch.key);
      if (target.version(key) !== watch.modIndex) return { kind: 'nullArray' };
      if (watch.live) {
        // Redis aborts EXEC when a key that existed at WATCH has expired since.
        const entry = target.get(key);
        if (entry === undefined || !isLive(entry, nowMs)) return { kind: 'nullArray' };
      }
    }
    const ctx = this.context(db, nowMs, index);
    return { kind: 'array', value: commands.map((argv) => this.execute(ctx, argv)) };
  }

  private context(db: number, nowMs: number, index: number): ExecContext {
    return new Context(this.keyspace, db, nowMs, index, this.maxStringBytes, index > 0 ? undefined : this.readRandom);
  }

  private execute(ctx: ExecContext, argv: readonly Buffer[]): Reply {
    if (argv.length === 0) return { kind: 'error', value: 'ERR empty command' };
    if (ctx.db < 0 || ctx.db >= DB_COUNT) return { kind: 'error', value: 'ERR DB index is out of range' };
    const resolved = resolveCommand(argv);
    if (!resolved.ok) return resolved.error;
    const handler: Handler | undefined = HANDLERS.get(resolved.spec.name);
    if (handler === undefined) return ERR_NOT_EXECUTABLE(resolved.spec.name);
    if (!ctx.mutable && resolved.spec.route === 'write') {
      throw new Error(`assertion: write command ${resolved.spec.name} sent to read()`);
    }
    return handler(ctx, argv);
  }

  /**
   * Serves a read-only command (route `read`) at `nowMs` without changing anything. Keys whose time
   * has passed are invisible. `nowMs` is raised to the last applied entry's clock if behind it.
   */
  read(db: number, argv: readonly Buffer[], nowMs: number): Reply {
    const ks = this.keyspace;
    const now = Math.max(nowMs, this.lastTime);
    ks.nowMs = now;
    ks.index = 0;
    ks.mutable = false;
    if (argv.length === 2 && db >= 0 && db < DB_COUNT && isGet(argv[0]!)) {
      // A plain GET, the most common read: what the GET handler does, without resolving the
      // command or making a context.
      const key = argv[1]!;
      const value = ks.liveValueBytesOf(db, key, 0, key.length);
      return value === undefined ? NULL_BULK : bulk(value);
    }
    return this.execute(this.context(db, now, 0), argv);
  }

  /**
   * What WATCH records for a key: its version (the index of its last change, or of its deletion,
   * never below the last FLUSHDB/FLUSHALL/SWAPDB of its database) and whether it is live at
   * `nowMs`. A stale answer (from a lagging replica) can only cause an extra abort, never a
   * missed one, since versions only grow.
   */
  watch(db: number, key: Buffer, nowMs: number): WatchedKey {
    if (db < 0 || db >= DB_COUNT) throw new Error(`assertion: watch db ${db} out of range`);
    const target = this.keyspace.db(db);
    const name = keyOf(key);
    const entry = target.get(name);
    const now = Math.max(nowMs, this.lastTime);
    return { db, key, modIndex: target.version(name), live: entry !== undefined && isLive(entry, now) };
  }

  /** The version alone (see watch). */
  modIndex(db: number, key: Buffer): number {
    return this.keyspace.db(db).version(keyOf(key));
  }

  /** Up to `limit` stored keys whose time has passed at `nowMs`: the leader's expiry sweep. */
  expiredKeys(nowMs: number, limit: number): ExpiredKey[] {
    return this.keyspace.expiredKeys(nowMs, limit);
  }

  /** A checksum of the whole keyspace (keys, values, expiry, modIndex); independent of history order. */
  digest(): string {
    return this.keyspace.digest();
  }

  info(nowMs: number): StateInfo {
    const now = Math.max(nowMs, this.lastTime);
    const keyspace: KeyspaceInfo[] = [];
    let keys = 0;
    let expires = 0;
    let memoryBytes = 0;
    let arenaBytesInUse = 0;
    let arenaBytesAllocated = 0;
    let keyTableBytesInUse = 0;
    let keyTableBytesAllocated = 0;
    for (const db of this.keyspace.dbs) {
      keys += db.size;
      expires += db.expiresCount;
      memoryBytes += db.memoryBytes;
      arenaBytesInUse += db.arena.bytesInUse;
      arenaBytesAllocated += db.arena.bytesAllocated;
      keyTableBytesInUse += db.table?.bytesInUse ?? 0;
      keyTableBytesAllocated += db.table?.bytesAllocated ?? 0;
      if (db.size === 0) continue;
      const avg = db.expiresCount === 0 ? 0 : Math.max(0, Math.round(db.expiresAtSumMs / db.expiresCount - now));
      keyspace.push({ db: db.index, keys: db.size, expires: db.expiresCount, avgTtlMs: avg });
    }
    return {
      appliedIndex: this.applied,
      lastTimeMs: this.lastTime,
      keyspace,
      keys,
      expires,
      memoryBytes,
      arenaBytesInUse,
      arenaBytesAllocated,
      keyTableBytesInUse,
      keyTableBytesAllocated,
      snapshotInProgress: this.keyspace.cow !== null,
    };
  }

  /**
   * Starts a point-in-time snapshot at the applied index. Read it with nextChunk(maxBytes) until
   * null, while apply() keeps running. Starting another cancels this one.
   */
  beginSnapshot(): SnapshotWriter {
    return new SnapshotWriter(this.keyspace, this.applied, this.lastTime);
  }

  /** Starts a streaming restore; call `finishRestore` with it once every chunk is pushed. */
  beginRestore(): SnapshotRestorer {
    return new SnapshotRestorer();
  }

  /** Replaces the whole state with a fully pushed restore (checks its digest first). */
  finishRestore(restorer: SnapshotRestorer): void {
    const { keyspace, appliedIndex, lastTimeMs } = restorer.finish();
    this.keyspace.cow = null;
    this.keyspace = keyspace;
    this.applied = appliedIndex;
    this.lastTime = lastTimeMs;
  }

  /** Restores from a complete sequence of chunks. */
  restoreFromChunks(chunks: Iterable<Uint8Array>): void {
    const restorer = this.beginRestore();
    for (const chunk of chunks) restorer.push(chunk);
    this.finishRestore(restorer);
  }
}
