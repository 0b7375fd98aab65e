// The commands a connection answers by itself, from its own state: PING, ECHO, SELECT, HELLO,
// AUTH, READONLY/READWRITE, UNWATCH and CLIENT. Each reproduces Redis 7.0's replies and error
// texts (networking.c clientCommand, server.c helloCommand/pingCommand, db.c selectCommand,
// acl.c authCommand). MULTI, EXEC, DISCARD, WATCH, QUIT and RESET live in connection.ts, next to
// the transaction and reply-ordering machinery they drive.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { CommandSpec } from '../commands/types.js';
import type { ProtocolVersion } from '../resp/encoder.js';
import { parseLongLongArg } from '../resp/integer.js';
import { array, bulk, bulkText, EMPTY_ARRAY, error, integer, NOT_AN_INTEGER, NULL, OK, PONG, simple, SYNTAX_ERROR, verbatimText } from '../resp/replies.js';
import type { Reply } from '../resp/reply.js';
import { formatClientInfo, type ClientDescription, type ClientRegistry } from './client-registry.js';

/** Redis has 16 databases by default; raftis has exactly those. */
export const DATABASE_COUNT = 16;

export const NOAUTH: Reply = error('NOAUTH Authentication required.');
export const WRONGPASS: Reply = error('WRONGPASS invalid username-password pair or user is disabled.');

/** The part of a connection these commands read and change. */
export interface ConnectionState {
  readonly id: number;
  readonly registry: ClientRegistry;
  db: number;
  protocol: ProtocolVersion;
  /** Latin1 (byte) string, or null. */
  name: string | null;
  authenticated: boolean;
  /** Set by READONLY: reads may be served from this node's own, possibly stale, state. */
  staleReads: boolean;
  unwatchAll(): void;
  describe(nowMs: number): ClientDescription;
  /** Reply, then close (CLIENT KILL of oneself). */
  closeAfterReply(): void;
  nowMs(): number;
}

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

const latin1 = (arg: Buffer): string => arg.toString('latin1');
const lower = (arg: Buffer): string => arg.toString('latin1').toLowerCase();

/** Like Redis's "%s" of an sds: a C string, so it ends at the first NUL. */
function cString(arg: Buffer): string {
  const nul = arg.indexOf(0);
  return (nul < 0 ? arg : arg.subarray(0, nul)).toString('latin1');
}

/** Redis getIntFromObjectOrReply with no custom message. */
function parseInt32(arg: Buffer): number | Reply {
  const value = parseLongLongArg(arg);
  if (Number.isNaN(value)) return NOT_AN_INTEGER;
  if (value < INT_MIN || value > INT_MAX) {
    return error(`ERR value is out of range, value must between ${INT_MIN} and ${INT_MAX}`);
  }
  return value;
}

/** SELECT's argument: the database index, or the error reply. */
export function parseDatabaseIndex(arg: Buffer): number | Reply {
  const value = parseInt32(arg);
  if (typeof value !== 'number') return value;
  if (value < 0 || value >= DATABASE_COUNT) return error('ERR DB index is out of range');
  return value;
}

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/**
 * Redis ACLAuthenticateUser for the only user raftis has, "default": any password when no
 * requirepass is set, otherwise the password, compared in constant time as Redis does.
 */
export function authenticate(registry: ClientRegistry, username: Buffer, password: Buffer): boolean {
  if (latin1(username) !== 'default') return false;
  const required = registry.settings.requirepass;
  if (required === null) return true;
  return timingSafeEqual(sha256(password), sha256(Buffer.from(required, 'latin1')));
}

/** Runs one connection command; `spec.name` is the table name ("ping", "client|list", ...). */
export function runConnectionCommand(state: ConnectionState, spec: CommandSpec, argv: readonly Buffer[]): Reply {
  switch (spec.name) {
    case 'ping':
      if (argv.length > 2) return error("ERR wrong number of arguments for 'ping' command");
      return argv.length === 2 ? bulk(argv[1]!) : PONG;
    case 'echo':
      return bulk(argv[1]!);
    case 'select': {
      const db = parseDatabaseIndex(argv[1]!);
      if (typeof db !== 'number') return db;
      state.db = db;
      return OK;
    }
    case 'hello':
      return hello(state, argv);
    case 'auth':
      return auth(state, argv);
    case 'readonly':
      state.staleReads = true;
      return OK;
    case 'readwrite':
      state.staleReads = false;
      return OK;
    case 'unwatch':
      state.unwatchAll();
      return OK;
    case 'client|id':
      return integer(state.id);
    case 'client|getname':
      return state.name === null ? NULL : bulkText(state.name);
    case 'client|setname': {
      const invalid = setName(state, argv[2]!);
      return invalid ?? OK;
    }
    case 'client|info':
      return verbatimText(formatClientInfo(state.describe(state.nowMs())) + '\n');
    case 'client|list':
      return clientList(state, argv);
    case 'client|kill':
      return clientKill(state, argv);
    case 'client|help':
      return CLIENT_HELP;
    default:
      return error(`ERR '${spec.name}' is not handled by the connection`);
  }
}

