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
}
