// COMMAND and its subcommands, generated from the command table in the shapes Redis 7 sends:
// flags and ACL categories are sets of simple strings, tips a set of bulk strings, key specs a set
// of maps, subcommands an array (an empty set when there are none), docs a map of maps. The order
// of fields inside each map is Redis's (server.c addReplyCommandInfo, addReplyCommandDocs).
//
// Redis lists commands in the order of its hash table, which no client relies on; we list them in
// table order (documented in docs/compatibility.md).

import type { Reply } from '../resp/reply.js';
import { globMatch } from '../state/glob.js';
import { COMMANDS, lookupFullName, lookupCommand, lookupSubcommand, arityAccepts } from './table.js';
import type { CommandArgument, CommandSpec, KeySpec } from './types.js';

const bulk = (text: string): Reply => ({ kind: 'bulk', value: Buffer.from(text, 'latin1') });
const simple = (text: string): Reply => ({ kind: 'simple', value: text });
const integer = (value: number): Reply => ({ kind: 'integer', value });
const error = (text: string): Reply => ({ kind: 'error', value: text });
const simpleSet = (items: readonly string[]): Reply => ({ kind: 'set', value: items.map(simple) });

function keySpecReply(spec: KeySpec): Reply {
  const fields: [Reply, Reply][] = [];
  if (spec.notes !== undefined) fields.push([bulk('notes'), bulk(spec.notes)]);
  fields.push([bulk('flags'), simpleSet(spec.flags)]);
  const begin = spec.beginSearch;
  let beginSpec: [Reply, Reply][];
  switch (begin.type) {
    case 'index': beginSpec = [[bulk('index'), integer(begin.index)]]; break;
    case 'keyword': beginSpec = [[bulk('keyword'), bulk(begin.keyword)], [bulk('startfrom'), integer(begin.startfrom)]]; break;
    case 'unknown': beginSpec = []; break;
    default: { const never: never = begin; throw new Error(`unknown begin_search ${JSON.stringify(never)}`); }
  }
  fields.push([bulk('begin_search'), { kind: 'map', value: [[bulk('type'), bulk(begin.type)], [bulk('spec'), { kind: 'map', value: beginSpec }]] }]);
  const find = spec.findKeys;
  let findSpec: [Reply, Reply][];
  switch (find.type) {
    case 'range':
      findSpec = [[bulk('lastkey'), integer(find.lastkey)], [bulk('keystep'), integer(find.keystep)], [bulk('limit'), integer(find.limit)]];
      break;
    case 'keynum':
      findSpec = [[bulk('keynumidx'), integer(find.keynumidx)], [bulk('firstkey'), integer(find.firstkey)], [bulk('keystep'), integer(find.keystep)]];
      break;
    case 'unknown': findSpec = []; break;
    default: { const never: never = find; throw new Error(`unknown find_keys ${JSON.stringify(never)}`); }
  }
  fields.push([bulk('find_keys'), { kind: 'map', value: [[bulk('type'), bulk(find.type)], [bulk('spec'), { kind: 'map', value: findSpec }]] }]);
  return { kind: 'map', value: fields };
}

/** One command's COMMAND INFO entry (a 10-element array). */
export function commandInfoReply(spec: CommandSpec): Reply {
  const subs = spec.subcommands;
  return {
    kind: 'array',
    value: [
      bulk(spec.name),
      integer(spec.arity),
      simpleSet(spec.flags),
      integer(spec.firstKey),
      integer(spec.lastKey),
      integer(spec.keyStep),
      simpleSet(spec.aclCategories),
      { kind: 'set', value: (spec.tips ?? []).map(bulk) },
      { kind: 'set', value: (spec.keySpecs ?? []).map(keySpecReply) },
      subs === undefined || subs.length === 0
        ? { kind: 'set', value: [] }
        : { kind: 'array', value: subs.map(commandInfoReply) },
    ],
  };
}

