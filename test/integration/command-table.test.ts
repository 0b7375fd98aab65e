// Proves, through a real 3-node cluster (one `raftis server` process per node), that one command
// table drives both what a client can run and what the COMMAND family says: on the leader and on
// a follower, COMMAND COUNT, COMMAND, COMMAND LIST, COMMAND DOCS and COMMAND INFO describe the
// same commands; every command issue 5 names is among them; every described command and
// subcommand is dispatched (shown without running it, by the arity error Redis sends for a wrong
// argument count, which comes only after the name is found; an unknown name gets "unknown
// command" instead); and the scripting commands, which raftis does not support yet, get a clear
// error rather than "unknown command".
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { useCluster } from './helpers/cluster.js';

const shared = useCluster({ nodes: 3 });

/** Every command and subcommand issue 5 lists, by COMMAND LIST name. */
const ISSUE_COMMANDS = [
  'get', 'set', 'setnx', 'setex', 'psetex', 'getset', 'getdel', 'getex', 'mget', 'mset', 'msetnx', 'append', 'strlen',
  'incr', 'decr', 'incrby', 'decrby', 'incrbyfloat', 'getrange', 'setrange', 'lcs',
  'del', 'unlink', 'exists', 'type', 'keys', 'scan', 'randomkey', 'rename', 'renamenx', 'copy', 'move', 'touch',
  'expire', 'pexpire', 'expireat', 'pexpireat', 'ttl', 'pttl', 'expiretime', 'pexpiretime', 'persist', 'dbsize',
  'flushdb', 'flushall', 'select', 'swapdb',
  'multi', 'exec', 'discard', 'watch', 'unwatch',
  'ping', 'echo', 'quit', 'reset', 'hello', 'auth', 'client|id', 'client|setname', 'client|getname', 'client|info',
  'client|list', 'client|kill', 'time', 'config|get', 'config|set', 'config|resetstat', 'shutdown',
  'function|flush', 'function|list', 'function|stats', 'info',
  'command', 'command|count', 'command|info', 'command|docs', 'command|list',
];

/** Commands whose every argument count is valid (arity -1): they cannot be shown by an arity error. */
const ANY_ARGUMENT_COUNT = new Set(['ping', 'quit', 'hello', 'info', 'shutdown', 'flushdb', 'flushall', 'command']);

async function errorOf(client: Redis, ...argv: string[]): Promise<string> {
  try {
    return `no error: ${JSON.stringify(await client.call(argv[0]!, ...argv.slice(1)))}`;
  } catch (error) {
    return (error as Error).message;
  }
}

/** An argument count the arity forbids (Redis: arity n means exactly n, -n at least n). */
function wrongCount(arity: number): number {
  return arity > 0 ? arity + 1 : -arity - 1;
}

describe('one command table, through a real cluster', () => {
  it('COMMAND COUNT, COMMAND, COMMAND LIST, COMMAND DOCS and COMMAND INFO agree, on the leader and on a follower', async () => {
    const { cluster, leader } = shared;
    const follower = [...cluster.nodes.keys()].find((id) => id !== leader)!;
    for (const id of [leader, follower]) {
      const client = cluster.client(id);
      const count = await client.call('COMMAND', 'COUNT') as number;
      const all = await client.call('COMMAND') as unknown[][];
      const list = await client.call('COMMAND', 'LIST') as string[];
      const docs = await client.call('COMMAND', 'DOCS') as unknown[];
      const topLevel = list.filter((name) => !name.includes('|')).sort();
      expect(all).toHaveLength(count);
      expect(all.map((info) => info[0] as string).sort()).toEqual(topLevel);
      expect(docs.filter((_, index) => index % 2 === 0).map(String).sort()).toEqual(topLevel);
      expect(list.filter((name) => ISSUE_COMMANDS.includes(name)).sort()).toEqual([...ISSUE_COMMANDS].sort());
      const infos = await client.call('COMMAND', 'INFO', ...list) as (unknown[] | null)[];
      expect(list.filter((_, index) => infos[index] === null), 'listed but without COMMAND INFO').toEqual([]);
    }
  });

  it('dispatches every command COMMAND describes, with the arity COMMAND INFO gives', async () => {
    const { cluster, leader } = shared;
    const client = cluster.client(leader);
    const list = await client.call('COMMAND', 'LIST') as string[];
    const infos = await client.call('COMMAND', 'INFO', ...list) as unknown[][];
    const mismatches: string[] = [];
    for (const [index, name] of list.entries()) {
      if (ANY_ARGUMENT_COUNT.has(name)) continue;
      const arity = infos[index]![1] as number;
      const words = name.split('|');
      const count = wrongCount(arity);
      // A subcommand of arity -2 takes any count its name allows: nothing to show.
      if (count < words.length) continue;
      const argv = [...words, ...Array.from({ length: count - words.length }, (_, at) => `arg${at}`)];
      const message = await errorOf(client, ...argv);
      // EXEC reports it as EXECABORT, as Redis 7 does (rejectCommand calls execCommandAbort).
      const expected = `${name === 'exec' ? 'EXECABORT Transaction discarded because of: w' : 'ERR w'}rong number of arguments for '${name}' command`;
      if (message !== expected) mismatches.push(`${argv.join(' ')}: ${message}`);
    }
    expect(mismatches).toEqual([]);
    expect(await errorOf(client, 'NOSUCH', 'x')).toBe("ERR unknown command 'NOSUCH', with args beginning with: 'x' ");
  });

  it('answers scripting commands with a clear error, on the leader and on a follower', async () => {
    const { cluster, leader } = shared;
    const follower = [...cluster.nodes.keys()].find((id) => id !== leader)!;
    for (const id of [leader, follower]) {
      const client = cluster.client(id);
      for (const argv of [['EVAL', 'return 1', '0'], ['EVALSHA', 'a'.repeat(40), '0'], ['EVAL_RO', 'return 1', '0'], ['FCALL', 'f', '0'],
        ['SCRIPT', 'LOAD', 'return 1'], ['FUNCTION', 'LOAD', '#!lua name=x\nredis.register_function("f", function() return 1 end)']]) {
        expect(await errorOf(client, ...argv), argv[0]).toBe('ERR scripting is not supported by raftis yet');
      }
      expect(await client.call('FUNCTION', 'LIST')).toEqual([]);
    }
  });
});