/** Redis clientSetName: an empty name removes it; otherwise only '!' to '~' are allowed. */
function setName(state: ConnectionState, name: Buffer): Reply | null {
  if (name.length === 0) {
    state.name = null;
    return null;
  }
  for (const byte of name) {
    if (byte < 0x21 || byte > 0x7e) return error('ERR Client names cannot contain spaces, newlines or special characters.');
  }
  state.name = latin1(name);
  return null;
}

function hello(state: ConnectionState, argv: readonly Buffer[]): Reply {
  let version = 0;
  let next = 1;
  if (argv.length >= 2) {
    const parsed = parseLongLongArg(argv[next++]!);
    if (Number.isNaN(parsed)) return error('ERR Protocol version is not an integer or out of range');
    if (parsed < 2 || parsed > 3) return error('NOPROTO unsupported protocol version');
    version = parsed;
  }
  let username: Buffer | null = null;
  let password: Buffer | null = null;
  let clientName: Buffer | null = null;
  for (let index = next; index < argv.length; index++) {
    const moreArgs = argv.length - 1 - index;
    const option = lower(argv[index]!);
    if (option === 'auth' && moreArgs >= 2) {
      username = argv[index + 1]!;
      password = argv[index + 2]!;
      index += 2;
    } else if (option === 'setname' && moreArgs >= 1) {
      clientName = argv[index + 1]!;
      index++;
    } else {
      return error(`ERR Syntax error in HELLO option '${cString(argv[index]!)}'`);
    }
  }
  if (username !== null && password !== null) {
    if (!authenticate(state.registry, username, password)) return WRONGPASS;
    state.authenticated = true;
  }
  if (state.registry.settings.requirepass !== null && !state.authenticated) {
    return error('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
  }
  if (clientName !== null) {
    const invalid = setName(state, clientName);
    if (invalid !== null) return invalid;
  }
  if (version !== 0) state.protocol = version as ProtocolVersion;
  const settings = state.registry.settings;
  return {
    kind: 'map',
    value: [
      [bulkText('server'), bulkText('redis')],
      [bulkText('version'), bulkText(settings.helloVersion)],
      [bulkText('proto'), integer(state.protocol)],
      [bulkText('id'), integer(state.id)],
      [bulkText('mode'), bulkText('standalone')],
      [bulkText('role'), bulkText(settings.helloRole)],
      [bulkText('modules'), EMPTY_ARRAY],
    ],
  };
}

function auth(state: ConnectionState, argv: readonly Buffer[]): Reply {
  if (argv.length > 3) return SYNTAX_ERROR;
  let username: Buffer;
  let password: Buffer;
  if (argv.length === 2) {
    if (state.registry.settings.requirepass === null) {
      return error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
    }
    username = DEFAULT_USER;
    password = argv[1]!;
  } else {
    username = argv[1]!;
    password = argv[2]!;
  }
  if (!authenticate(state.registry, username, password)) return WRONGPASS;
  state.authenticated = true;
  return OK;
}

const DEFAULT_USER = Buffer.from('default');

/** Redis getClientTypeByName; raftis only has normal clients, but knows the other names. */
function clientType(name: Buffer): 'normal' | 'other' | null {
  switch (lower(name)) {
    case 'normal':
      return 'normal';
    case 'slave':
    case 'replica':
    case 'master':
    case 'pubsub':
      return 'other';
    default:
      return null;
  }
}

function clientList(state: ConnectionState, argv: readonly Buffer[]): Reply {
  const nowMs = state.nowMs();
  const registry = state.registry;
  let text = '';
  if (argv.length === 4 && lower(argv[2]!) === 'type') {
    const type = clientType(argv[3]!);
    if (type === null) return error(`ERR Unknown client type '${cString(argv[3]!)}'`);
    if (type === 'normal') {
      for (const client of registry.all()) text += formatClientInfo(client.describe(nowMs)) + '\n';
    }
  } else if (argv.length > 3 && lower(argv[2]!) === 'id') {
    for (let index = 3; index < argv.length; index++) {
      const id = parseLongLongArg(argv[index]!);
      if (Number.isNaN(id)) return error('ERR Invalid client ID');
      const client = registry.get(id);
      if (client !== undefined) text += formatClientInfo(client.describe(nowMs)) + '\n';
    }
  } else if (argv.length !== 2) {
    return SYNTAX_ERROR;
  } else {
    for (const client of registry.all()) text += formatClientInfo(client.describe(nowMs)) + '\n';
  }
  return verbatimText(text);
}

function clientKill(state: ConnectionState, argv: readonly Buffer[]): Reply {
  let address: string | null = null;
  let localAddress: string | null = null;
  let id = 0;
  let typeFilter: 'normal' | 'other' | null = null;
  let skipMe = true;
  if (argv.length === 3) {
    // The old form, CLIENT KILL ip:port, may kill the caller itself.
    address = cString(argv[2]!);
    skipMe = false;
  } else {
    for (let index = 2; index < argv.length; index += 2) {
      const option = lower(argv[index]!);
      const value = argv[index + 1];
      if (value === undefined) return SYNTAX_ERROR;
      if (option === 'id') {
        const parsed = parseLongLongArg(value);
        // string2ll already bounds it by LONG_MAX.
        if (Number.isNaN(parsed) || parsed < 1) return error('ERR client-id should be greater than 0');
        id = parsed;
      } else if (option === 'type') {
        typeFilter = clientType(value);
        if (typeFilter === null) return error(`ERR Unknown client type '${cString(value)}'`);
      } else if (option === 'addr') {
        address = cString(value);
      } else if (option === 'laddr') {
        localAddress = cString(value);
      } else if (option === 'user') {
        if (latin1(value) !== 'default') return error(`ERR No such user '${cString(value)}'`);
      } else if (option === 'skipme') {
        const answer = lower(value);
        if (answer === 'yes') skipMe = true;
        else if (answer === 'no') skipMe = false;
        else return SYNTAX_ERROR;
      } else {
        return SYNTAX_ERROR;
      }
    }
  }
  const nowMs = state.nowMs();
  let killed = 0;
  let killSelf = false;
  for (const client of [...state.registry.all()]) {
    const description = client.describe(nowMs);
    if (address !== null && description.addr !== address) continue;
    if (localAddress !== null && description.laddr !== localAddress) continue;
    if (typeFilter === 'other') continue;
    if (id !== 0 && client.id !== id) continue;
    if (client.id === state.id) {
      if (skipMe) continue;
      killSelf = true;
    } else {
      client.kill();
    }
    killed++;
  }
  if (killSelf) state.closeAfterReply();
  if (argv.length === 3) return killed === 0 ? error('ERR No such client') : OK;
  return integer(killed);
}

/** CLIENT HELP, exactly as Redis 7.0.15 prints it. */
const CLIENT_HELP: Reply = array([
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'CACHING (YES|NO)',
  '    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.',
  'GETREDIR',
  '    Return the client ID we are redirecting to when tracking is enabled.',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'KILL <ip:port>',
  '    Kill connection made from <ip:port>.',
  'KILL <option> <value> [<option> <value> [...]]',
  '    Kill connections. Options are:',
  '    * ADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made from the specified address',
  '    * LADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made to specified local address',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Kill connections by type.',
  '    * USER <username>',
  '      Kill connections authenticated by <username>.',
  '    * SKIPME (YES|NO)',
  '      Skip killing current connection (default: yes).',
  'LIST [options ...]',
  '    Return information about client connections. Options:',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Return clients of specified type.',
  'UNPAUSE',
  '    Stop the current client pause, resuming traffic.',
  'PAUSE <timeout> [WRITE|ALL]',
  '    Suspend all, or just write, clients for <timeout> milliseconds.',
  'REPLY (ON|OFF|SKIP)',
  '    Control the replies sent to the current connection.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'UNBLOCK <clientid> [TIMEOUT|ERROR]',
  '    Unblock the specified blocked client.',
  'TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]',
  '         [OPTIN] [OPTOUT] [NOLOOP]',
  '    Control server assisted client side caching.',
  'TRACKINGINFO',
  '    Report tracking status for the current connection.',
  'NO-EVICT (ON|OFF)',
  '    Protect current client connection from eviction.',
  'HELP',
  '    Prints this help.',
].map(simple));