function argumentReply(arg: CommandArgument): Reply {
  const fields: [Reply, Reply][] = [[bulk('name'), bulk(arg.name)], [bulk('type'), bulk(arg.type)]];
  if (arg.displayText !== undefined) fields.push([bulk('display_text'), bulk(arg.displayText)]);
  if (arg.keySpecIndex !== undefined) fields.push([bulk('key_spec_index'), integer(arg.keySpecIndex)]);
  if (arg.token !== undefined) fields.push([bulk('token'), bulk(arg.token)]);
  if (arg.summary !== undefined) fields.push([bulk('summary'), bulk(arg.summary)]);
  if (arg.since !== undefined) fields.push([bulk('since'), bulk(arg.since)]);
  if (arg.deprecatedSince !== undefined) fields.push([bulk('deprecated_since'), bulk(arg.deprecatedSince)]);
  if (arg.flags !== undefined && arg.flags.length > 0) fields.push([bulk('flags'), simpleSet(arg.flags)]);
  if (arg.value !== undefined) fields.push([bulk('value'), bulk(arg.value)]);
  if (arg.arguments !== undefined) fields.push([bulk('arguments'), { kind: 'array', value: arg.arguments.map(argumentReply) }]);
  return { kind: 'map', value: fields };
}

/** One command's COMMAND DOCS map (without its name). */
export function commandDocsReply(spec: CommandSpec): Reply {
  const fields: [Reply, Reply][] = [
    [bulk('summary'), bulk(spec.summary)],
    [bulk('since'), bulk(spec.since)],
    [bulk('group'), bulk(spec.group)],
  ];
  if (spec.complexity !== undefined) fields.push([bulk('complexity'), bulk(spec.complexity)]);
  if (spec.docFlags !== undefined && spec.docFlags.length > 0) fields.push([bulk('doc_flags'), simpleSet(spec.docFlags)]);
  if (spec.deprecatedSince !== undefined) fields.push([bulk('deprecated_since'), bulk(spec.deprecatedSince)]);
  if (spec.replacedBy !== undefined) fields.push([bulk('replaced_by'), bulk(spec.replacedBy)]);
  if (spec.history !== undefined && spec.history.length > 0) {
    fields.push([bulk('history'), {
      kind: 'set',
      value: spec.history.map(([version, text]) => ({ kind: 'array', value: [bulk(version), bulk(text)] })),
    }]);
  }
  if (spec.arguments !== undefined && spec.arguments.length > 0) {
    fields.push([bulk('arguments'), { kind: 'array', value: spec.arguments.map(argumentReply) }]);
  }
  if (spec.subcommands !== undefined && spec.subcommands.length > 0) {
    fields.push([bulk('subcommands'), {
      kind: 'map',
      value: spec.subcommands.map((sub): [Reply, Reply] => [bulk(sub.name), commandDocsReply(sub)]),
    }]);
  }
  return { kind: 'map', value: fields };
}

/** `COMMAND` with no subcommand: every top-level command's info. */
export function commandAllReply(): Reply {
  return { kind: 'array', value: COMMANDS.map(commandInfoReply) };
}

/** `COMMAND COUNT`: top-level commands only, as in Redis. */
export function commandCountReply(): Reply {
  return integer(COMMANDS.length);
}

/** `COMMAND INFO [name ...]`: a null for each unknown name; every command when none is named. */
export function commandInfoNamesReply(names: readonly Buffer[]): Reply {
  if (names.length === 0) return commandAllReply();
  return {
    kind: 'array',
    value: names.map((name) => {
      const spec = lookupFullName(name.toString('latin1').toLowerCase());
      return spec === undefined ? { kind: 'null' } : commandInfoReply(spec);
    }),
  };
}

/** `COMMAND DOCS [name ...]`: unknown names are left out; every command when none is named. */
export function commandDocsNamesReply(names: readonly Buffer[]): Reply {
  const specs = names.length === 0
    ? COMMANDS
    : names.flatMap((name) => lookupFullName(name.toString('latin1').toLowerCase()) ?? []);
  return { kind: 'map', value: specs.map((spec): [Reply, Reply] => [bulk(spec.name), commandDocsReply(spec)]) };
}

function allFullNames(): CommandSpec[] {
  const out: CommandSpec[] = [];
  for (const spec of COMMANDS) {
    out.push(spec);
    for (const sub of spec.subcommands ?? []) out.push(sub);
  }
  return out;
}

/** `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`, subcommands included. */
export function commandListReply(args: readonly Buffer[]): Reply {
  let filter: (spec: CommandSpec) => boolean = () => true;
  if (args.length > 0) {
    const by = args[1]?.toString('latin1').toLowerCase();
    if (args.length !== 3 || args[0]!.toString('latin1').toLowerCase() !== 'filterby') return error('ERR syntax error');
    const value = args[2]!;
    if (by === 'module') {
      filter = () => false; // raftis has no modules.
    } else if (by === 'aclcat') {
      const category = `@${value.toString('latin1').toLowerCase()}`;
      filter = (spec) => spec.aclCategories.includes(category);
    } else if (by === 'pattern') {
      filter = (spec) => globMatch(value, Buffer.from(spec.name, 'latin1'), true);
    } else {
      return error('ERR syntax error');
    }
  }
  return { kind: 'array', value: allFullNames().filter(filter).map((spec) => bulk(spec.name)) };
}

