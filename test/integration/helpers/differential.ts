// Test helper: the differential harness. A case (raw bytes, a pipeline of commands, or a dialogue
// over several connections) runs against a reference redis-server and against raftis; both
// transcripts (every reply, and whatever came before the server closed) are compared byte for
// byte. The only exceptions are the ALLOWED_DIFFERENCES below, each masking one documented
// difference in both transcripts before the comparison; docs/compatibility.md mirrors this list.
//
// Every case starts from an empty keyspace and no other connection: a setup connection sends
// FLUSHALL and QUIT and waits for the server to close it (by then the server has forgotten it, so
// CLIENT LIST and maxclients see only the case's own connections). Every connection of a case
// ends by shutting down its side and waiting for the server to close.
import { encodeCommands, RawConnection } from './raw-connection.js';
import { parseReply, serializeReply, splitReplies, type ReplyNode } from './resp-reply.js';
import type { Target, TargetOptions } from './targets.js';

export type Command = readonly (string | Buffer)[];

export type Step =
  /** Send commands (pipelined, one write) and read one reply per command. */
  | { readonly client: number; readonly commands: readonly Command[] }
  /** Send raw bytes and read `replies` replies. */
  | { readonly client: number; readonly raw: string | Buffer; readonly replies: number };

export interface DifferentialCase {
  readonly name: string;
  /** Server settings for both sides; cases are grouped by them. */
  readonly options?: TargetOptions;
  /** Bytes sent on one connection, which is then shut down; everything until close is compared. */
  readonly raw?: string | Buffer;
  /** Commands pipelined on one connection, which is then shut down. */
  readonly commands?: readonly Command[];
  /** A dialogue over `clients` connections (default 1), step by step, then every one shut down. */
  readonly steps?: readonly Step[];
  readonly clients?: number;
}

/** One difference between Redis and raftis that the harness tolerates, and why. */
export interface AllowedDifference {
  readonly id: string;
  /** Table names of the commands whose replies it applies to ("client|list", "ttl", ...). */
  readonly commands: readonly string[];
  readonly reason: string;
  readonly mask: (reply: ReplyNode) => ReplyNode;
}

const masked = (type: string, text: string): ReplyNode => ({ type, text });

/** CLIENT LIST/INFO fields that depend on the process, the socket or the moment. */
const VOLATILE_CLIENT_FIELDS = ['id', 'addr', 'laddr', 'fd', 'age', 'idle', 'qbuf', 'qbuf-free', 'argv-mem', 'multi-mem', 'rbs', 'rbp', 'obl', 'oll', 'omem', 'tot-mem', 'events'];

function maskClientLines(text: string): string {
  return text.split('\n').map((line) => line.split(' ').map((field) => {
    const equals = field.indexOf('=');
    if (equals < 0) return field;
    // A RESP3 verbatim reply keeps its "txt:" format prefix in front of the first field.
    const prefix = field.startsWith('txt:') ? 'txt:' : '';
    const name = field.slice(prefix.length, equals);
    return VOLATILE_CLIENT_FIELDS.includes(name) ? `${prefix}${name}=<${name}>` : field;
  }).join(' ')).join('\n');
}

function sortedItems(items: readonly ReplyNode[]): ReplyNode[] {
  return [...items].sort((a, b) => ((a.text ?? '') < (b.text ?? '') ? -1 : (a.text ?? '') > (b.text ?? '') ? 1 : 0));
}

