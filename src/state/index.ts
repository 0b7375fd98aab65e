// raftis's deterministic key-value state machine: 16 databases of binary string values with
// absolute expiry times and a per-key modification index. Everything the server needs is exported
// here.
//
// Writing (leader, before proposing):
//   encodeWriteEntry({ timeMs, db, argv })                 one write command (route 'write')
//   encodeTransactionEntry({ timeMs, db, commands, watches }) MULTI/EXEC as one entry; `watches`
//                                                          come from machine.watch() at WATCH time
//   encodeExpiryEntry({ timeMs, deletes })                 the leader's expiry sweep, from
//                                                          machine.expiredKeys(nowMs, limit)
//   `timeMs` is the leader's clock (whole ms, never going backwards). Relative TTLs (SET EX, EXPIRE)
//   are made absolute from it when applied, so every replica stores the same absolute time.
//
// Applying (every replica, in log order):
//   machine.apply(index, data): Reply    the reply for the proposing client. A transaction entry
//                                        returns EXEC's array, or a null array if a watched key
//                                        changed; runtime errors appear per command, as in Redis.
//
// Reading (leader after ReadIndex, or a follower for stale reads):
//   machine.read(db, argv, nowMs): Reply  any command the table routes 'read' (GET, MGET, KEYS,
//                                        SCAN, TTL, ...); changes nothing; expired keys invisible.
//   machine.watch(db, key, nowMs): WatchedKey   what WATCH records (see machine.ts).
//   machine.modIndex(db, key): number
//
// Leader's expiry:   machine.expiredKeys(nowMs, limit): { db, key }[]
// Inspection:        machine.digest(): string (16 hex digits; RAFT.DIGEST), machine.info(nowMs),
//                    machine.appliedIndex, machine.lastTimeMs
// Snapshots:         const writer = machine.beginSnapshot(); writer.meta; writer.nextChunk(maxBytes)
//                    until null (apply may run between calls: copy-on-write keeps the image exact;
//                    a call serializes at most maxBytes and at most 16384 keys);
//                    const restorer = machine.beginRestore(); restorer.push(chunk)...;
//                    machine.finishRestore(restorer)   (or machine.restoreFromChunks(chunks)).
//                    A restore checks the key count and digest in the stream's trailer.
//
// Which commands the machine executes: isExecutable(name) from src/commands/handlers.ts (the data
// commands plus SELECT, PING, ECHO and TIME, which may appear inside a transaction).

export { StateMachine, DEFAULT_MAX_STRING_BYTES } from './machine.js';
export type { StateMachineOptions, StateInfo, KeyspaceInfo } from './machine.js';
export {
  encodeWriteEntry, encodeWrite, encodeTransactionEntry, encodeExpiryEntry, decodeEntry, EntryDecodeError,
} from './codec.js';
export type { StateEntry, WriteEntry, TransactionEntry, ExpiryEntry, WatchedKey } from './codec.js';
export { SnapshotWriter, SnapshotRestorer, SnapshotFormatError } from './snapshot.js';
export type { SnapshotMeta } from './snapshot.js';
export { DB_COUNT } from './keyspace.js';
export type { ExpiredKey } from './keyspace.js';
export { globMatch } from './glob.js';
export { isExecutable } from '../commands/handlers.js';