const COMMAND_HELP = [
  'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  '(no subcommand)',
  '    Return details about all Redis commands.',
  'COUNT',
  '    Return the total number of commands in this Redis server.',
  'LIST',
  '    Return a list of all commands in this Redis server.',
  'INFO [<command-name> ...]',
  '    Return details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'DOCS [<command-name> ...]',
  '    Return documentation details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'GETKEYS <full-command>',
  '    Return the keys from a full Redis command.',
  'GETKEYSANDFLAGS <full-command>',
  '    Return the keys and the access flags from a full Redis command.',
  'HELP',
  '    Prints this help.',
];

/** `COMMAND HELP`. */
export function commandHelpReply(): Reply {
  return { kind: 'array', value: COMMAND_HELP.map(simple) };
}

/** The key positions of a full command line, found through its key specs. */
function keysOf(spec: CommandSpec, argv: readonly Buffer[]): { index: number; flags: readonly string[] }[] {
  const out: { index: number; flags: readonly string[] }[] = [];
  for (const keySpec of spec.keySpecs ?? []) {
    let first: number;
    const begin = keySpec.beginSearch;
    if (begin.type === 'index') {
      first = begin.index;
    } else {
      continue; // No command of ours searches for keys by keyword.
    }
    const find = keySpec.findKeys;
    if (find.type !== 'range') continue;
    const last = find.lastkey >= 0 ? first + find.lastkey : argv.length + find.lastkey;
    for (let index = first; index <= last && index < argv.length; index += find.keystep) {
      out.push({ index, flags: keySpec.flags.filter((flag) => flag !== 'variable_flags') });
    }
  }
  return out;
}

/** SET's key flags depend on its arguments (Redis setGetKeys): with GET it also reads. */
function setKeyFlags(argv: readonly Buffer[]): readonly string[] {
  const hasGet = argv.slice(3).some((arg) => arg.toString('latin1').toLowerCase() === 'get');
  return hasGet ? ['RW', 'access', 'update'] : ['OW', 'update'];
}

/** `COMMAND GETKEYS` / `COMMAND GETKEYSANDFLAGS <full command>`. */
export function commandGetKeysReply(command: readonly Buffer[], withFlags: boolean): Reply {
  const nameArg = command[0];
  if (nameArg === undefined) return error("ERR wrong number of arguments for 'command|getkeys' command");
  const name = nameArg.toString('latin1').toLowerCase();
  let spec = lookupCommand(name);
  if (spec?.subcommands !== undefined && command.length >= 2) {
    spec = lookupSubcommand(name, command[1]!.toString('latin1').toLowerCase());
  }
  if (spec === undefined) return error('ERR Invalid command specified');
  if ((spec.keySpecs ?? []).length === 0) return error('ERR The command has no key arguments');
  if (!arityAccepts(spec.arity, command.length)) return error('ERR Invalid number of arguments specified for command');
  const keys = keysOf(spec, command);
  if (keys.length === 0) return error('ERR Invalid arguments specified for command');
  return {
    kind: 'array',
    value: keys.map(({ index, flags }) => {
      const key: Reply = { kind: 'bulk', value: command[index]! };
      if (!withFlags) return key;
      const keyFlags = spec.name === 'set' ? setKeyFlags(command) : flags;
      return { kind: 'array', value: [key, simpleSet(keyFlags)] };
    }),
  };
}

/**
 * The whole COMMAND family for a connection or the server to call: `argv` is the full request,
 * `COMMAND` included, already checked for arity by resolveCommand.
 */
export function commandCommand(argv: readonly Buffer[]): Reply {
  if (argv.length === 1) return commandAllReply();
  const sub = argv[1]!.toString('latin1').toLowerCase();
  const rest = argv.slice(2);
  switch (sub) {
    case 'count': return commandCountReply();
    case 'info': return commandInfoNamesReply(rest);
    case 'docs': return commandDocsNamesReply(rest);
    case 'list': return commandListReply(rest);
    case 'getkeys': return commandGetKeysReply(rest, false);
    case 'getkeysandflags': return commandGetKeysReply(rest, true);
    case 'help': return commandHelpReply();
    default: return error(`ERR unknown subcommand '${argv[1]!.toString('latin1').slice(0, 128)}'. Try COMMAND HELP.`);
  }
}
