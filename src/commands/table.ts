// The command table: every command raftis knows, described once. Dispatch, arity errors, routing
// (through the Raft log, through ReadIndex, on the connection or on the node) and the replies of
// COMMAND, COMMAND INFO, COMMAND DOCS and COMMAND LIST are all driven from here.
//
// The Redis commands come from table-redis.ts, generated from a real Redis 7 server's own
// COMMAND INFO and COMMAND DOCS, so their arity, flags, key positions and docs are Redis's. The
// commands of our own (membership and Raft administration) are described below in the same shape.

import type { Reply } from '../resp/reply.js';
import { latin1 } from '../state/keyspace.js';
import { REDIS_COMMANDS } from './table-redis.js';
import type { CommandSpec } from './types.js';

/** raftis's own version, reported as `since` for the commands that only raftis has. */
const RAFTIS_SINCE = '0.1.0';

const ADMIN_FLAGS = ['admin', 'stale'] as const;
const ADMIN_ACL = ['@admin', '@slow', '@dangerous'] as const;

/** CLUSTER subcommands of our own: membership changes and leadership transfer (issue 4). */
const RAFTIS_CLUSTER_SUBCOMMANDS: readonly CommandSpec[] = [
  {
    name: 'cluster|addnode', arity: -5, flags: ADMIN_FLAGS, firstKey: 0, lastKey: 0, keyStep: 0,
    aclCategories: ADMIN_ACL, group: 'cluster', since: RAFTIS_SINCE, route: 'server',
    summary: 'Add a node to the Raft group: it joins as a learner and is promoted once caught up',
    complexity: 'O(1), plus the time to replicate the log or a snapshot to the new node',
    arguments: [
      { name: 'node-id', type: 'integer' },
      { name: 'host', type: 'string' },
      { name: 'client-port', type: 'integer' },
      { name: 'peer-port', type: 'integer', flags: ['optional'] },
    ],
  },
  {
    name: 'cluster|removenode', arity: 3, flags: ADMIN_FLAGS, firstKey: 0, lastKey: 0, keyStep: 0,
    aclCategories: ADMIN_ACL, group: 'cluster', since: RAFTIS_SINCE, route: 'server',
    summary: 'Remove a node from the Raft group', complexity: 'O(1)',
    arguments: [{ name: 'node-id', type: 'integer' }],
  },
  {
    name: 'cluster|failover', arity: -2, flags: ADMIN_FLAGS, firstKey: 0, lastKey: 0, keyStep: 0,
    aclCategories: ADMIN_ACL, group: 'cluster', since: RAFTIS_SINCE, route: 'server',
    summary: 'Transfer leadership to another voter, or to the given one', complexity: 'O(1)',
    arguments: [{ name: 'node-id', type: 'integer', token: 'TO', flags: ['optional'] }],
  },
  {
    name: 'cluster|leave', arity: 2, flags: ADMIN_FLAGS, firstKey: 0, lastKey: 0, keyStep: 0,
    aclCategories: ADMIN_ACL, group: 'cluster', since: RAFTIS_SINCE, route: 'server',
    summary: 'Remove this node from the Raft group, then stop it', complexity: 'O(1)',
  },
];

/** Top-level commands of our own. */
const RAFTIS_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'raft.snapshot', arity: 1, flags: ['admin'], firstKey: 0, lastKey: 0, keyStep: 0,
    aclCategories: ADMIN_ACL, group: 'server', since: RAFTIS_SINCE, route: 'server',
    summary: 'Snapshot the state machine now and compact the Raft log up to the applied index',
    complexity: 'O(N) where N is the number of keys',
  },
  {
    name: 'raft.digest', arity: 1, flags: ['readonly'], firstKey: 0, lastKey: 0, keyStep: 0,
    aclCategories: ['@keyspace', '@read', '@slow'], group: 'server', since: RAFTIS_SINCE,
    route: 'server', tips: ['nondeterministic_output'],
    summary: 'A checksum of the whole keyspace as applied at the current log index',
    complexity: 'O(N) where N is the number of keys',
  },
];

function withRaftisSubcommands(spec: CommandSpec): CommandSpec {
  if (spec.name !== 'cluster') return spec;
  return { ...spec, subcommands: [...(spec.subcommands ?? []), ...RAFTIS_CLUSTER_SUBCOMMANDS] };
}

