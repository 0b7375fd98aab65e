// Differential tests of the operator tooling against the real thing (Debian's redis-server and
// redis-cli 7.0; skipped with a message where they are not installed):
// - `raftis cli` prints every reply byte for byte as `redis-cli --no-raw` (its terminal format)
//   and `redis-cli --raw` print it, for the same commands sent to the same redis-server, in RESP2
//   and RESP3: nested arrays, index alignment past 9, nil, errors, integers, quoted binary
//   strings, RESP3 maps (with values on their own lines when they span several), sets, doubles,
//   and INFO printed raw;
// - CLUSTER KEYSLOT: keySlot() equals a cluster-enabled redis-server's answer for a few thousand
//   seeded random keys full of braces;
// - CONFIG GET/SET of the connection settings: the same replies, errors included, as redis-server.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, sendCommands } from '../../src/cli/commands/cli.js';
import { encodeReply } from '../../src/resp/encoder.js';
import { ClientRegistry } from '../../src/server/client-registry.js';
import { configCommand } from '../../src/server/config-command.js';
import type { RaftNode } from '../../src/server/node.js';
import { keySlot } from '../../src/server/slots.js';

const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;
if (!HAVE_REDIS) console.warn('redis-server or redis-cli is not installed: skipping the ops differential tests (apt-get install redis-server redis-tools)');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface RedisProcess {
  readonly port: number;
  readonly child: ChildProcess;
  readonly dir: string;
}

