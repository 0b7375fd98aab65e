// Proves the command table and the COMMAND family: resolution and the exact errors Redis 7 sends
// for unknown commands, unknown subcommands and wrong arity; and, against a real redis-server
// when one is installed, that COMMAND INFO and COMMAND DOCS for every Redis command we describe
// are byte-for-byte what Redis sends, in both RESP2 and RESP3.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commandCommand, commandDocsNamesReply, commandGetKeysReply, commandInfoNamesReply, commandListReply,
} from '../../src/commands/introspection.js';
import { functionCommand } from '../../src/commands/functions.js';
import { COMMANDS, lookupCommand, lookupFullName, resolveCommand } from '../../src/commands/table.js';
import { REDIS_COMMANDS } from '../../src/commands/table-redis.js';
import { encodeReply } from './commands/encode-reply.js';
import { RawClient } from './commands/raw-client.js';
import { startRedis, type RedisProcess } from './commands/redis-server.js';

const argv = (...args: string[]): Buffer[] => args.map((a) => Buffer.from(a));
const text = (reply: ReturnType<typeof commandCommand>): string => encodeReply(reply).toString('latin1');

describe('command table', () => {
  it('has every command issue 5 names', () => {
    const required = [
      'get', 'set', 'setnx', 'setex', 'psetex', 'getset', 'getdel', 'getex', 'mget', 'mset', 'msetnx',
      'append', 'strlen', 'incr', 'decr', 'incrby', 'decrby', 'incrbyfloat', 'getrange', 'setrange', 'lcs',
      'del', 'unlink', 'exists', 'type', 'keys', 'scan', 'randomkey', 'rename', 'renamenx', 'copy', 'move',
      'touch', 'expire', 'pexpire', 'expireat', 'pexpireat', 'ttl', 'pttl', 'expiretime', 'pexpiretime',
      'persist', 'dbsize', 'flushdb', 'flushall', 'select', 'swapdb', 'multi', 'exec', 'discard', 'watch',
      'unwatch', 'ping', 'echo', 'quit', 'reset', 'hello', 'auth', 'client', 'time', 'config', 'shutdown',
      'function', 'info', 'command', 'cluster', 'raft.snapshot', 'raft.digest',
    ];
    for (const name of required) expect(lookupCommand(name), name).toBeDefined();
    for (const full of ['client|id', 'client|setname', 'client|getname', 'client|info', 'client|list',
      'client|kill', 'config|get', 'config|set', 'config|resetstat', 'function|flush', 'function|list',
      'function|stats', 'cluster|slots', 'cluster|addnode', 'cluster|removenode', 'cluster|failover',
      'cluster|leave', 'command|docs']) {
      expect(lookupFullName(full), full).toBeDefined();
    }
  });

  it('routes writes through the log and reads through ReadIndex', () => {
    expect(lookupCommand('set')?.route).toBe('write');
    expect(lookupCommand('get')?.route).toBe('read');
    expect(lookupCommand('exec')?.route).toBe('connection');
    expect(lookupCommand('raft.digest')?.route).toBe('server');
    for (const spec of COMMANDS) {
      if (spec.flags.includes('write')) expect(spec.route, spec.name).toBe('write');
    }
  });

  it('resolves with the errors Redis 7 sends', () => {
    const fail = (...args: string[]): string => {
      const result = resolveCommand(argv(...args));
      if (result.ok) throw new Error(`${args.join(' ')} resolved`);
      return text(result.error);
    };
    expect(fail('foo', 'bar', 'baz')).toBe("-ERR unknown command 'foo', with args beginning with: 'bar' 'baz' \r\n");
    expect(fail('foo')).toBe("-ERR unknown command 'foo', with args beginning with: \r\n");
    expect(fail('client', 'foo')).toBe("-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
    expect(fail('GET')).toBe("-ERR wrong number of arguments for 'get' command\r\n");
    expect(fail('client')).toBe("-ERR wrong number of arguments for 'client' command\r\n");
    expect(fail('config', 'get')).toBe("-ERR wrong number of arguments for 'config|get' command\r\n");
    expect(fail('a\r\nb', 'x\ny')).toBe("-ERR unknown command 'a  b', with args beginning with: 'x y' \r\n");
    expect(fail('eval', 'return 1', '0')).toBe('-ERR scripting is not supported by raftis yet\r\n');
    const ok = resolveCommand(argv('CONFIG', 'GET', 'maxclients'));
    expect(ok.ok && ok.spec.name).toBe('config|get');
    const set = resolveCommand(argv('SeT', 'k', 'v'));
    expect(set.ok && set.spec.name).toBe('set');
  });

  it('resolves every command by name in any case, and nothing that differs from one by a byte', () => {
    const arityArgs = (arity: number): string[] => Array.from({ length: Math.abs(arity) - 1 }, () => 'x');
    for (const spec of COMMANDS) {
      if (spec.subcommands !== undefined && spec.subcommands.length > 0) continue;
      const mixed = [...spec.name].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('');
      for (const name of [spec.name, spec.name.toUpperCase(), mixed]) {
        const result = resolveCommand(argv(name, ...arityArgs(spec.arity)));
        expect(result.ok && result.spec, name).toBe(spec);
        // The same bytes with one changed, cut short or extended name no command of this table.
        for (const other of [`${name.slice(0, -1)}~`, `~${name.slice(1)}`, name.slice(0, -1), `${name}~`]) {
          const near = resolveCommand(argv(other, ...arityArgs(spec.arity)));
          if (near.ok) expect(near.spec.name, other).toBe(other.toLowerCase());
        }
      }
      const middle = spec.name.length >> 1;
      const changed = `${spec.name.slice(0, middle)}~${spec.name.slice(middle + 1)}`;
      expect(resolveCommand(argv(changed, ...arityArgs(spec.arity))).ok, changed).toBe(false);
    }
  });

  it('limits the echoed arguments as Redis does (128 bytes)', () => {
    const long = 'x'.repeat(200);
    const result = resolveCommand(argv('nope', long, 'second'));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(text(result.error)).toBe(`-ERR unknown command 'nope', with args beginning with: '${'x'.repeat(128)}' \r\n`);
  });

  it('answers COMMAND GETKEYS from the key specs', () => {
    expect(text(commandGetKeysReply(argv('mset', 'a', '1', 'b', '2'), false))).toBe('*2\r\n$1\r\na\r\n$1\r\nb\r\n');
    expect(text(commandGetKeysReply(argv('ping'), false))).toBe('-ERR The command has no key arguments\r\n');
    expect(text(commandGetKeysReply(argv('nosuch', 'x'), false))).toBe('-ERR Invalid command specified\r\n');
    expect(text(commandGetKeysReply(argv('get', 'a', 'b'), false))).toBe('-ERR Invalid number of arguments specified for command\r\n');
    expect(text(commandGetKeysReply(argv('set', 'a', 'b', 'GET'), true))).toBe('*1\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+update\r\n');
  });

  it('filters COMMAND LIST', () => {
    expect(text(commandListReply(argv('filterby', 'pattern', 'CLIENT|GET*')))).toBe('*1\r\n$14\r\nclient|getname\r\n');
    expect(text(commandListReply(argv('filterby', 'module', 'x')))).toBe('*0\r\n');
    expect(text(commandListReply(argv('foo')))).toBe('-ERR syntax error\r\n');
  });
});

describe('COMMAND INFO and COMMAND DOCS against redis-server', () => {
  let redis: RedisProcess | undefined;
  let client: RawClient | undefined;
  beforeAll(async () => {
    redis = await startRedis();
    if (redis) client = await RawClient.connect(redis.port);
  });
  afterAll(async () => {
    client?.close();
    await redis?.stop();
  });

  it('matches byte for byte in RESP2 and RESP3', async (context) => {
    if (!client) {
      context.skip('redis-server is not installed: apt-get install -y redis-server');
      return;
    }
    // Containers are compared per subcommand: Redis's containers list subcommands we leave out.
    const names = REDIS_COMMANDS.flatMap((spec) => (spec.subcommands ? spec.subcommands.map((s) => s.name) : [spec.name]));
    for (const protocol of [2, 3] as const) {
      await client.call('HELLO', String(protocol));
      for (const name of names) {
        const [info, docs] = await client.send([['COMMAND', 'INFO', name], ['COMMAND', 'DOCS', name]]);
        expect(encodeReply(commandInfoNamesReply(argv(name)), protocol).toString('latin1'), `INFO ${name}`).toBe(info!.toString('latin1'));
        expect(encodeReply(commandDocsNamesReply(argv(name)), protocol).toString('latin1'), `DOCS ${name}`).toBe(docs!.toString('latin1'));
      }
    }
  });
});

describe('FUNCTION with no functions loaded, against redis-server', () => {
  let redis: RedisProcess | undefined;
  let client: RawClient | undefined;
  beforeAll(async () => {
    redis = await startRedis();
    if (redis) client = await RawClient.connect(redis.port);
  });
  afterAll(async () => {
    client?.close();
    await redis?.stop();
  });

  it('replies byte for byte in RESP2 and RESP3', async (context) => {
    if (!client) {
      context.skip('redis-server is not installed: apt-get install -y redis-server');
      return;
    }
    const cases = [
      ['FUNCTION', 'LIST'], ['FUNCTION', 'LIST', 'WITHCODE'], ['FUNCTION', 'list', 'libraryname', 'x', 'withcode'],
      ['FUNCTION', 'LIST', 'foo'], ['FUNCTION', 'LIST', 'LIBRARYNAME'], ['FUNCTION', 'LIST', 'WITHCODE', 'WITHCODE'],
      ['FUNCTION', 'STATS'], ['FUNCTION', 'STATS', 'x'], ['FUNCTION', 'FLUSH'], ['FUNCTION', 'FLUSH', 'async'],
      ['FUNCTION', 'FLUSH', 'foo'], ['FUNCTION', 'flush', 'SYNC', 'x'], ['FUNCTION', 'HELP'], ['FUNCTION'],
      ['FUNCTION', 'nosuch'],
    ];
    for (const protocol of [2, 3] as const) {
      await client.call('HELLO', String(protocol));
      for (const command of cases) {
        const theirs = (await client.call(...command)).toString('latin1');
        const resolved = resolveCommand(argv(...command));
        const ours = resolved.ok ? functionCommand(argv(...command)) : resolved.error;
        expect(encodeReply(ours, protocol).toString('latin1'), command.join(' ')).toBe(theirs);
      }
    }
    await client.call('HELLO', '2');
  });
});