/** Every top-level command, in a stable order (Redis's own order is its hash table's). */
export const COMMANDS: readonly CommandSpec[] = [
  ...REDIS_COMMANDS.map(withRaftisSubcommands),
  ...RAFTIS_COMMANDS,
];

const byName = new Map<string, CommandSpec>();
const subcommandsByParent = new Map<string, Map<string, CommandSpec>>();
for (const spec of COMMANDS) {
  if (byName.has(spec.name)) throw new Error(`command table: ${spec.name} is described twice`);
  byName.set(spec.name, spec);
  if (spec.subcommands) {
    const subs = new Map<string, CommandSpec>();
    for (const sub of spec.subcommands) {
      const [parent, child] = sub.name.split('|');
      if (parent !== spec.name || child === undefined) {
        throw new Error(`command table: subcommand ${sub.name} is not named ${spec.name}|<sub>`);
      }
      subs.set(child, sub);
    }
    subcommandsByParent.set(spec.name, subs);
  }
}

/** Each command's success resolution, made once: resolveCommand runs for every request. */
const resolvedOf = new Map<CommandSpec, Resolution>();
for (const spec of COMMANDS) {
  resolvedOf.set(spec, { ok: true, spec });
  for (const sub of spec.subcommands ?? []) resolvedOf.set(sub, { ok: true, spec: sub });
}

function resolved(spec: CommandSpec): Resolution {
  return resolvedOf.get(spec) ?? { ok: true, spec };
}

/**
 * The names as clients send them, in lower and upper case, of the commands with no subcommands,
 * by bytes: resolving such a name makes no string. Slicing argv[0] to a string and hashing it was
 * most of resolveCommand's time, which was a tenth of a leader's under GET -P 16
 * (docs/performance.md). A small open hash of the name's length and a few of its bytes picks a
 * bucket; the bytes are then compared in full.
 */
interface WireName {
  readonly bytes: Buffer;
  readonly spec: CommandSpec;
  readonly resolution: Resolution;
}

const WIRE_BUCKETS = 1024;
const wireBuckets: WireName[][] = Array.from({ length: WIRE_BUCKETS }, () => []);

function wireBucket(bytes: Uint8Array, length: number): number {
  return (length * 131 + bytes[0]! * 31 + bytes[length >> 1]! * 17 + bytes[length - 1]! * 7) & (WIRE_BUCKETS - 1);
}

for (const spec of COMMANDS) {
  if (subcommandsByParent.has(spec.name)) continue;
  for (const name of new Set([spec.name, spec.name.toUpperCase()])) {
    const bytes = Buffer.from(name, 'latin1');
    wireBuckets[wireBucket(bytes, bytes.length)]!.push({ bytes, spec, resolution: resolved(spec) });
  }
}

/** The command whose wire name is exactly `first`'s bytes, if any. */
function findWireName(first: Buffer): WireName | undefined {
  const length = first.length;
  if (length === 0) return undefined;
  next: for (const candidate of wireBuckets[wireBucket(first, length)]!) {
    const bytes = candidate.bytes;
    if (bytes.length !== length) continue;
    for (let i = 0; i < length; i++) if (bytes[i] !== first[i]) continue next;
    return candidate;
  }
  return undefined;
}

/** Looks up a top-level command by its lower-case name. */
export function lookupCommand(nameLowercase: string): CommandSpec | undefined {
  return byName.get(nameLowercase);
}

/** Looks up `parent|sub` by lower-case names; undefined if either is unknown. */
export function lookupSubcommand(parentLowercase: string, subLowercase: string): CommandSpec | undefined {
  return subcommandsByParent.get(parentLowercase)?.get(subLowercase);
}

/** Looks up either a top-level command ("get") or a subcommand by full name ("client|list"). */
export function lookupFullName(fullNameLowercase: string): CommandSpec | undefined {
  const bar = fullNameLowercase.indexOf('|');
  if (bar < 0) return byName.get(fullNameLowercase);
  return lookupSubcommand(fullNameLowercase.slice(0, bar), fullNameLowercase.slice(bar + 1));
}

