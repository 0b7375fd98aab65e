// The shape of one entry of the command table (src/commands/table.ts). As in Redis, every
// command is described once; dispatch, arity errors, COMMAND INFO/DOCS and routing (through the
// Raft log or through ReadIndex) are all driven from this description.

/**
 * How the server routes a command:
 * - `write`: proposed to the Raft log, applied on every replica, replied to once applied;
 * - `read`: served by the leader after a ReadIndex round (linearizable);
 * - `connection`: handled by the client connection itself (PING, SELECT, HELLO, MULTI, ...);
 * - `server`: answered locally by the node (INFO, TIME, CONFIG, CLUSTER, COMMAND, ...).
 */
export type CommandRoute = 'write' | 'read' | 'connection' | 'server';

export interface CommandSpec {
  /** Lower case, as in `COMMAND INFO`. Subcommands are named "parent|sub". */
  readonly name: string;
  /** Redis convention: N means exactly N arguments including the name; -N means at least N. */
  readonly arity: number;
  /** Redis command flags as COMMAND INFO shows them: "write", "readonly", "fast", ... */
  readonly flags: readonly string[];
  readonly firstKey: number;
  readonly lastKey: number;
  readonly keyStep: number;
  /** Redis ACL categories as COMMAND INFO shows them: "@string", "@fast", ... */
  readonly aclCategories: readonly string[];
  readonly group: string;
  readonly summary: string;
  readonly since: string;
  readonly complexity?: string;
  readonly route: CommandRoute;
  readonly subcommands?: readonly CommandSpec[];
  /** Redis command tips as COMMAND INFO shows them: "nondeterministic_output", ... */
  readonly tips?: readonly string[];
  /** Redis 7 key specifications, in COMMAND INFO order. */
  readonly keySpecs?: readonly KeySpec[];
  /** COMMAND DOCS: "deprecated", "syscmd". */
  readonly docFlags?: readonly string[];
  readonly deprecatedSince?: string;
  readonly replacedBy?: string;
  /** COMMAND DOCS: [version, what changed] in release order. */
  readonly history?: readonly (readonly [string, string])[];
  /** COMMAND DOCS argument descriptions. */
  readonly arguments?: readonly CommandArgument[];
}

/** A Redis 7 key specification (field names as Redis spells them in COMMAND INFO). */
export interface KeySpec {
  readonly notes?: string;
  readonly flags: readonly string[];
  readonly beginSearch:
    | { readonly type: 'index'; readonly index: number }
    | { readonly type: 'keyword'; readonly keyword: string; readonly startfrom: number }
    | { readonly type: 'unknown' };
  readonly findKeys:
    | { readonly type: 'range'; readonly lastkey: number; readonly keystep: number; readonly limit: number }
    | { readonly type: 'keynum'; readonly keynumidx: number; readonly firstkey: number; readonly keystep: number }
    | { readonly type: 'unknown' };
}

/** One argument as COMMAND DOCS describes it. */
export interface CommandArgument {
  readonly name: string;
  /** "key", "string", "integer", "double", "pattern", "unix-time", "pure-token", "oneof", "block". */
  readonly type: string;
  readonly displayText?: string;
  readonly keySpecIndex?: number;
  readonly token?: string;
  readonly summary?: string;
  readonly since?: string;
  /** "optional", "multiple", "multiple_token". */
  readonly flags?: readonly string[];
  readonly deprecatedSince?: string;
  readonly value?: string;
  readonly arguments?: readonly CommandArgument[];
}