async function startRedis(extraArgs: readonly string[]): Promise<RedisProcess> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftis-ops-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${log}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${log}`)));
  });
  return { port, child, dir };
}

async function stopRedis(redis: RedisProcess | undefined): Promise<void> {
  if (!redis) return;
  const exited = new Promise((resolve) => redis.child.once('exit', resolve));
  redis.child.kill('SIGKILL');
  await exited;
  fs.rmSync(redis.dir, { recursive: true, force: true });
}

/** Seeded PRNG (mulberry32), so a failing key can be reproduced. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe.skipIf(!HAVE_REDIS)('against redis-server and redis-cli', () => {
  let redis: RedisProcess | undefined;
  let clusterRedis: RedisProcess | undefined;

  beforeAll(async () => {
    [redis, clusterRedis] = await Promise.all([
      startRedis([]),
      startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']),
    ]);
    const setup = [
      ['FLUSHALL'], ['SET', 's', '1'], ['SET', 'q', 'a"b\\c\n\x01\u00e9\t'],
      ['RPUSH', 'big', ...Array.from({ length: 12 }, (_, k) => String(k))], ['RPUSH', 'l', 'a', 'b'],
      ['HSET', 'h', 'f1', 'v1', 'f2', 'v2'], ['SADD', 'set', 'm1'], ['ZADD', 'z', '1.5', 'm'],
    ];
    const replies = await sendCommands('127.0.0.1', redis.port, setup, 5000);
    expect(replies.filter((reply) => reply.kind === 'error')).toEqual([]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([stopRedis(redis), stopRedis(clusterRedis)]);
  });

  const printed: [string[], { resp3?: boolean; raw?: boolean }][] = [
    [['GET', 's'], {}],
    [['GET', 'nope'], {}],
    [['GET', 'q'], {}],
    [['ECHO', 'h\u00e9llo'], {}],
    [['TYPE', 's'], {}],
    [['EXISTS', 's', 'q', 'nope'], {}],
    [['LRANGE', 'nope', '0', '-1'], {}],
    [['LRANGE', 'big', '0', '-1'], {}],
    [['MGET', 's', 'nope', 'q'], {}],
    [['NOSUCH', 'a'], {}],
    [['INCR', 'q'], {}],
    [['COMMAND', 'GETKEYSANDFLAGS', 'SET', 'a', 'b'], {}],
    [['COMMAND', 'INFO', 'get', 'set'], {}],
    [['COMMAND', 'INFO', 'get', 'set'], { resp3: true }],
    [['OBJECT', 'HELP'], {}],
    [['HGETALL', 'h'], {}],
    [['HGETALL', 'h'], { resp3: true }],
    [['HGETALL', 'nope'], { resp3: true }],
    [['SMEMBERS', 'set'], { resp3: true }],
    [['SMEMBERS', 'nope'], { resp3: true }],
    [['ZSCORE', 'z', 'm'], {}],
    [['ZSCORE', 'z', 'm'], { resp3: true }],
    [['CONFIG', 'GET', 'maxclients'], {}],
    [['CONFIG', 'GET', 'maxclients'], { resp3: true }],
    [['CONFIG', 'GET', 'nosuchparam'], {}],
    [['CONFIG', 'GET', 'nosuchparam'], { resp3: true }],
    [['INFO', 'keyspace'], {}],
    [['INFO', 'keyspace'], { resp3: true }],
    [['MGET', 's', 'nope', 'q'], { raw: true }],
    [['LRANGE', 'big', '0', '-1'], { raw: true }],
    [['HGETALL', 'h'], { raw: true, resp3: true }],
    [['COMMAND', 'GETKEYSANDFLAGS', 'SET', 'a', 'b'], { raw: true }],
    [['INCR', 'q'], { raw: true }],
    [['GET', 'nope'], { raw: true }],
  ];

  it.each(printed)('raftis cli prints %j as redis-cli does (%j)', async (command, options) => {
    const port = (redis as RedisProcess).port;
    const flags = [options.raw ? '--raw' : '--no-raw', ...(options.resp3 ? ['-3'] : [])];
    const expected = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...flags, ...command], { timeout: 10_000 });
    expect(expected.status).toBe(0);
    const chunks: Buffer[] = [];
    const code = await runCli(command, { host: '127.0.0.1', port, resp3: options.resp3, raw: options.raw, timeout: 5000 }, (text) => chunks.push(text), () => undefined);
    expect(Buffer.concat(chunks).toString('latin1')).toBe(expected.stdout.toString('latin1'));
    expect(code).toBe(/^\(error\)|^ERR/.test(expected.stdout.toString('latin1')) ? 1 : 0);
  });

  it('computes the hash slot of thousands of random keys as CLUSTER KEYSLOT does (seed 20240611)', async () => {
    const random = prng(20240611);
    const alphabet = Buffer.from('{}{}ab}{x\x00\xff');
    const keys = Array.from({ length: 3000 }, () =>
      Buffer.from(Array.from({ length: Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)] as number)));
    const replies = await sendCommands('127.0.0.1', (clusterRedis as RedisProcess).port, keys.map((key) => [Buffer.from('CLUSTER'), Buffer.from('KEYSLOT'), key]), 20_000);
    const mismatches = keys.map((key, at) => ({ key: key.toString('latin1'), redis: replies[at], ours: keySlot(key) }))
      .filter(({ redis: answer, ours }) => answer?.kind !== 'integer' || answer.value !== ours);
    expect(mismatches).toEqual([]);
  });

  it('answers CONFIG GET and SET of the connection settings as redis-server does, errors included', async () => {
    const port = (redis as RedisProcess).port;
    const fixedNode = { options: { clientPort: port, host: '127.0.0.1', peerPort: 0, dataDir: '', fsync: 'always' } } as unknown as RaftNode;
    const registry = new ClientRegistry();
    const commands = [
      ['CONFIG', 'GET', 'maxclients'], ['CONFIG', 'GET', 'proto-max-bulk-len'], ['CONFIG', 'GET', 'client-query-buffer-limit'],
      ['CONFIG', 'GET', 'requirepass'], ['CONFIG', 'GET', 'MaxClients'], ['CONFIG', 'GET', 'max?lients'],
      ['CONFIG', 'SET', 'maxclients', '100', 'proto-max-bulk-len', '2mb'], ['CONFIG', 'GET', 'maxclients'], ['CONFIG', 'GET', 'proto-max-bulk-len'],
      ['CONFIG', 'SET', 'client-query-buffer-limit', '3MB'], ['CONFIG', 'GET', 'client-query-buffer-limit'],
      ['CONFIG', 'SET', 'maxclients', 'abc'], ['CONFIG', 'SET', 'maxclients', '0'], ['CONFIG', 'SET', 'maxclients', '4294967296'],
      ['CONFIG', 'SET', 'Maxclients', '1', 'maxclients', '2'], ['CONFIG', 'SET', 'nosuch', '1'], ['CONFIG', 'SET', 'maxclients', 'x', 'nosuch', '1'],
      ['CONFIG', 'SET', 'maxclients', '7', 'databases', '4'], ['CONFIG', 'SET', 'databases', '4'], ['CONFIG', 'SET', 'cluster-enabled', 'no'],
      ['CONFIG', 'SET', 'proto-max-bulk-len', '1kb'], ['CONFIG', 'SET', 'proto-max-bulk-len', '1.5mb'], ['CONFIG', 'SET', 'maxclients'],
      ['CONFIG', 'GET', 'maxclients'], ['CONFIG', 'SET', 'maxclients', '10000', 'proto-max-bulk-len', '512mb', 'client-query-buffer-limit', '1gb'],
      ['CONFIG', 'GET', 'maxclients'],
    ];
    const expected = await sendCommands('127.0.0.1', port, commands, 5000);
    commands.forEach((command, at) => {
      const name = `config|${(command[1] as string).toLowerCase()}`;
      // CONFIG SET's arity (-4) is the connection layer's to check, from the command table.
      const ours = command.length < 4 && name === 'config|set'
        ? { kind: 'error' as const, value: "ERR wrong number of arguments for 'config|set' command" }
        : configCommand(fixedNode, registry, name, command.map((word) => Buffer.from(word)));
      expect(encodeReply(ours, 2).toString('latin1'), command.join(' ')).toBe(encodeReply(expected[at]!, 2).toString('latin1'));
    });
  });
});
