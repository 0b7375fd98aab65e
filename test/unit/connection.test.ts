// The connection layer with an executor whose replies arrive when the test says so, as they do
// over Raft. Proves what the standalone server (whose executor answers at once) cannot: replies
// leave in request order whatever order the executor answers in; the protocol version of a reply
// is the one in force when its command ran; WATCH and server commands wait for the connection's
// earlier commands; EXEC sends one transaction with the watched keys; reading stops at the
// in-flight bound and resumes; a late reply to a closed client is dropped; the query buffer
// limit disconnects. Real sockets on localhost, no sleeps: every wait is for a reply or a call.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandSpec } from '../../src/commands/types.js';
import { bulkText, integer, OK } from '../../src/resp/replies.js';
import type { Reply } from '../../src/resp/reply.js';
import { ClientRegistry, type ClientSettings } from '../../src/server/client-registry.js';
import { acceptClient, type ConnectionOptions } from '../../src/server/connection.js';
import type { ClientView, Completion, Executor, ReadConsistency, Watch } from '../../src/server/executor.js';
import { encodeCommands, RawConnection } from '../integration/helpers/raw-connection.js';

type Call =
  | { kind: 'write' | 'read'; db: number; argv: string[]; consistency?: ReadConsistency; completion: Completion }
  | { kind: 'transaction'; db: number; commands: string[][]; watches: Watch[]; completion: Completion }
  | { kind: 'server'; name: string; argv: string[]; completion: Completion };

/** Records every call; the test completes them, in any order. */
class ControlledExecutor implements Executor {
  isolatesReadsFromLaterWrites = false;
  readonly calls: Call[] = [];
  private waiters: (() => void)[] = [];
  modIndexes = new Map<string, number>();