/**
 * Commands Redis has and raftis deliberately does not support yet: they get this error rather
 * than "unknown command", so a user sees why (issue 5: scripting gets a clear error).
 */
const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['eval', 'ERR scripting is not supported by raftis yet'],
  ['eval_ro', 'ERR scripting is not supported by raftis yet'],
  ['evalsha', 'ERR scripting is not supported by raftis yet'],
  ['evalsha_ro', 'ERR scripting is not supported by raftis yet'],
  ['fcall', 'ERR scripting is not supported by raftis yet'],
  ['fcall_ro', 'ERR scripting is not supported by raftis yet'],
  ['script', 'ERR scripting is not supported by raftis yet'],
]);

/** The error for FUNCTION subcommands that would load or run code (FUNCTION LOAD, ...). */
export const SCRIPTING_UNSUPPORTED_ERROR = 'ERR scripting is not supported by raftis yet';

/** The outcome of resolving a request's argv against the table. */
export type Resolution =
  | { readonly ok: true; readonly spec: CommandSpec }
  | { readonly ok: false; readonly error: Reply };

/** Redis replaces CR and LF with spaces in error messages that echo client input. */
function sanitize(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}

/** Like C's "%.128s": at most 128 bytes, stopping at a NUL byte. */
function cString(arg: Buffer, maxBytes: number): string {
  const nul = arg.indexOf(0);
  const end = Math.min(nul < 0 ? arg.length : nul, maxBytes);
  return arg.subarray(0, end).toString('latin1');
}

/** Redis 7 `processCommand`: "unknown command 'x', with args beginning with: 'a' 'b' ". */
export function unknownCommandError(argv: readonly Buffer[]): Reply {
  let args = '';
  for (let i = 1; i < argv.length && args.length < 128; i++) {
    args += `'${cString(argv[i]!, 128 - args.length)}' `;
  }
  const name = cString(argv[0] ?? Buffer.alloc(0), 128);
  return { kind: 'error', value: sanitize(`ERR unknown command '${name}', with args beginning with: ${args}`) };
}

/** Redis 7: "ERR wrong number of arguments for 'config|get' command". */
export function arityError(spec: CommandSpec): Reply {
  return { kind: 'error', value: `ERR wrong number of arguments for '${spec.name}' command` };
}

/** Whether `argc` (the name included) satisfies `arity` (-N means at least N). */
export function arityAccepts(arity: number, argc: number): boolean {
  return arity >= 0 ? argc === arity : argc >= -arity;
}

/**
 * Resolves a request to its command (or subcommand) and checks its arity, with the exact errors
 * Redis 7 sends: unknown command, unknown subcommand ("Try CLIENT HELP."), wrong arity.
 * `argv[0]` may be in any case.
 */
export function resolveCommand(argv: readonly Buffer[]): Resolution {
  const first = argv[0];
  if (first === undefined) throw new Error('resolveCommand: empty argv');
  const wire = findWireName(first);
  if (wire !== undefined) return arityAccepts(wire.spec.arity, argv.length) ? wire.resolution : { ok: false, error: arityError(wire.spec) };
  const name = latin1(first, 0, first.length).toLowerCase();
  const spec = byName.get(name);
  if (spec === undefined) {
    const unsupported = UNSUPPORTED.get(name);
    if (unsupported !== undefined) return { ok: false, error: { kind: 'error', value: unsupported } };
    return { ok: false, error: unknownCommandError(argv) };
  }
  const subs = subcommandsByParent.get(name);
  if (subs !== undefined && argv.length >= 2) {
    const subArg = argv[1]!;
    const sub = subs.get(subArg.toString('latin1').toLowerCase());
    if (sub === undefined) {
      const message = `ERR unknown subcommand '${cString(subArg, 128)}'. Try ${name.toUpperCase()} HELP.`;
      return { ok: false, error: { kind: 'error', value: sanitize(message) } };
    }
    if (!arityAccepts(sub.arity, argv.length)) return { ok: false, error: arityError(sub) };
    return resolved(sub);
  }
  if (!arityAccepts(spec.arity, argv.length)) return { ok: false, error: arityError(spec) };
  return resolved(spec);
}

/** Whether a resolved command must go through the Raft log. */
export function isWrite(spec: CommandSpec): boolean {
  return spec.route === 'write';
}
