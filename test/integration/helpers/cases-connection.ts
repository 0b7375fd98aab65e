// Differential cases: the commands a connection answers itself and the checks made before any
// command runs: unknown commands and subcommands, arity, PING, ECHO, SELECT, HELLO (RESP2 and
// RESP3), AUTH and NOAUTH with requirepass, CLIENT, QUIT, RESET and maxclients.
import type { Command, DifferentialCase } from './differential.js';

const c = (...args: string[]): Command => args;

export const CONNECTION_CASES: readonly DifferentialCase[] = [
  { name: 'PING and ECHO', commands: [c('PING'), c('ping', 'hello'), c('PiNg'), c('PING', 'a', 'b'), c('ECHO'), c('ECHO', 'x', 'y'), c('ECHO', ''), c('ECHO', 'bin\x00\r\n\xff')] },
  {
    name: 'unknown commands quote at most 128 bytes of arguments',
    commands: [
      c('FOO'), c('FOO', 'a', 'b'), c('FOO', 'x'.repeat(200)), c('foo', ...Array.from({ length: 20 }, (_, index) => `argument${index}`)),
      c('FOO', 'a\r\nb', 'c\nd'), c('F\x00OO', 'x\x00y'), c('x'.repeat(300)), c('', ''), c('\xe9t\xe9', '\xff'),
    ],
  },
  {
    name: 'unknown subcommands and container arity',
    commands: [c('CLIENT'), c('CLIENT', 'FOO'), c('client', 'nope', 'x'), c('CLIENT', 'a\r\nb'), c('CONFIG', 'NOPE'), c('COMMAND', 'bogus'), c('CLIENT', 'x'.repeat(200))],
  },
  {
    name: 'arity errors',
    commands: [c('GET'), c('GET', 'a', 'b'), c('SET', 'a'), c('CLIENT', 'ID', 'x'), c('CLIENT', 'SETNAME'), c('CLIENT', 'GETNAME', 'x'), c('SELECT'), c('SELECT', '1', '2'), c('MULTI', 'x'), c('EXEC', 'x'), c('WATCH'), c('MSET', 'a'), c('MSET', 'a', 'b', 'c')],
  },
  {
    name: 'SELECT',
    commands: [
      c('SELECT', '01'), c('SELECT', '99999999999'), c('SELECT', '99999999999999999999'), c('SELECT', '-1'), c('SELECT', '16'), c('SELECT', 'x'), c('SELECT', ''), c('SELECT', ' 1'),
      c('SELECT', '15'), c('SET', 'k', 'in15'), c('SELECT', '0'), c('GET', 'k'), c('SELECT', '15'), c('GET', 'k'), c('DBSIZE'),
    ],
  },
  {
    name: 'HELLO errors and options',
    commands: [
      c('HELLO', '1'), c('HELLO', '4'), c('HELLO', 'x'), c('HELLO', '03'), c('HELLO', '-2'), c('HELLO', '3', 'FOO'), c('HELLO', '3', 'AUTH', 'x'),
      c('HELLO', '3', 'SETNAME'), c('HELLO', 'SETNAME', 'x'), c('HELLO', '3', 'SETNAME', 'a b'), c('HELLO', '2', 'AUTH', 'nobody', 'x'),
      c('HELLO', '2', 'AUTH', 'default', 'anything', 'SETNAME', 'named'), c('CLIENT', 'GETNAME'), c('HELLO'),
    ],
  },
  {
    name: 'HELLO 3 switches to RESP3 replies',
    commands: [
      c('HELLO', '3'), c('GET', 'missing'), c('SET', 'a', '1'), c('MGET', 'a', 'missing'), c('INCRBYFLOAT', 'f', '1.5'), c('CLIENT', 'GETNAME'),
      c('CLIENT', 'INFO'), c('CLIENT', 'LIST', 'ID', '999999'), c('EXISTS', 'a'), c('LCS', 'a', 'a', 'IDX'), c('HELLO'), c('HELLO', '2'), c('GET', 'missing'),
    ],
  },
  {
    name: 'AUTH without a password configured',
    commands: [c('AUTH', 'x'), c('AUTH', 'default', 'x'), c('AUTH', 'other', 'x'), c('AUTH', 'a', 'b', 'c'), c('PING')],
  },
  {
    name: 'NOAUTH before AUTH, but unknown commands and arity are checked first',
    options: { requirepass: 'sekret' },
    commands: [
      c('PING'), c('GET', 'a'), c('FOO', 'x'), c('GET'), c('CLIENT', 'ID'), c('CLIENT', 'NOPE'), c('MULTI'), c('SELECT', '1'), c('HELLO'), c('HELLO', '3'),
      c('HELLO', '3', 'AUTH', 'default', 'bad'), c('AUTH', 'bad'), c('AUTH', 'default', 'bad'), c('AUTH', 'nobody', 'sekret'), c('PING'),
      c('AUTH', 'sekret'), c('PING'), c('AUTH', 'bad'), c('PING'),
    ],
  },
  {
    name: 'HELLO AUTH authenticates, RESET forgets it',
    options: { requirepass: 'sekret' },
    commands: [c('HELLO', '3', 'AUTH', 'default', 'sekret', 'SETNAME', 'me'), c('CLIENT', 'GETNAME'), c('SET', 'a', '1'), c('RESET'), c('GET', 'a'), c('CLIENT', 'GETNAME'), c('AUTH', 'default', 'sekret'), c('GET', 'a')],
  },
  {
    name: 'QUIT before AUTH',
    options: { requirepass: 'sekret' },
    commands: [c('GET', 'a'), c('QUIT'), c('PING')],
  },
  {
    name: 'CLIENT SETNAME, GETNAME, ID, INFO, HELP',
    commands: [
      c('CLIENT', 'GETNAME'), c('CLIENT', 'SETNAME', 'first'), c('CLIENT', 'GETNAME'), c('CLIENT', 'SETNAME', 'a b'), c('CLIENT', 'SETNAME', 'caf\xe9'),
      c('CLIENT', 'SETNAME', 'new\nline'), c('CLIENT', 'GETNAME'), c('CLIENT', 'SETNAME', ''), c('CLIENT', 'GETNAME'), c('CLIENT', 'SETNAME', '!~'),
      c('client', 'id'), c('CLIENT', 'INFO'), c('CLIENT', 'HELP'), c('CLIENT', 'help', 'x'),
    ],
  },
  {
    name: 'CLIENT LIST options',
    commands: [
      c('CLIENT', 'SETNAME', 'lister'), c('SELECT', '3'), c('CLIENT', 'LIST'), c('CLIENT', 'LIST', 'TYPE', 'normal'), c('CLIENT', 'LIST', 'TYPE', 'PUBSUB'),
      c('CLIENT', 'LIST', 'TYPE', 'replica'), c('CLIENT', 'LIST', 'TYPE', 'foo'), c('CLIENT', 'LIST', 'TYPE'), c('CLIENT', 'LIST', 'ID', 'x'),
      c('CLIENT', 'LIST', 'ID', '999999', '999998'), c('CLIENT', 'LIST', 'ID'), c('CLIENT', 'LIST', 'FOO', 'bar'),
    ],
  },
  {
    name: 'CLIENT KILL errors and filters',
    commands: [
      c('CLIENT', 'KILL', '1.2.3.4:5'), c('CLIENT', 'KILL', 'ID', '999999'), c('CLIENT', 'KILL', 'ID', 'x'), c('CLIENT', 'KILL', 'ID', '0'), c('CLIENT', 'KILL', 'ID', '-3'),
      c('CLIENT', 'KILL', 'FOO', 'BAR'), c('CLIENT', 'KILL', 'TYPE', 'foo'), c('CLIENT', 'KILL', 'TYPE', 'pubsub'), c('CLIENT', 'KILL', 'USER', 'nobody'),
      c('CLIENT', 'KILL', 'USER', 'default'), c('CLIENT', 'KILL', 'SKIPME', 'maybe'), c('CLIENT', 'KILL', 'ID', '5', 'SKIPME'), c('CLIENT', 'KILL', 'ADDR', '1.2.3.4:5', 'SKIPME', 'no'),
      c('CLIENT', 'KILL', 'LADDR', 'nowhere:0'), c('PING'),
    ],
  },
  {
    name: 'CLIENT LIST and KILL across connections',
    clients: 3,
    steps: [
      { client: 0, commands: [c('CLIENT', 'SETNAME', 'zero'), c('SELECT', '2')] },
      { client: 1, commands: [c('CLIENT', 'SETNAME', 'one'), c('MULTI'), c('PING')] },
      { client: 2, commands: [c('CLIENT', 'LIST'), c('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')] },
      { client: 2, commands: [c('CLIENT', 'LIST')] },
      { client: 2, commands: [c('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'no'), c('PING')] },
    ],
  },
  {
    name: 'RESET clears the connection state',
    commands: [
      c('SELECT', '5'), c('SET', 'k', 'five'), c('CLIENT', 'SETNAME', 'before'), c('HELLO', '3'), c('MULTI'), c('SET', 'k', 'x'), c('RESET'),
      c('CLIENT', 'GETNAME'), c('GET', 'k'), c('EXEC'), c('SELECT', '5'), c('GET', 'k'), c('RESET', 'x'),
    ],
  },
  { name: 'READONLY and READWRITE', commands: [c('READONLY'), c('GET', 'a'), c('READWRITE'), c('READONLY', 'x')] },
  { name: 'TIME', commands: [c('TIME'), c('TIME', 'x')] },
  {
    name: 'maxclients refuses the connection beyond the limit',
    options: { maxclients: 2 },
    clients: 3,
    steps: [
      { client: 0, commands: [c('PING')] },
      { client: 1, commands: [c('PING')] },
      { client: 2, raw: 'PING\r\n', replies: 1 },
      { client: 0, commands: [c('CLIENT', 'SETNAME', 'still-here')] },
    ],
  },
];
