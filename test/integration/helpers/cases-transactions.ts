// Differential cases: MULTI, EXEC, DISCARD, WATCH and UNWATCH. Queuing errors (EXECABORT),
// runtime errors inside EXEC, connection commands inside a transaction (SELECT, HELLO, CLIENT),
// RESP3 transactions, and WATCH decided against other connections' writes, the client's own
// writes, other databases and FLUSHALL.
import type { Command, DifferentialCase } from './differential.js';

const c = (...args: string[]): Command => args;

export const TRANSACTION_CASES: readonly DifferentialCase[] = [
  { name: 'MULTI/EXEC', commands: [c('MULTI'), c('SET', 'a', '1'), c('INCR', 'a'), c('GET', 'a'), c('MGET', 'a', 'b'), c('EXEC'), c('GET', 'a')] },
  { name: 'empty transaction', commands: [c('MULTI'), c('EXEC')] },
  { name: 'nested MULTI does not abort', commands: [c('MULTI'), c('MULTI'), c('SET', 'a', '1'), c('EXEC'), c('GET', 'a')] },
  { name: 'EXEC and DISCARD without MULTI', commands: [c('EXEC'), c('DISCARD'), c('UNWATCH')] },
  { name: 'EXEC with arguments aborts the transaction, in or out of MULTI', commands: [c('MULTI'), c('SET', 'a', '1'), c('EXEC', 'now'), c('GET', 'a'), c('EXEC', 'x', 'y'), c('EXEC')] },
  { name: 'EXECABORT after an arity error', commands: [c('MULTI'), c('SET', 'a', '1'), c('SET', 'b'), c('SET', 'c', '3'), c('EXEC'), c('MGET', 'a', 'b', 'c')] },
  { name: 'EXECABORT after an unknown command', commands: [c('MULTI'), c('FOO'), c('SET', 'a', '1'), c('CLIENT', 'NOPE'), c('EXEC'), c('EXEC'), c('GET', 'a')] },
  { name: 'EXECABORT after a command not allowed in MULTI', commands: [c('MULTI'), c('SHUTDOWN'), c('SET', 'a', '1'), c('EXEC'), c('GET', 'a')] },
  { name: 'DISCARD', commands: [c('MULTI'), c('SET', 'a', '1'), c('DISCARD'), c('GET', 'a'), c('DISCARD')] },
  { name: 'WATCH inside MULTI is refused without aborting', commands: [c('MULTI'), c('WATCH', 'a'), c('SET', 'a', '1'), c('EXEC')] },
  { name: 'runtime errors are reported per command', commands: [c('SET', 'a', 'x'), c('MULTI'), c('INCR', 'a'), c('SET', 'b', '1'), c('INCRBY', 'b', 'nope'), c('GET', 'b'), c('EXEC')] },
  { name: 'SELECT inside MULTI moves the connection', commands: [c('MULTI'), c('SELECT', '1'), c('SET', 'a', 'one'), c('GET', 'a'), c('EXEC'), c('GET', 'a'), c('SELECT', '0'), c('GET', 'a')] },
  { name: 'invalid SELECT inside MULTI', commands: [c('MULTI'), c('SELECT', '99'), c('SELECT', 'x'), c('SET', 'a', '1'), c('EXEC'), c('GET', 'a')] },
  {
    name: 'connection commands inside MULTI run at EXEC',
    commands: [
      c('MULTI'), c('PING'), c('ECHO', 'x'), c('CLIENT', 'SETNAME', 'inside'), c('CLIENT', 'GETNAME'), c('CLIENT', 'ID'), c('UNWATCH'), c('AUTH', 'x'),
      c('READONLY'), c('TIME'), c('CLIENT', 'GETNAME'), c('EXEC'), c('CLIENT', 'GETNAME'),
    ],
  },
  {
    name: 'HELLO 3 inside MULTI switches the rest of the EXEC reply',
    commands: [c('MULTI'), c('GET', 'missing'), c('HELLO', '3'), c('GET', 'missing'), c('MGET', 'missing'), c('EXEC'), c('GET', 'missing')],
  },
  { name: 'RESET and QUIT inside MULTI run at once', commands: [c('MULTI'), c('SET', 'a', '1'), c('RESET'), c('EXEC'), c('MULTI'), c('SET', 'a', '2'), c('QUIT'), c('GET', 'a')] },
  { name: 'RESP3 transaction and aborted transaction', commands: [c('HELLO', '3'), c('MULTI'), c('SET', 'a', '1'), c('GET', 'a'), c('EXEC'), c('MULTI'), c('GET'), c('EXEC')] },
  {
    name: 'WATCH: another client writes, EXEC fails (RESP2 and RESP3)',
    clients: 2,
    steps: [
      { client: 0, commands: [c('WATCH', 'a')] },
      { client: 1, commands: [c('SET', 'a', '1')] },
      { client: 0, commands: [c('MULTI'), c('SET', 'a', '2'), c('EXEC'), c('GET', 'a')] },
      { client: 0, commands: [c('HELLO', '3'), c('WATCH', 'a')] },
      { client: 1, commands: [c('INCR', 'a')] },
      { client: 0, commands: [c('MULTI'), c('INCR', 'a'), c('EXEC'), c('GET', 'a')] },
    ],
  },
  {
    name: 'WATCH: no write, or only reads, EXEC runs',
    clients: 2,
    steps: [
      { client: 0, commands: [c('SET', 'a', '1'), c('WATCH', 'a', 'b')] },
      { client: 1, commands: [c('GET', 'a'), c('EXISTS', 'b'), c('TTL', 'a')] },
      { client: 0, commands: [c('MULTI'), c('INCR', 'a'), c('EXEC')] },
    ],
  },
  {
    name: 'WATCH: writing the same value still counts as a change',
    clients: 2,
    steps: [
      { client: 0, commands: [c('SET', 'a', '1'), c('WATCH', 'a')] },
      { client: 1, commands: [c('SET', 'a', '1')] },
      { client: 0, commands: [c('MULTI'), c('GET', 'a'), c('EXEC')] },
    ],
  },
  {
    name: 'WATCH: a missing key, then created',
    clients: 2,
    steps: [
      { client: 0, commands: [c('WATCH', 'a')] },
      { client: 1, commands: [c('SET', 'a', 'x')] },
      { client: 0, commands: [c('MULTI'), c('GET', 'a'), c('EXEC')] },
    ],
  },
  {
    name: 'WATCH: deleting a missing key is no change',
    clients: 2,
    steps: [
      { client: 0, commands: [c('WATCH', 'a')] },
      { client: 1, commands: [c('DEL', 'a'), c('EXPIRE', 'a', '10'), c('PERSIST', 'a')] },
      { client: 0, commands: [c('MULTI'), c('SET', 'a', '1'), c('EXEC')] },
    ],
  },
  {
    name: 'WATCH: PERSIST and EXPIRE of a live key are changes',
    clients: 2,
    steps: [
      { client: 0, commands: [c('SET', 'a', '1', 'EX', '1000'), c('WATCH', 'a')] },
      { client: 1, commands: [c('PERSIST', 'a')] },
      { client: 0, commands: [c('MULTI'), c('GET', 'a'), c('EXEC'), c('WATCH', 'a')] },
      { client: 1, commands: [c('EXPIRE', 'a', '500')] },
      { client: 0, commands: [c('MULTI'), c('GET', 'a'), c('EXEC')] },
    ],
  },
  {
    name: 'WATCH: FLUSHALL touches watched keys that exist',
    clients: 2,
    steps: [
      { client: 0, commands: [c('SET', 'a', '1'), c('WATCH', 'a')] },
      { client: 1, commands: [c('FLUSHALL')] },
      { client: 0, commands: [c('MULTI'), c('GET', 'a'), c('EXEC')] },
    ],
  },
  {
    name: 'WATCH: FLUSHALL does not touch watched keys that do not exist',
    clients: 2,
    steps: [
      { client: 0, commands: [c('SET', 'other', '1'), c('WATCH', 'a')] },
      { client: 1, commands: [c('FLUSHALL')] },
      { client: 0, commands: [c('MULTI'), c('GET', 'a'), c('EXEC')] },
    ],
  },
  {
    name: 'WATCH is per database',
    clients: 2,
    steps: [
      { client: 0, commands: [c('SELECT', '1'), c('WATCH', 'a'), c('SELECT', '0')] },
      { client: 1, commands: [c('SET', 'a', 'db0')] },
      { client: 0, commands: [c('MULTI'), c('PING'), c('EXEC'), c('SELECT', '1'), c('WATCH', 'a')] },
      { client: 1, commands: [c('SELECT', '1'), c('SET', 'a', 'db1')] },
      { client: 0, commands: [c('MULTI'), c('PING'), c('EXEC')] },
    ],
  },
  {
    name: 'WATCH: the client\'s own write, pipelined, counts',
    commands: [c('WATCH', 'a'), c('SET', 'a', '1'), c('MULTI'), c('GET', 'a'), c('EXEC'), c('SET', 'b', '1'), c('WATCH', 'b'), c('MULTI'), c('INCR', 'b'), c('EXEC')],
  },
  {
    name: 'UNWATCH, DISCARD, EXEC and EXECABORT forget the watches',
    clients: 2,
    steps: [
      { client: 0, commands: [c('WATCH', 'a'), c('UNWATCH')] },
      { client: 1, commands: [c('SET', 'a', '1')] },
      { client: 0, commands: [c('MULTI'), c('PING'), c('EXEC'), c('WATCH', 'a'), c('MULTI'), c('DISCARD')] },
      { client: 1, commands: [c('SET', 'a', '2')] },
      { client: 0, commands: [c('MULTI'), c('PING'), c('EXEC'), c('WATCH', 'a'), c('MULTI'), c('GET'), c('EXEC')] },
      { client: 1, commands: [c('SET', 'a', '3')] },
      { client: 0, commands: [c('MULTI'), c('GET', 'a'), c('EXEC')] },
    ],
  },
  { name: 'RESET forgets the watches', clients: 2, steps: [{ client: 0, commands: [c('WATCH', 'a'), c('RESET')] }, { client: 1, commands: [c('SET', 'a', '1')] }, { client: 0, commands: [c('MULTI'), c('GET', 'a'), c('EXEC')] }] },
];
