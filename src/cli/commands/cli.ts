// `raftis cli [-h host] [-p port] <command...>`: sends one command to any node and prints the
// reply the way redis-cli 7.0 prints it on a terminal: `OK`, `(integer) 1`, `"value"` (with
// redis-cli's escapes), `(nil)`, `(error) ERR ...`, `(empty array)`, numbered and indented nested
// arrays, `1# "key" => "value"` for RESP3 maps. Like redis-cli, INFO, CLUSTER NODES, CLUSTER INFO
// and CLIENT LIST/INFO print their text as is, and `--raw` prints every reply unadorned.
//
// Unlike redis-cli, the terminal format is used whether or not standard output is a terminal
// (redis-cli switches to --raw when piped), so scripts and tests see what a person sees. The exit
// code is 1 when the reply is an error or the node cannot be reached, 0 otherwise.
//
// `-h` is the host, as in redis-cli: yargs's help is `--help` only (main.ts adds no `-h` alias).
// Everything after the options is the command, even words that look like options (`-1`, `-x`);
// options must come before the command, and `--` ends them explicitly.
//
// The module also holds the small RESP client that `raftis status` uses: a decoder of RESP2 and
// RESP3 replies into the server's own Reply type, and a connection that sends commands and reads
// their replies within a deadline.

import net from 'node:net';
import type { Argv, CommandModule } from 'yargs';
import type { Reply } from '../../resp/reply.js';

// ---------------------------------------------------------------------------------------------
// Decoding replies

/** A reply the server sent that is not valid RESP. */
export class ReplyDecodeError extends Error {}

const NESTING_DEPTH_MAX = 64;

interface DecodedAt {
  readonly reply: Reply;
  readonly end: number;
}