export const ALLOWED_DIFFERENCES: readonly AllowedDifference[] = [
  {
    id: 'client-ids',
    commands: ['client|id', 'hello'],
    reason: 'Client ids count every connection the server ever accepted; the two servers have seen different histories.',
    mask: (reply) => {
      if (reply.type === ':') return masked(':', '<id>');
      if (reply.items === undefined) return reply;
      // HELLO's map (RESP3) or flat array (RESP2): mask the value after "id".
      const items = reply.items.map((item, index) => (index % 2 === 1 && reply.items![index - 1]!.text === 'id' ? masked(':', '<id>') : item));
      return { ...reply, items };
    },
  },
  {
    id: 'client-list-fields',
    commands: ['client|list', 'client|info'],
    reason: 'CLIENT LIST/INFO report ids, socket addresses, file descriptors, ages and buffer sizes, which differ between any two processes; names, flags, db, multi, cmd, user and resp are compared.',
    mask: (reply) => (reply.text === undefined ? reply : { ...reply, text: maskClientLines(reply.text) }),
  },
  {
    id: 'clock',
    commands: ['time'],
    reason: 'TIME reads each server\'s clock at a different instant.',
    mask: (reply) => (reply.items === undefined ? reply : { ...reply, items: reply.items.map(() => masked('$', '<time>')) }),
  },
  {
    id: 'relative-expiry',
    commands: ['ttl', 'pttl', 'expiretime', 'pexpiretime'],
    reason: 'A relative TTL becomes an absolute time on each server\'s own clock at a different instant, so remaining and absolute times of keys given relative TTLs may differ by the time between the two requests; -1 and -2 are compared.',
    mask: (reply) => (reply.type === ':' && Number(reply.text) >= 0 ? masked(':', '<time>') : reply),
  },
  {
    id: 'key-order',
    commands: ['keys', 'scan'],
    reason: 'KEYS and SCAN return keys in hash-table order, which is an implementation detail; the keys are compared as sets (SCAN cursors are compared too: the cases scan small keyspaces completely).',
    mask: (reply) => {
      if (reply.items === undefined) return reply;
      if (reply.items.length === 2 && reply.items[1]!.items !== undefined) {
        return { ...reply, items: [reply.items[0]!, { ...reply.items[1]!, items: sortedItems(reply.items[1]!.items!) }] };
      }
      return { ...reply, items: sortedItems(reply.items) };
    },
  },
  {
    id: 'random-key',
    commands: ['randomkey'],
    reason: 'RANDOMKEY picks with a different random source (raftis: a deterministic one, identical on every replica); whether a key is returned is compared.',
    mask: (reply) => (reply.type === '$' && reply.nil !== true ? masked('$', '<key>') : reply),
  },
  {
    id: 'readonly-mode',
    commands: ['readonly', 'readwrite'],
    reason: 'Redis refuses READONLY/READWRITE outside cluster mode; raftis accepts them to switch a connection to (possibly stale) follower reads.',
    mask: (reply) => (reply.type === '-' && reply.text === 'ERR This instance has cluster support disabled' ? masked('+', 'OK') : reply),
  },
];

const differencesByCommand = new Map<string, AllowedDifference[]>();
for (const difference of ALLOWED_DIFFERENCES) {
  for (const command of difference.commands) {
    differencesByCommand.set(command, [...(differencesByCommand.get(command) ?? []), difference]);
  }
}

const CONTAINERS = new Set(['client', 'config', 'command', 'function', 'cluster', 'object', 'memory']);

/** The table name of a command: "get", or "client|list" for a container's subcommand. */
export function commandName(command: Command): string {
  const first = String(command[0] ?? '').toLowerCase();
  if (CONTAINERS.has(first) && command.length > 1) return `${first}|${String(command[1]).toLowerCase()}`;
  return first;
}

function maskReply(command: Command | undefined, reply: ReplyNode): ReplyNode {
  if (command === undefined) return reply;
  let result = reply;
  for (const difference of differencesByCommand.get(commandName(command)) ?? []) result = difference.mask(result);
  return result;
}

/** One line of a transcript: what was sent (if known) and the reply, masked, as latin1. */
export interface TranscriptLine {
  readonly client: number;
  readonly command: string;
  readonly reply: string;
}

/** Pairs replies with commands, following MULTI/EXEC so EXEC's elements are masked too. */
class Session {
  private queued: Command[] | null = null;

  constructor(readonly client: number) {}

