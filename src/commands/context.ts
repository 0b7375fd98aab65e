// What a command handler sees: the keyspace, the client's current database and the clock of the
// entry being applied (or of the read being served). Handlers are pure functions of this context
// and their arguments, so every replica computes the same result from the same entry.

import type { Reply } from '../resp/reply.js';
import type { Keyspace } from '../state/keyspace.js';

export interface ExecContext {
  readonly ks: Keyspace;
  /** The client's database; SELECT inside a transaction changes it for the commands after it. */
  db: number;
  /** "Now": the entry's timeMs on apply, the caller's clock on a read. */
  readonly nowMs: number;
  /** The log index being applied; 0 on a read. */
  readonly index: number;
  /** False on reads: a handler that would write is a bug. */
  readonly mutable: boolean;
  /** proto-max-bulk-len as the state machine was configured (the same on every replica). */
  readonly maxStringBytes: number;
  /** A deterministic 32-bit random number (seeded by the log index on apply). */
  random(): number;
}

export type Handler = (ctx: ExecContext, argv: readonly Buffer[]) => Reply;