  private record(call: Call): void {
    this.calls.push(call);
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves once at least `count` calls were made. */
  async waitForCalls(count: number): Promise<void> {
    while (this.calls.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  write(db: number, argv: readonly Buffer[], completion: Completion): void {
    this.record({ kind: 'write', db, argv: argv.map(String), completion });
  }
  read(db: number, argv: readonly Buffer[], consistency: ReadConsistency, completion: Completion): void {
    this.record({ kind: 'read', db, argv: argv.map(String), consistency, completion });
  }
  transaction(db: number, commands: readonly (readonly Buffer[])[], watches: readonly Watch[], completion: Completion): void {
    this.record({ kind: 'transaction', db, commands: commands.map((argv) => argv.map(String)), watches: [...watches], completion });
  }
  server(_client: ClientView, spec: CommandSpec, argv: readonly Buffer[], completion: Completion): void {
    this.record({ kind: 'server', name: spec.name, argv: argv.map(String), completion });
  }
  watch(db: number, key: Buffer): Watch {
    return { db, key, modIndex: this.modIndexes.get(`${db}:${String(key)}`) ?? 0, live: false };
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function serve(settings: Partial<ClientSettings> = {}, options: Partial<ConnectionOptions> = {}): Promise<{ executor: ControlledExecutor; registry: ClientRegistry; connect(): Promise<RawConnection> }> {
  const executor = new ControlledExecutor();
  const registry = new ClientRegistry(settings);
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    acceptClient(socket, { executor, registry, ...options });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  closers.push(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  return {
    executor,
    registry,
    connect: async () => {
      const connection = await RawConnection.open('127.0.0.1', port);
      closers.unshift(async () => connection.destroy());
      return connection;
    },
  };
}

const text = (replies: Buffer[]): string[] => replies.map((reply) => reply.toString('latin1'));

describe('connection: reply order', () => {
  it('writes replies in request order when the executor answers out of order', async () => {
    const { executor, connect } = await serve();
    executor.isolatesReadsFromLaterWrites = true;
    const client = await connect();
    client.send(encodeCommands([['SET', 'a', '1'], ['PING'], ['GET', 'a'], ['ECHO', 'x'], ['INCR', 'n']]));
    await executor.waitForCalls(3);
    expect(executor.calls.map((call) => call.kind)).toEqual(['write', 'read', 'write']);
    const [set, get, incr] = executor.calls;
    incr!.completion.complete(integer(7));
    get!.completion.complete(bulkText('1'));
    set!.completion.complete(OK);
    expect(text(await client.readReplies(5))).toEqual(['+OK\r\n', '+PONG\r\n', '$1\r\n1\r\n', '$1\r\nx\r\n', ':7\r\n']);
  });

  it('encodes each reply in the protocol in force when its command ran', async () => {
    const { executor, connect } = await serve();
    const client = await connect();
    client.send(encodeCommands([['GET', 'missing'], ['HELLO', '3'], ['GET', 'missing']]));
    await executor.waitForCalls(2);
    executor.calls[1]!.completion.complete({ kind: 'null' });
    executor.calls[0]!.completion.complete({ kind: 'null' });
    const replies = text(await client.readReplies(3));
    expect(replies[0]).toBe('$-1\r\n');
    expect(replies[1]).toMatch(/^%7\r\n/);
    expect(replies[2]).toBe('_\r\n');
  });

  it('passes the database and the read consistency of the connection', async () => {
    const { executor, connect } = await serve();
    executor.isolatesReadsFromLaterWrites = true;
    const client = await connect();
    client.send(encodeCommands([['SELECT', '4'], ['GET', 'a'], ['READONLY'], ['GET', 'b'], ['SET', 'c', '1']]));
    await executor.waitForCalls(3);
    expect(executor.calls.map((call) => ('db' in call ? [call.kind, call.db, 'consistency' in call ? call.consistency : '-'] : []))).toEqual([
      ['read', 4, 'linearizable'], ['read', 4, 'stale'], ['write', 4, '-'],
    ]);
    for (const call of executor.calls) call.completion.complete(OK);
    expect(await client.readReplies(5)).toHaveLength(5);
  });

  it('closes a departed client once its pending reply arrives; a second completion is a bug', async () => {
    const { executor, registry, connect } = await serve();
    const client = await connect();
    client.send(encodeCommands([['SET', 'a', '1']]));
    await executor.waitForCalls(1);
    client.destroy();
    const completion = executor.calls[0]!.completion;
    completion.complete(OK);
    while (registry.size > 0) await new Promise((resolve) => setImmediate(resolve));
    expect(() => completion.complete(OK)).toThrow(/completed twice/);
  });

  it('still answers pending commands after the client shuts down its side', async () => {
    const { executor, connect } = await serve();
    const client = await connect();
    client.send(encodeCommands([['SET', 'a', '1'], ['PING']]));
    await executor.waitForCalls(1);
    const finished = client.finish();
    executor.calls[0]!.completion.complete(OK);
    expect((await finished).toString()).toBe('+OK\r\n+PONG\r\n');
  });
});

describe('connection: waiting for earlier commands', () => {
  it('runs WATCH only once the earlier writes are answered, so it sees them', async () => {
    const { executor, connect } = await serve();
    const client = await connect();
    client.send(encodeCommands([['SET', 'k', 'v'], ['WATCH', 'k'], ['MULTI'], ['INCR', 'k'], ['EXEC']]));
    await executor.waitForCalls(1);
    // The SET is in flight: WATCH has not read the index yet, so nothing after it ran either.
    expect(executor.calls).toHaveLength(1);
    executor.modIndexes.set('0:k', 42);
    executor.calls[0]!.completion.complete(OK);
    await executor.waitForCalls(2);
    const exec = executor.calls[1]!;
    expect(exec.kind).toBe('transaction');
    if (exec.kind !== 'transaction') return;
    expect(exec.commands).toEqual([['INCR', 'k']]);
    expect(exec.watches.map((watch) => [watch.db, String(watch.key), watch.modIndex])).toEqual([[0, 'k', 42]]);
    exec.completion.complete({ kind: 'array', value: [integer(1)] });
    expect(text(await client.readReplies(5))).toEqual(['+OK\r\n', '+OK\r\n', '+OK\r\n', '+QUEUED\r\n', '*1\r\n:1\r\n']);
  });

  it('holds a write behind the earlier reads, unless the executor isolates reads itself', async () => {
    const { executor, connect } = await serve();
    const client = await connect();
    client.send(encodeCommands([['SET', 'a', '0'], ['GET', 'a'], ['GET', 'b'], ['SET', 'a', '1'], ['GET', 'a']]));
    await executor.waitForCalls(3);
    // The write after the reads waits: over Raft the reads could otherwise see it.
    expect(executor.calls.map((call) => call.kind)).toEqual(['write', 'read', 'read']);
    executor.calls[1]!.completion.complete(bulkText('0'));
    executor.calls[0]!.completion.complete(OK);
    await new Promise((resolve) => setImmediate(resolve));
    expect(executor.calls).toHaveLength(3);
    executor.calls[2]!.completion.complete({ kind: 'null' });
    await executor.waitForCalls(5);
    expect(executor.calls.slice(3).map((call) => call.kind)).toEqual(['write', 'read']);
    executor.calls[3]!.completion.complete(OK);
    executor.calls[4]!.completion.complete(bulkText('1'));
    expect(text(await client.readReplies(5))).toEqual(['+OK\r\n', '$1\r\n0\r\n', '$-1\r\n', '+OK\r\n', '$1\r\n1\r\n']);

    executor.isolatesReadsFromLaterWrites = true;
    client.send(encodeCommands([['GET', 'a'], ['SET', 'a', '2']]));
    await executor.waitForCalls(7);
    expect(executor.calls.slice(5).map((call) => call.kind)).toEqual(['read', 'write']);
    executor.calls[6]!.completion.complete(OK);
    executor.calls[5]!.completion.complete(bulkText('1'));
    expect(text(await client.readReplies(2))).toEqual(['$1\r\n1\r\n', '+OK\r\n']);
  });

  it('runs server commands only once the earlier commands are answered', async () => {
    const { executor, connect } = await serve();
    const client = await connect();
    client.send(encodeCommands([['SET', 'k', 'v'], ['INFO'], ['PING']]));
    await executor.waitForCalls(1);
    expect(executor.calls).toHaveLength(1);
    executor.calls[0]!.completion.complete(OK);
    await executor.waitForCalls(2);
    expect(executor.calls[1]).toMatchObject({ kind: 'server', name: 'info' });
    executor.calls[1]!.completion.complete(bulkText('# Server'));
    expect(text(await client.readReplies(3))).toEqual(['+OK\r\n', '$8\r\n# Server\r\n', '+PONG\r\n']);
  });

  it('sends the state machine what it executes and answers the rest itself, after it', async () => {
    const { executor, connect } = await serve();
    const client = await connect();
    client.send(encodeCommands([['MULTI'], ['SELECT', '2'], ['SET', 'a', '1'], ['CLIENT', 'SETNAME', 'tx'], ['INFO'], ['PING'], ['EXEC'], ['CLIENT', 'GETNAME'], ['GET', 'a']]));
    await executor.waitForCalls(1);
    const exec = executor.calls[0]!;
    if (exec.kind !== 'transaction') throw new Error(`expected a transaction, got ${exec.kind}`);
    expect(exec.db).toBe(0);
    expect(exec.commands).toEqual([['SELECT', '2'], ['SET', 'a', '1'], ['PING']]);
    // CLIENT SETNAME runs at EXEC: the commands after EXEC wait for its reply.
    expect(executor.calls).toHaveLength(1);
    exec.completion.complete({ kind: 'array', value: [OK, OK, { kind: 'simple', value: 'PONG' }] });
    await executor.waitForCalls(2);
    expect(executor.calls[1]).toMatchObject({ kind: 'server', name: 'info' });
    executor.calls[1]!.completion.complete(bulkText('info'));
    await executor.waitForCalls(3);
    expect(executor.calls[2]).toMatchObject({ kind: 'read', db: 2, argv: ['GET', 'a'] });
    executor.calls[2]!.completion.complete(bulkText('1'));
    const replies = text(await client.readReplies(9));
    expect(replies.slice(6)).toEqual(['*5\r\n+OK\r\n+OK\r\n+OK\r\n$4\r\ninfo\r\n+PONG\r\n', '$2\r\ntx\r\n', '$1\r\n1\r\n']);
  });

  it('answers EXEC with a null array and runs nothing else when a watched key changed', async () => {
    const { executor, connect } = await serve();
    const client = await connect();
    client.send(encodeCommands([['WATCH', 'a'], ['MULTI'], ['CLIENT', 'SETNAME', 'never'], ['SET', 'a', '1'], ['EXEC'], ['CLIENT', 'GETNAME']]));
    await executor.waitForCalls(1);
    executor.calls[0]!.completion.complete({ kind: 'nullArray' });
    expect(text(await client.readReplies(6)).slice(4)).toEqual(['*-1\r\n', '$-1\r\n']);
  });
});

describe('connection: bounds', () => {
  it('stops reading at the in-flight bound and resumes as replies arrive', async () => {
    const { executor, connect } = await serve({}, { maxInflightCommands: 2 });
    const client = await connect();
    client.send(encodeCommands(Array.from({ length: 6 }, (_, index) => ['SET', `k${index}`, 'v'])));
    await executor.waitForCalls(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(executor.calls).toHaveLength(2);
    for (let index = 0; index < 6; index += 2) {
      await executor.waitForCalls(index + 2);
      executor.calls[index]!.completion.complete(OK);
      executor.calls[index + 1]!.completion.complete(OK);
    }
    expect(await client.readReplies(6)).toHaveLength(6);
  });

  it('disconnects a client whose query buffer exceeds client-query-buffer-limit, without a reply', async () => {
    const { connect } = await serve({ clientQueryBufferLimitBytes: 64 * 1024 });
    const client = await connect();
    client.send('*2\r\n$4\r\nECHO\r\n$200000\r\n' + 'x'.repeat(100_000));
    expect((await client.closedByServer()).length).toBe(0);
  });

  it('counts a queued transaction against the query buffer limit', async () => {
    const { connect } = await serve({ clientQueryBufferLimitBytes: 64 * 1024 });
    const client = await connect();
    client.send(encodeCommands([['MULTI'], ['SET', 'a', 'v'.repeat(40_000)]]));
    expect(text(await client.readReplies(2))).toEqual(['+OK\r\n', '+QUEUED\r\n']);
    client.send(encodeCommands([['SET', 'b', 'v'.repeat(30_000)]]));
    expect((await client.closedByServer()).length).toBe(0);
  });

  it('refuses clients beyond maxclients and admits again once one leaves', async () => {
    const { registry, connect } = await serve({ maxclients: 1 });
    const first = await connect();
    first.send('PING\r\n');
    expect(text(await first.readReplies(1))).toEqual(['+PONG\r\n']);
    const second = await connect();
    expect((await second.closedByServer()).toString()).toBe('-ERR max number of clients reached\r\n');
    expect(registry.stats.connectionsRejected).toBe(1);
    await first.finish();
    const third = await connect();
    third.send('PING\r\n');
    expect(text(await third.readReplies(1))).toEqual(['+PONG\r\n']);
  });
});

describe('connection: reply type', () => {
  it('passes every executor reply kind through the encoder', async () => {
    const { executor, connect } = await serve();
    const client = await connect();
    client.send(encodeCommands([['GET', 'a']]));
    await executor.waitForCalls(1);
    const reply: Reply = { kind: 'array', value: [{ kind: 'double', value: '1.5' }, { kind: 'boolean', value: true }, { kind: 'set', value: [bulkText('m')] }] };
    executor.calls[0]!.completion.complete(reply);
    expect(text(await client.readReplies(1))).toEqual(['*3\r\n$3\r\n1.5\r\n:1\r\n*1\r\n$1\r\nm\r\n']);
  });
});
