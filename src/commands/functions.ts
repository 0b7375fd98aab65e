// FUNCTION FLUSH, LIST, STATS and HELP as Redis 7 answers them when no function is loaded (raftis
// has no scripting), with Redis's argument errors; FUNCTION LOAD gets the scripting error. Routed
// `server`: the node calls functionCommand with the full request, already resolved by the table.

import type { Reply } from '../resp/reply.js';
import { ERR_SYNTAX, NULL_BULK, OK, bulkText, error, integer, isWord } from './parse.js';
import { SCRIPTING_UNSUPPORTED_ERROR } from './table.js';

const FUNCTION_HELP = [
  'FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'LOAD [REPLACE] <FUNCTION CODE>',
  '    Create a new library with the given library name and code.',
  'DELETE <LIBRARY NAME>',
  '    Delete the given library.',
  'LIST [LIBRARYNAME PATTERN] [WITHCODE]',
  '    Return general information on all the libraries:',
  '    * Library name',
  '    * The engine used to run the Library',
  '    * Library description',
  '    * Functions list',
  '    * Library code (if WITHCODE is given)',
  '    It also possible to get only function that matches a pattern using LIBRARYNAME argument.',
  'STATS',
  '    Return information about the current function running:',
  '    * Function name',
  '    * Command used to run the function',
  '    * Duration in MS that the function is running',
  '    If no function is running, return nil',
  '    In addition, returns a list of available engines.',
  'KILL',
  '    Kill the current running function.',
  'FLUSH [ASYNC|SYNC]',
  '    Delete all the libraries.',
  '    When called without the optional mode argument, the behavior is determined by the',
  '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
  '    * ASYNC: Asynchronously flush the libraries.',
  '    * SYNC: Synchronously flush the libraries.',
  'DUMP',
  '    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command',
  'RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]',
  '    Restore the libraries represented by the given payload, it is possible to give a restore policy to',
  '    control how to handle existing libraries (default APPEND):',
  '    * FLUSH: delete all existing libraries.',
  '    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.',
  '    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old',
  '      libraries with the new libraries (notice that even on this option there is a chance of failure',
  '      in case of functions name collision with another library).',
  'HELP',
  '    Prints this help.',
];

/** Like C's "%s" on an sds: stops at the first NUL byte. */
function cString(arg: Buffer, maxBytes = Infinity): string {
  const nul = arg.indexOf(0);
  const end = Math.min(nul < 0 ? arg.length : nul, maxBytes);
  return arg.toString('latin1', 0, end);
}

/** Redis addReplySubcommandSyntaxError. */
function subcommandSyntaxError(argv: readonly Buffer[]): Reply {
  const command = cString(argv[0]!).toUpperCase();
  return error(`ERR unknown subcommand or wrong number of arguments for '${cString(argv[1]!, 128)}'. Try ${command} HELP.`);
}

function functionList(argv: readonly Buffer[]): Reply {
  let withCode = false;
  let libraryName = false;
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!withCode && isWord(arg, 'withcode')) {
      withCode = true;
      continue;
    }
    if (!libraryName && isWord(arg, 'libraryname')) {
      if (i >= argv.length - 1) return error('ERR library name argument was not given');
      libraryName = true;
      i++;
      continue;
    }
    return error(`ERR Unknown argument ${cString(arg)}`);
  }
  return { kind: 'array', value: [] };
}

function functionStats(): Reply {
  return {
    kind: 'map',
    value: [
      [bulkText('running_script'), NULL_BULK],
      [bulkText('engines'), {
        kind: 'map',
        value: [[bulkText('LUA'), {
          kind: 'map',
          value: [[bulkText('libraries_count'), integer(0)], [bulkText('functions_count'), integer(0)]],
        }]],
      }],
    ],
  };
}

function functionFlush(argv: readonly Buffer[]): Reply {
  if (argv.length > 3) return subcommandSyntaxError(argv);
  if (argv.length === 3 && !isWord(argv[2]!, 'sync') && !isWord(argv[2]!, 'async')) {
    return error('ERR FUNCTION FLUSH only supports SYNC|ASYNC option');
  }
  return OK;
}

/** FUNCTION <subcommand> ...: `argv` is the whole request, FUNCTION included. */
export function functionCommand(argv: readonly Buffer[]): Reply {
  const sub = argv[1];
  if (sub === undefined) return error("ERR wrong number of arguments for 'function' command");
  if (isWord(sub, 'list')) return functionList(argv);
  if (isWord(sub, 'stats')) return functionStats();
  if (isWord(sub, 'flush')) return functionFlush(argv);
  if (isWord(sub, 'help')) return { kind: 'array', value: FUNCTION_HELP.map((line) => ({ kind: 'simple', value: line })) };
  if (isWord(sub, 'load')) return error(SCRIPTING_UNSUPPORTED_ERROR);
  return ERR_SYNTAX;
}