function integerValue(line: string): number | bigint {
  if (!/^-?[0-9]+$/.test(line)) throw new ReplyDecodeError(`bad integer in reply: ${JSON.stringify(line)}`);
  const value = BigInt(line);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function lengthValue(line: string): number {
  const length = integerValue(line);
  if (typeof length !== 'number') throw new ReplyDecodeError(`length out of range in reply: ${line}`);
  return length;
}

/**
 * Decodes one RESP2 or RESP3 reply starting at `offset`; undefined when `input` holds only part
 * of it. RESP3 attributes are skipped, pushes read as arrays, big numbers as bigint integers.
 */
export function decodeReply(input: Buffer, offset = 0, depth = 0): DecodedAt | undefined {
  if (depth > NESTING_DEPTH_MAX) throw new ReplyDecodeError(`reply nested deeper than ${NESTING_DEPTH_MAX}`);
  if (offset >= input.length) return undefined;
  const lineEnd = input.indexOf('\r\n', offset + 1, 'latin1');
  if (lineEnd < 0) return undefined;
  const type = input[offset] as number;
  const line = input.toString('latin1', offset + 1, lineEnd);
  const next = lineEnd + 2;
  const blob = (): { bytes: Buffer; end: number } | undefined => {
    const length = lengthValue(line);
    if (input.length < next + length + 2) return undefined;
    return { bytes: input.subarray(next, next + length), end: next + length + 2 };
  };
  const items = (count: number): { replies: Reply[]; end: number } | undefined => {
    const replies: Reply[] = [];
    let at = next;
    for (let k = 0; k < count; k++) {
      const item = decodeReply(input, at, depth + 1);
      if (item === undefined) return undefined;
      replies.push(item.reply);
      at = item.end;
    }
    return { replies, end: at };
  };
  switch (String.fromCharCode(type)) {
    case '+':
      return { reply: { kind: 'simple', value: line }, end: next };
    case '-':
      return { reply: { kind: 'error', value: line }, end: next };
    case ':':
    case '(':
      return { reply: { kind: 'integer', value: integerValue(line) }, end: next };
    case '_':
      return { reply: { kind: 'null' }, end: next };
    case ',':
      return { reply: { kind: 'double', value: line }, end: next };
    case '#':
      return { reply: { kind: 'boolean', value: line === 't' }, end: next };
    case '$': {
      if (lengthValue(line) < 0) return { reply: { kind: 'null' }, end: next };
      const data = blob();
      return data && { reply: { kind: 'bulk', value: Buffer.from(data.bytes) }, end: data.end };
    }
    case '!': {
      const data = blob();
      return data && { reply: { kind: 'error', value: data.bytes.toString('latin1') }, end: data.end };
    }
    case '=': {
      const data = blob();
      if (!data) return undefined;
      const colon = data.bytes.indexOf(0x3a);
      if (colon !== 3) throw new ReplyDecodeError('verbatim string without a three-letter format');
      return { reply: { kind: 'verbatim', format: data.bytes.toString('latin1', 0, 3), value: Buffer.from(data.bytes.subarray(4)) }, end: data.end };
    }
    case '*':
    case '>':
    case '~': {
      const count = lengthValue(line);
      if (count < 0) return { reply: { kind: 'nullArray' }, end: next };
      const decoded = items(count);
      if (!decoded) return undefined;
      return { reply: type === 0x7e ? { kind: 'set', value: decoded.replies } : { kind: 'array', value: decoded.replies }, end: decoded.end };
    }
    case '%':
    case '|': {
      const decoded = items(lengthValue(line) * 2);
      if (!decoded) return undefined;
      if (type === 0x7c) return decodeReply(input, decoded.end, depth + 1);
      const pairs: [Reply, Reply][] = [];
      for (let k = 0; k < decoded.replies.length; k += 2) pairs.push([decoded.replies[k] as Reply, decoded.replies[k + 1] as Reply]);
      return { reply: { kind: 'map', value: pairs }, end: decoded.end };
    }
    default:
      throw new ReplyDecodeError(`unknown reply type byte 0x${type.toString(16)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Printing replies as redis-cli does

/** redis-cli's sdscatrepr: a quoted string with C escapes; bytes outside printable ASCII as \xHH. */
export function quoteBytes(bytes: Buffer): string {
  let text = '"';
  for (const byte of bytes) {
    switch (byte) {
      case 0x5c:
        text += '\\\\';
        break;
      case 0x22:
        text += '\\"';
        break;
      case 0x0a:
        text += '\\n';
        break;
      case 0x0d:
        text += '\\r';
        break;
      case 0x09:
        text += '\\t';
        break;
      case 0x07:
        text += '\\a';
        break;
      case 0x08:
        text += '\\b';
        break;
      default:
        text += byte >= 0x20 && byte <= 0x7e ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
    }
  }
  return `${text}"`;
}

function aggregateItems(reply: Reply): readonly Reply[] | undefined {
  switch (reply.kind) {
    case 'array':
    case 'set':
      return reply.value;
    case 'map':
      return reply.value.flat();
    default:
      return undefined;
  }
}

/** redis-cli's cliIsMultilineValueTTY: whether formatReplyTty writes `reply` on several lines. */
function isMultilineTty(reply: Reply): boolean {
  switch (reply.kind) {
    case 'array':
    case 'set':
      if (reply.value.length === 0) return false;
      return reply.value.length > 1 || isMultilineTty(reply.value[0] as Reply);
    case 'map':
      if (reply.value.length === 0) return false;
      return reply.value.length > 1 || isMultilineTty((reply.value[0] as readonly [Reply, Reply])[1]);
    default:
      return false;
  }
}

/**
 * redis-cli's cliFormatReplyTTY. The result is a latin1 string (one char per byte), each line
 * ended by "\n". `prefix` is the indentation of nested elements after the first.
 */
export function formatReplyTty(reply: Reply, prefix = ''): string {
  switch (reply.kind) {
    case 'error':
      return `(error) ${reply.value}\n`;
    case 'simple':
      return `${reply.value}\n`;
    case 'integer':
      return `(integer) ${reply.value}\n`;
    case 'double':
      return `(double) ${reply.value}\n`;
    case 'bulk':
      return `${quoteBytes(reply.value)}\n`;
    case 'verbatim':
    case 'raw':
      return `${reply.value.toString('latin1')}\n`;
    case 'null':
    case 'nullArray':
      return '(nil)\n';
    case 'boolean':
      return reply.value ? '(true)\n' : '(false)\n';
    case 'array':
    case 'set':
    case 'map': {
      const elements = aggregateItems(reply) as readonly Reply[];
      if (elements.length === 0) {
        return reply.kind === 'array' ? '(empty array)\n' : reply.kind === 'map' ? '(empty hash)\n' : '(empty set)\n';
      }
      const count = reply.kind === 'map' ? elements.length / 2 : elements.length;
      const indexWidth = String(count).length;
      const nestedPrefix = prefix + ' '.repeat(indexWidth + 2);
      const separator = reply.kind === 'set' ? '~' : reply.kind === 'map' ? '#' : ')';
      const step = reply.kind === 'map' ? 2 : 1;
      let text = '';
      for (let at = 0; at < elements.length; at += step) {
        const humanIndex = at / step + 1;
        // The first element follows the parent's own index on the same line.
        text += `${at === 0 ? '' : prefix}${String(humanIndex).padStart(indexWidth)}${separator} `;
        text += formatReplyTty(elements[at] as Reply, nestedPrefix);
        if (reply.kind === 'map') {
          const value = elements[at + 1] as Reply;
          // A value that takes several lines starts on a line of its own, aligned under the key.
          const lineBreak = isMultilineTty(value) ? `\n${nestedPrefix}` : '';
          text = `${text.slice(0, -1)} => ${lineBreak}${formatReplyTty(value, nestedPrefix)}`;
        }
      }
      return text;
    }
    default: {
      const unhandled: never = reply;
      throw new Error(`unhandled reply ${JSON.stringify(unhandled)}`);
    }
  }
}

/** redis-cli's cliFormatReplyRaw: values unquoted, aggregate elements one per line, nil as nothing. */
export function formatReplyRaw(reply: Reply): string {
  switch (reply.kind) {
    case 'null':
    case 'nullArray':
      return '';
    case 'error':
      return `${reply.value}\n`;
    case 'simple':
    case 'double':
      return reply.value;
    case 'bulk':
    case 'verbatim':
    case 'raw':
      return reply.value.toString('latin1');
    case 'integer':
      return String(reply.value);
    case 'boolean':
      return reply.value ? '(true)' : '(false)';
    case 'array':
    case 'set':
      return reply.value.map(formatReplyRaw).join('\n');
    case 'map':
      return reply.value.map(([key, value]) => `${formatReplyRaw(key)} ${formatReplyRaw(value)}`).join('\n');
    default: {
      const unhandled: never = reply;
      throw new Error(`unhandled reply ${JSON.stringify(unhandled)}`);
    }
  }
}

/** The commands redis-cli prints raw even on a terminal: their replies are text meant for people. */
export function printsRaw(command: readonly string[]): boolean {
  const name = (command[0] ?? '').toLowerCase();
  const sub = (command[1] ?? '').toLowerCase();
  if (name === 'info' || name === 'lolwut') return true;
  if (name === 'cluster' && command.length === 2) return sub === 'nodes' || sub === 'info';
  if (name === 'client') return sub === 'list' || sub === 'info';
  if (name === 'memory') return sub === 'malloc-stats' || sub === 'doctor';
  if (name === 'latency') return (sub === 'graph' && command.length === 3) || (sub === 'doctor' && command.length === 2);
  return false;
}

/** What `raftis cli` writes for `reply` to `command` (redis-cli's cliFormatReply). */
export function formatCliOutput(reply: Reply, command: readonly string[], raw: boolean): string {
  if (printsRaw(command)) return formatReplyRaw(reply);
  if (raw) return `${formatReplyRaw(reply)}\n`;
  return formatReplyTty(reply);
}

// ---------------------------------------------------------------------------------------------
// A connection

/** Why a node could not be asked (refused, timed out, closed): not a reply. */
export class ConnectionFailure extends Error {}

function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Sends `commands` pipelined on one new connection and resolves with their replies in order.
 * Rejects with ConnectionFailure when the node cannot be reached or the replies do not all arrive
 * within `timeoutMs` (which covers connecting too).
 */
export function sendCommands(host: string, port: number, commands: readonly (readonly (string | Buffer)[])[], timeoutMs: number): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const replies: Reply[] = [];
    let pending: Buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    const timer = setTimeout(() => finish(new ConnectionFailure(`no reply from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.write(Buffer.concat(commands.map(encodeCommand))));
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      try {
        for (let decoded = decodeReply(pending); decoded; decoded = decodeReply(pending)) {
          replies.push(decoded.reply);
          pending = pending.subarray(decoded.end);
          if (replies.length === commands.length) {
            finish(undefined);
            return;
          }
        }
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.once('error', (error) => finish(new ConnectionFailure(`cannot reach ${host}:${port}: ${error.message}`)));
    socket.once('close', () => finish(new ConnectionFailure(`${host}:${port} closed the connection after ${replies.length} of ${commands.length} replies`)));
  });
}

/** The commands that set a connection up before the user's one: AUTH, HELLO 3. */
export function preamble(options: { password?: string | undefined; resp3?: boolean | undefined }): string[][] {
  const commands: string[][] = [];
  if (options.password !== undefined) commands.push(['AUTH', options.password]);
  if (options.resp3) commands.push(['HELLO', '3']);
  return commands;
}

// ---------------------------------------------------------------------------------------------
// The yargs command

interface CliArgs {
  host: string;
  port: number;
  pass?: string;
  resp3: boolean;
  raw: boolean;
  timeout: number;
  command?: string[];
  _: (string | number)[];
}

export const cliCommand: CommandModule<object, CliArgs> = {
  command: 'cli [command..]',
  describe: 'send one command to a node and print the reply as redis-cli does',
  builder: (yargs: Argv) =>
    yargs
      // Words after the options are the command's, even `-1` or `-x`; and they stay strings
      // ("010" must not become 10).
      .parserConfiguration({ 'unknown-options-as-args': true, 'parse-positional-numbers': false, 'parse-numbers': false })
      .option('host', { alias: 'h', type: 'string', default: '127.0.0.1', describe: 'node address' })
      .option('port', { alias: 'p', type: 'number', default: 7001, describe: 'node client port' })
      .option('pass', { alias: 'a', type: 'string', describe: 'password (AUTH) for a node started with --requirepass' })
      .option('resp3', { type: 'boolean', default: false, describe: 'speak RESP3 (HELLO 3)' })
      .option('raw', { type: 'boolean', default: false, describe: 'print replies unadorned, as redis-cli --raw' })
      .option('timeout', { type: 'number', default: 5000, describe: 'milliseconds to wait for the reply' })
      .positional('command', { type: 'string', array: true, describe: 'the command and its arguments' }) as unknown as Argv<CliArgs>,
  handler: async (argv) => {
    // Words after `--` land in `_`, after the name of this command.
    const command = [...(argv.command ?? []), ...argv._.slice(1).map(String)];
    process.exitCode = await runCli(command, argv);
  },
};

/** Runs `raftis cli`; resolves with the exit code. */
export async function runCli(command: readonly string[], options: {
  host: string; port: number; pass?: string | undefined; resp3?: boolean | undefined; raw?: boolean | undefined; timeout: number;
}, out: (text: Buffer) => void = (text) => process.stdout.write(text), err: (text: string) => void = (text) => process.stderr.write(text)): Promise<number> {
  if (command.length === 0) {
    err('raftis cli: name a command, e.g. raftis cli -p 7001 PING\n');
    return 2;
  }
  const setup = preamble({ password: options.pass, resp3: options.resp3 });
  let replies: Reply[];
  try {
    replies = await sendCommands(options.host, options.port, [...setup, command], options.timeout);
  } catch (error) {
    err(`Could not connect to raftis at ${options.host}:${options.port}: ${(error as Error).message}\n`);
    return 1;
  }
  // A refused AUTH (or HELLO) is what the user needs to see, not the NOAUTH that follows it.
  const failedSetup = replies.slice(0, setup.length).find((reply) => reply.kind === 'error');
  const reply = failedSetup ?? (replies[setup.length] as Reply);
  const text = failedSetup ? formatReplyTty(failedSetup) : formatCliOutput(reply, command, options.raw ?? false);
  out(Buffer.from(text, 'latin1'));
  return reply.kind === 'error' ? 1 : 0;
}
