// The interface between a client connection and whatever executes its commands. The connection
// (connection.ts) parses requests, resolves them against the command table, checks arity, AUTH
// and MULTI state, and answers the connection commands itself (PING, SELECT, HELLO, CLIENT,
// MULTI/EXEC bookkeeping, ...). Everything that touches the keyspace or the node goes through an
// Executor:
//   - the node driver implements it over Raft: writes and transactions are proposed to the log and
//     answered once applied, reads go through ReadIndex, server commands are answered locally;
//   - standalone.ts implements it over the state machine directly, for tests.
//
// Callbacks, not promises: the request path allocates one small object per command and no
// promise. A Completion is called exactly once, synchronously or later; if the client has gone
// away by then the reply is dropped.

import type { CommandSpec } from '../commands/types.js';
import type { ProtocolVersion } from '../resp/encoder.js';
import type { Reply } from '../resp/reply.js';

/** Receives the reply to one command. */
export interface Completion {
  /** Must be called exactly once. May be called before the executor method returns. */
  complete(reply: Reply): void;
  /**
   * Set by a door whose clients cannot follow a -MOVED (the HTTP API): a follower forwards the
   * command to the leader even under --follower-mode redirect.
   */
  readonly forward?: boolean;
}

/**
 * A key a client WATCHed, as the state machine saw it when WATCH ran (the same shape as
 * src/state's WatchedKey, so it goes into a transaction entry as is).
 */
export interface Watch {
  readonly db: number;
  /** A copy owned by the watch, not a view into a socket chunk. */
  readonly key: Buffer;
  /** The key's modification index: the log index of its last change (or deletion), else 0. */
  readonly modIndex: number;
  /** Whether the key existed and had not expired: Redis aborts EXEC if such a key expires. */
  readonly live: boolean;
}

/**
 * How fresh a read must be:
 * - `linearizable`: ReadIndex (or a lease, with --read-mode lease);
 * - `stale`: the connection sent READONLY, so a follower may answer from its own state.
 */
export type ReadConsistency = 'linearizable' | 'stale';

/** What the node may want to know about the client sending a server command. */
export interface ClientView {
  readonly id: number;
  readonly db: number;
  readonly protocol: ProtocolVersion;
  /** Latin1 (byte) string, or null when the client has no name. */
  readonly name: string | null;
  /** "ip:port" of the client, as CLIENT LIST shows it. */
  readonly address: string;
}

/**
 * Executes commands for connections.
 *
 * Ordering contract: calls made by one connection take effect in the order they are made, as
 * if run one by one (a client pipelines commands and expects Redis's in-order execution):
 *   - a read (or a server command) called after a write on the same connection must observe that
 *     write, although the write's reply has not arrived yet. Over Raft, ReadIndex alone does not
 *     give this (the write may not be committed when the read takes the commit index): the read
 *     needs the state at index m = max(commitIndex, lastProposedIndex) as of the call;
 *   - a read must NOT observe a write called after it on the same connection. By default the
 *     connection ensures this by holding back a write until its earlier reads are answered,
 *     which costs a ReadIndex round per read-then-write in a pipeline. An executor that ensures
 *     it itself sets `isolatesReadsFromLaterWrites`, and the connection pipelines freely: e.g.
 *     evaluate the read on the state at exactly index m (before applying m + 1) and hold its
 *     reply until leadership is confirmed, rather than evaluating it when the confirmation
 *     arrives (by then later writes may have been applied).
 *
 * `argv[0]` is the command name in the client's case; arity has already been checked. `argv`
 * Buffers may be views into socket chunks: copy what you keep beyond the call (encoding them
 * into a log entry is a copy).
 */
export interface Executor {
  /**
   * Whether a read never observes a write its connection called after it (see the ordering
   * contract). When not true, the connection holds back writes behind its earlier reads.
   */
  readonly isolatesReadsFromLaterWrites?: boolean;
  /** A command whose table route is `write`: through the log; reply once applied. */
  write(db: number, argv: readonly Buffer[], completion: Completion): void;
  /**
   * MULTI/EXEC as one log entry. `commands` run in order starting in `db`; a SELECT among them
   * switches the database for the commands after it, as in Redis. Only the commands the state
   * machine executes are sent (src/commands/handlers.ts isExecutable: the data commands plus
   * SELECT, PING, ECHO and TIME); the connection answers the other queued ones (CLIENT, HELLO,
   * INFO, ...) itself once this reply arrives.
   *
   * The reply is an array with one reply per command; or a null array when a watched key's
   * modification index at apply time differs from the one recorded in `watches`; or an error
   * when the transaction could not be executed at all (not the leader, shutting down, ...).
   * `commands` may be empty when only `watches` matter.
   */
  transaction(db: number, commands: readonly (readonly Buffer[])[], watches: readonly Watch[], completion: Completion): void;
  /** A command whose route is `read`. */
  read(db: number, argv: readonly Buffer[], consistency: ReadConsistency, completion: Completion): void;
  /** A command whose route is `server` (INFO, CONFIG, COMMAND, TIME, CLUSTER, SHUTDOWN, ...). */
  server(client: ClientView, spec: CommandSpec, argv: readonly Buffer[], completion: Completion): void;
  /**
   * What WATCH records for `key` in `db`, as this node has applied it (the state machine's
   * `watch(db, key, nowMs)`). The connection only calls this once its own earlier commands are
   * answered, and a stale answer can only make EXEC fail, never succeed wrongly, since
   * modification indexes only grow. `key` may be a view into a socket chunk: copy it.
   */
  watch(db: number, key: Buffer): Watch;
}