  line(command: Command | undefined, reply: Buffer): TranscriptLine {
    const node = parseReply(reply);
    let result = maskReply(command, node);
    if (command !== undefined) {
      const name = commandName(command);
      if (name === 'multi' && node.type === '+') {
        this.queued ??= [];
      } else if (this.queued !== null && node.type === '+' && node.text === 'QUEUED') {
        this.queued.push(command);
      } else if (name === 'exec' || name === 'discard' || name === 'reset') {
        if (name === 'exec' && node.items !== undefined && this.queued !== null && node.items.length === this.queued.length) {
          const queued = this.queued;
          result = { ...node, items: node.items.map((item, index) => maskReply(queued[index], item)) };
        }
        this.queued = null;
      }
    }
    const label = command === undefined ? '<raw>' : command.map((arg) => String(arg)).join(' ').slice(0, 80);
    return { client: this.client, command: label, reply: serializeReply(result).toString('latin1') };
  }
}

function transcriptOf(session: Session, commands: readonly Command[] | undefined, bytes: Buffer): TranscriptLine[] {
  const { replies, rest } = splitReplies(bytes);
  const lines = replies.map((reply, index) => session.line(commands?.[index], reply));
  if (rest.length > 0) lines.push({ client: session.client, command: '<incomplete>', reply: rest.toString('latin1') });
  return lines;
}

/** Empties the keyspace and waits until the setup connection is gone. */
async function prepare(target: Target, options: TargetOptions): Promise<void> {
  const connection = await RawConnection.open(target.host, target.port);
  const commands: Command[] = [];
  if (options.requirepass !== undefined) commands.push(['AUTH', options.requirepass]);
  commands.push(['FLUSHALL'], ['QUIT']);
  connection.send(encodeCommands(commands));
  await connection.closedByServer();
}

/** Runs one case against one server and returns its masked transcript. */
export async function runCase(target: Target, testCase: DifferentialCase): Promise<TranscriptLine[]> {
  await prepare(target, testCase.options ?? {});
  if (testCase.raw !== undefined || testCase.commands !== undefined) {
    const connection = await RawConnection.open(target.host, target.port);
    connection.send(testCase.raw ?? encodeCommands(testCase.commands!));
    return transcriptOf(new Session(0), testCase.commands, await connection.finish());
  }
  const clientCount = testCase.clients ?? 1;
  const connections: RawConnection[] = [];
  const sessions: Session[] = [];
  for (let client = 0; client < clientCount; client++) {
    connections.push(await RawConnection.open(target.host, target.port));
    sessions.push(new Session(client));
  }
  const lines: TranscriptLine[] = [];
  for (const step of testCase.steps ?? []) {
    const connection = connections[step.client]!;
    if ('commands' in step) {
      connection.send(encodeCommands(step.commands));
      const replies = await connection.readReplies(step.commands.length);
      lines.push(...replies.map((reply, index) => sessions[step.client]!.line(step.commands[index], reply)));
    } else {
      connection.send(step.raw);
      const replies = await connection.readReplies(step.replies);
      lines.push(...replies.map((reply) => sessions[step.client]!.line(undefined, reply)));
    }
  }
  for (let client = 0; client < clientCount; client++) {
    const rest = await connections[client]!.finish();
    if (rest.length > 0) lines.push(...transcriptOf(sessions[client]!, undefined, rest).map((line) => ({ ...line, command: `<after close> ${line.command}` })));
  }
  return lines;
}

/** Groups cases by their server settings, preserving order. */
export function groupByOptions(cases: readonly DifferentialCase[]): Map<string, { options: TargetOptions; cases: DifferentialCase[] }> {
  const groups = new Map<string, { options: TargetOptions; cases: DifferentialCase[] }>();
  for (const testCase of cases) {
    const options = testCase.options ?? {};
    const key = JSON.stringify(options);
    if (!groups.has(key)) groups.set(key, { options, cases: [] });
    groups.get(key)!.cases.push(testCase);
  }
  return groups;
}
