// Proves the state machine's own contracts, which no redis-server can check: that applying the
// same entries gives the same digest on every replica; that the digest ignores insertion order but
// sees every byte; that expiry follows the entry's clock and deletion goes through the log; that
// WATCH decisions at apply time match Redis's rules (including keys that expire); that a snapshot
// taken while writes keep coming reproduces exactly the state at its index; that restores reject
// corrupt streams; and that the entry codec round-trips. Also SET IFEQ (Valkey 8.1), which Redis 7
// does not have.
import { describe, expect, it } from 'vitest';
import type { Reply } from '../../src/resp/reply.js';
import {
  StateMachine, SnapshotFormatError, decodeEntry, encodeExpiryEntry, encodeTransactionEntry, encodeWriteEntry,
  EntryDecodeError,
} from '../../src/state/index.js';
import { valueHashInto } from '../../src/state/hash.js';
import { SHORT_COPY_MAX, STRING_VALUE_BYTES_MAX, writeLatin1 } from '../../src/state/keyspace.js';
import { UNTRACKED_DIGEST } from '../../src/state/snapshot.js';
import { encodeReply } from './commands/encode-reply.js';
import { EngineClient } from './state/harness.js';
import { randomSequence, seededRng } from './state/random-commands.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');
const argv = (...args: string[]): Buffer[] => args.map(b);
const resp = (reply: Reply): string => encodeReply(reply).toString('latin1');

/** A client on a fake clock that only moves when told. */
function clocked(startMs = 1_700_000_000_000): { client: EngineClient; advance(ms: number): void; now(): number } {
  let now = startMs;
  const client = new EngineClient(new StateMachine(), () => now);
  return { client, advance: (ms) => { now += ms; }, now: () => now };
}

function call(client: EngineClient, ...args: string[]): string {
  return resp(client.call(...args));
}

describe('entry codec', () => {
  it('round-trips the three kinds of entry', () => {
    const write = { timeMs: 1234567890123, db: 3, argv: [b('SET'), b('k'), Buffer.alloc(100_000, 7), b('')] };
    expect(decodeEntry(encodeWriteEntry(write))).toEqual({ kind: 'write', ...write });
    const transaction = {
      timeMs: 5, db: 15,
      commands: [[b('INCR'), b('x')], [b('SELECT'), b('2')], []],
      watches: [{ db: 1, key: b('w\x00'), modIndex: 2 ** 40, live: true }, { db: 0, key: b(''), modIndex: 0, live: false }],
    };
    expect(decodeEntry(encodeTransactionEntry(transaction))).toEqual({ kind: 'transaction', ...transaction });
    const expiry = { timeMs: 9, deletes: [{ db: 0, key: b('a') }, { db: 15, key: b('') }] };
    expect(decodeEntry(encodeExpiryEntry(expiry))).toEqual({ kind: 'expiry', ...expiry });
  });

  it('writes a write entry in the documented layout, so logs written before stay readable', () => {
    // [1][timeMs f64 LE][db u8][argc varint]([len varint][bytes])*, a length of 200 as two varint bytes.
    const long = Buffer.alloc(200, 0x61);
    const expected = Buffer.concat([
      Buffer.from([1]), Buffer.from(new Float64Array([1_700_000_000_123]).buffer), Buffer.from([4, 4]),
      Buffer.from([3]), b('set'), Buffer.from([0]), Buffer.from([200 & 0x7f | 0x80, 200 >> 7]), long, Buffer.from([1]), b('x'),
    ]);
    expect(encodeWriteEntry({ timeMs: 1_700_000_000_123, db: 4, argv: [b('set'), b(''), long, b('x')] }).equals(expected)).toBe(true);
  });

  it('rejects truncated, trailing and unknown bytes with a typed error', () => {
    const data = encodeWriteEntry({ timeMs: 1, db: 0, argv: argv('GET', 'k') });
    expect(() => decodeEntry(data.subarray(0, data.length - 1))).toThrow(EntryDecodeError);
    expect(() => decodeEntry(Buffer.concat([data, b('x')]))).toThrow(EntryDecodeError);
    expect(() => decodeEntry(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(EntryDecodeError);
    const machine = new StateMachine();
    expect(resp(machine.apply(1, Buffer.from([9])))).toMatch(/^-ERR undecodable log entry/);
    expect(machine.appliedIndex).toBe(1);
  });

  it('asserts what the leader must get right', () => {
    expect(() => encodeWriteEntry({ timeMs: 1.5, db: 0, argv: [] })).toThrow(/timeMs/);
    expect(() => encodeWriteEntry({ timeMs: 1, db: 256, argv: [] })).toThrow(/db/);
    const machine = new StateMachine();
    machine.apply(5, encodeWriteEntry({ timeMs: 1, db: 0, argv: argv('SET', 'a', '1') }));
    expect(() => machine.apply(5, encodeWriteEntry({ timeMs: 1, db: 0, argv: argv('SET', 'a', '1') }))).toThrow(/apply index/);
  });
});

describe('determinism and the digest', () => {
  it('gives two replicas that apply the same entries the same replies and digest', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      let now = 1_700_000_000_000;
      const leader = new EngineClient(new StateMachine(), () => now);
      const entries: Buffer[] = [];
      const original = leader.machine.apply.bind(leader.machine);
      const replies: string[] = [];
      leader.machine.apply = (index, data) => {
        entries.push(Buffer.from(data));
        const reply = original(index, data);
        replies.push(resp(reply));
        return reply;
      };
      const rng = seededRng(seed);
      // The leader keeps its digest from the start (written by every apply); the follower's is
      // counted from its keys when first asked for: the two ways must agree.
      leader.machine.digest();
      for (const command of randomSequence(rng, 500)) {
        now += Math.floor(rng() * 50);
        leader.call(...command);
        if (rng() < 0.05) leader.sweep();
      }
      const follower = new StateMachine();
      entries.forEach((data, i) => {
        expect(resp(follower.apply(i + 1, data)), `seed=${seed} entry ${i + 1}`).toBe(replies[i]);
      });
      expect(follower.digest()).toBe(leader.machine.digest());
      expect(follower.info(now)).toEqual(leader.machine.info(now));
    }
  });

  it('keeps the digest it tracks equal to one counted afresh, after every entry', () => {
    for (const seed of [6, 7, 8]) {
      let now = 1_700_000_000_000;
      const client = new EngineClient(new StateMachine(), () => now);
      const entries: Buffer[] = [];
      const tracked: string[] = [];
      const original = client.machine.apply.bind(client.machine);
      client.machine.apply = (index, data) => {
        entries.push(Buffer.from(data));
        const reply = original(index, data);
        tracked.push(client.machine.digest());
        return reply;
      };
      const rng = seededRng(seed);
      for (const command of randomSequence(rng, 400)) {
        now += Math.floor(rng() * 50);
        client.call(...command);
        if (rng() < 0.05) client.sweep();
      }
      expect(new Set(tracked).size).toBeGreaterThan(50);
      for (let upTo = 1; upTo <= entries.length; upTo += 1 + Math.floor(rng() * 30)) {
        const fresh = new StateMachine();
        for (let i = 0; i < upTo; i++) fresh.apply(i + 1, entries[i]!);
        expect(fresh.digest(), `seed=${seed} after entry ${upTo}`).toBe(tracked[upTo - 1]);
      }
    }
  });

  it('does not depend on insertion order, but sees every value, TTL and database', () => {
    const digestOf = (...commands: string[][]): string => {
      const machine = new StateMachine();
      commands.forEach((command, i) => machine.apply(i + 1, encodeWriteEntry({ timeMs: 1000, db: 0, argv: argv(...command) })));
      return machine.digest();
    };
    const base = digestOf(['MSET', 'a', '1', 'b', '2']);
    expect(digestOf(['MSET', 'b', '2', 'a', '1'])).toBe(base);
    expect(digestOf(['MSET', 'a', '1', 'b', '3'])).not.toBe(base);
    expect(digestOf(['MSET', 'a', '1', 'c', '2'])).not.toBe(base);
    expect(digestOf(['MSET', 'a', '1', 'b', '2'], ['PEXPIREAT', 'a', '999999'])).not.toBe(digestOf(['MSET', 'a', '1', 'b', '2'], ['PEXPIREAT', 'a', '999998']));
    expect(digestOf(['MSET', 'a', '1', 'b', '2'], ['MOVE', 'b', '1'])).not.toBe(digestOf(['MSET', 'a', '1', 'b', '2'], ['MOVE', 'b', '2']));
    expect(new StateMachine().digest()).toBe(new StateMachine().digest());
  });
});

describe('stored values', () => {
  it('are written as latin1 bytes exactly, on either side of the short-copy limit', () => {
    for (const length of [0, 1, SHORT_COPY_MAX - 1, SHORT_COPY_MAX, SHORT_COPY_MAX + 1, 64, 256, 300]) {
      const bytes = Buffer.alloc(length + 5);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 151 + 7) & 0xff;
      const text = bytes.toString('latin1');
      const target = Buffer.alloc(length + 10, 0xab);
      writeLatin1(target, 3, text, length);
      expect(target.subarray(3, 3 + length).equals(bytes.subarray(0, length)), `length ${length}`).toBe(true);
      expect([...target.subarray(0, 3), ...target.subarray(3 + length)].every((byte) => byte === 0xab), `length ${length}`).toBe(true);
      // The same bytes come back from an arena record, through a snapshot.
      const { client, now } = clocked();
      client.call('SET', 'k', bytes.subarray(0, length));
      client.call('SET', 'ttl', bytes.subarray(0, length), 'EX', '100');
      const replica = new StateMachine();
      const writer = client.machine.beginSnapshot();
      const chunks: Buffer[] = [];
      for (let chunk = writer.nextChunk(1 << 16); chunk !== null; chunk = writer.nextChunk(1 << 16)) chunks.push(chunk);
      replica.restoreFromChunks(chunks);
      for (const key of ['k', 'ttl']) {
        const reply = replica.read(0, [b('GET'), b(key)], now());
        expect(reply.kind === 'bulk' && reply.value.equals(bytes.subarray(0, length)), `${key} of ${length} bytes`).toBe(true);
      }
    }
  });

  it('hash the same bytes the same, held as a latin1 string or as a Buffer', () => {
    for (const length of [0, 1, 3, 4, 5, 8, 1000]) {
      const bytes = Buffer.alloc(length);
      for (let i = 0; i < length; i++) bytes[i] = (i * 37 + 200) & 0xff;
      const fromBuffer = { a: 0, b: 0 };
      const fromString = { a: 0, b: 0 };
      valueHashInto(bytes, 7, fromBuffer);
      valueHashInto(bytes.toString('latin1'), 7, fromString);
      expect(fromString).toEqual(fromBuffer);
    }
  });

  it('keep Redis semantics beyond the string limit (held as Buffers)', () => {
    const { client } = clocked();
    const big = Buffer.alloc(STRING_VALUE_BYTES_MAX + 10, 'a');
    big.write('xyz', 5);
    expect(call(client, 'SET', 'big', 'x')).toBe('+OK\r\n');
    client.call('SET', 'big', big);
    expect(call(client, 'STRLEN', 'big')).toBe(`:${big.length}\r\n`);
    expect(call(client, 'APPEND', 'big', '!')).toBe(`:${big.length + 1}\r\n`);
    expect(call(client, 'GETRANGE', 'big', '4', '8')).toBe('$5\r\naxyza\r\n');
    expect(call(client, 'GETRANGE', 'big', '-2', '-1')).toBe('$2\r\na!\r\n');
    expect(call(client, 'SETRANGE', 'big', '0', 'Z')).toBe(`:${big.length + 1}\r\n`);
    const replica = new StateMachine();
    const writer = client.machine.beginSnapshot();
    const chunks: Buffer[] = [];
    for (let chunk = writer.nextChunk(1 << 22); chunk !== null; chunk = writer.nextChunk(1 << 22)) chunks.push(chunk);
    replica.restoreFromChunks(chunks);
    expect(replica.digest()).toBe(client.machine.digest());
    expect(resp(replica.read(0, argv('GETRANGE', 'big', '0', '6'), 0))).toBe('$7\r\nZaaaaxy\r\n');
    expect(call(client, 'DEL', 'big')).toBe(':1\r\n');
  });
});

describe('expiry follows the entry clock', () => {
  it('makes keys invisible once their time has passed, and deletes them through the log', () => {
    const { client, advance, now } = clocked();
    expect(call(client, 'SET', 'k', 'v', 'PX', '100')).toBe('+OK\r\n');
    expect(call(client, 'SET', 'p', 'v')).toBe('+OK\r\n');
    advance(100);
    // Redis: a key expires when now > when.
    expect(call(client, 'GET', 'k')).toBe('$1\r\nv\r\n');
    expect(call(client, 'PTTL', 'k')).toBe(':0\r\n');
    advance(1);
    expect(call(client, 'GET', 'k')).toBe('$-1\r\n');
    expect(call(client, 'EXISTS', 'k')).toBe(':0\r\n');
    expect(call(client, 'DBSIZE')).toBe(':1\r\n');
    expect(call(client, 'KEYS', '*')).toBe('*1\r\n$1\r\np\r\n');
    // Still stored (reads do not delete) until the sweep.
    expect(client.machine.info(now()).keys).toBe(2);
    const digest = client.machine.digest();
    expect(client.machine.expiredKeys(now(), 10)).toEqual([{ db: 0, key: b('k') }]);
    expect(client.machine.digest()).toBe(digest);
    expect(resp(client.sweep())).toBe(':1\r\n');
    expect(client.machine.info(now()).keys).toBe(1);
    expect(client.machine.expiredKeys(now(), 10)).toEqual([]);
  });

  it('converts relative TTLs with the entry time, so every replica stores the same absolute time', () => {
    const machine = new StateMachine();
    machine.apply(1, encodeWriteEntry({ timeMs: 5_000, db: 0, argv: argv('SET', 'k', 'v', 'EX', '10') }));
    machine.apply(2, encodeWriteEntry({ timeMs: 6_000, db: 0, argv: argv('PEXPIRE', 'j', '1') }));
    expect(resp(machine.read(0, argv('PEXPIRETIME', 'k'), 0))).toBe(':15000\r\n');
    // A reader whose clock is behind the log still sees time as at least the last entry's.
    expect(resp(machine.read(0, argv('PTTL', 'k'), 0))).toBe(':9000\r\n');
    expect(machine.lastTimeMs).toBe(6_000);
    // A leader clock that went backwards is clamped, identically everywhere.
    machine.apply(3, encodeWriteEntry({ timeMs: 1_000, db: 0, argv: argv('SET', 'x', 'v', 'PX', '100') }));
    expect(resp(machine.read(0, argv('PEXPIRETIME', 'x'), 0))).toBe(':6100\r\n');
  });

  it('stores expiry times beyond 2^53 ms as 2^53 - 1 (documented difference)', () => {
    const { client } = clocked();
    call(client, 'SET', 'k', 'v');
    expect(call(client, 'PEXPIREAT', 'k', '9223372036854775807')).toBe(':1\r\n');
    expect(call(client, 'PEXPIRETIME', 'k')).toBe(':9007199254740991\r\n');
    expect(call(client, 'SET', 'j', 'v', 'PXAT', '9223372036854775807')).toBe('+OK\r\n');
    expect(call(client, 'EXPIRETIME', 'j')).toBe(':9007199254741\r\n');
    expect(call(client, 'EXPIRE', 'k', '10', 'LT')).toBe(':1\r\n');
  });

  it('does not delete a key whose TTL moved after the sweep listed it', () => {
    const { client, advance, now } = clocked();
    call(client, 'SET', 'k', 'v', 'PX', '10');
    advance(20);
    const listed = client.machine.expiredKeys(now(), 10);
    call(client, 'SET', 'k', 'fresh');
    const reply = client.machine.apply(++client.index, encodeExpiryEntry({ timeMs: now(), deletes: listed }));
    expect(resp(reply)).toBe(':0\r\n');
    expect(call(client, 'GET', 'k')).toBe('$5\r\nfresh\r\n');
  });

  it('lists no key of a flushed database (regression: the leader proposed its deletion on every tick)', () => {
    for (const flush of [['FLUSHDB'], ['FLUSHALL'], ['SWAPDB']] as const) {
      const { client, advance, now } = clocked();
      call(client, 'SELECT', '2');
      call(client, 'SET', 'gone', 'v', 'PX', '10');
      call(client, 'SET', 'kept', 'v', 'PX', '10');
      if (flush[0] === 'SWAPDB') {
        // SWAPDB moves the database, keys and all: its keys still expire, at their new index.
        call(client, 'SWAPDB', '2', '5');
      } else {
        call(client, ...flush);
      }
      advance(20);
      const listed = client.machine.expiredKeys(now(), 10).map((item) => `${item.db}:${item.key.toString()}`).sort();
      expect(listed, flush[0]).toEqual(flush[0] === 'SWAPDB' ? ['5:gone', '5:kept'] : []);
    }
  });

  it('counts a key once however often it was given the same expiry (regression: seed 12)', () => {
    const { client, advance, now } = clocked();
    call(client, 'SET', 'k', 'v', 'PXAT', '1000');
    call(client, 'SET', 'k', 'v', 'PXAT', '1000');
    call(client, 'SET', 'live', 'v');
    advance(1);
    expect(call(client, 'DBSIZE')).toBe(':1\r\n');
    expect(client.machine.expiredKeys(now(), 10)).toEqual([{ db: 0, key: b('k') }]);
  });

  it('lists exactly the stored keys whose time has passed, through heap compactions', () => {
    const { client, advance, now } = clocked();
    const rng = seededRng(5);
    const expected = new Map<string, number>();
    for (let i = 0; i < 6000; i++) {
      const key = `k${Math.floor(rng() * 300)}`;
      const roll = rng();
      if (roll < 0.6) {
        const ms = 1 + Math.floor(rng() * 2000);
        call(client, 'SET', key, 'v', 'PX', String(ms));
        expected.set(key, now() + ms);
      } else if (roll < 0.8) {
        call(client, 'PERSIST', key);
        // Touching a key whose time has passed deletes it.
        const at = expected.get(key);
        if (at !== undefined && at !== 0) {
          if (at < now()) expected.delete(key);
          else expected.set(key, 0);
        }
      } else if (roll < 0.9) {
        call(client, 'DEL', key);
        expected.delete(key);
      } else {
        advance(Math.floor(rng() * 100));
      }
      if (i % 500 === 0) {
        const listed = client.machine.expiredKeys(now(), 100_000).map((item) => item.key.toString()).sort();
        const due = [...expected].filter(([, at]) => at !== 0 && at < now()).map(([key]) => key).sort();
        expect(listed).toEqual(due);
      }
    }
  });

  it('keeps the expiry heap bounded when TTLs are rewritten over and over', () => {
    const { client } = clocked();
    for (let i = 0; i < 5000; i++) call(client, 'SET', `k${i % 10}`, 'v', 'EX', String(100 + i));
    const heap = (client.machine as unknown as { keyspace: { heap: { items: unknown[] } } }).keyspace.heap.items;
    expect(heap.length).toBeLessThan(2 * 10 + 1024 + 1);
  });
});

describe('WATCH decided at apply time', () => {
  const exec = (client: EngineClient, ...watched: string[]): string => {
    call(client, 'WATCH', ...watched);
    return '';
  };

  it('aborts when a key that existed at WATCH expires before EXEC', () => {
    const { client, advance } = clocked();
    call(client, 'SET', 'k', 'v', 'PX', '50');
    exec(client, 'k');
    advance(100);
    call(client, 'MULTI');
    call(client, 'SET', 'other', '1');
    expect(call(client, 'EXEC')).toBe('*-1\r\n');
  });

  it('does not abort when a key already expired at WATCH is then deleted by the sweep', () => {
    const { client, advance } = clocked();
    call(client, 'SET', 'k', 'v', 'PX', '50');
    advance(100);
    exec(client, 'k');
    client.sweep();
    call(client, 'MULTI');
    call(client, 'SET', 'other', '1');
    expect(call(client, 'EXEC')).toBe('*1\r\n+OK\r\n');
  });

  it('aborts when an absent key is created and deleted again', () => {
    const { client } = clocked();
    exec(client, 'k');
    call(client, 'SET', 'k', 'v');
    call(client, 'DEL', 'k');
    call(client, 'MULTI');
    call(client, 'GET', 'k');
    expect(call(client, 'EXEC')).toBe('*-1\r\n');
  });

  it('follows Redis across FLUSHDB and SWAPDB: only keys that existed are touched', () => {
    const { client } = clocked();
    call(client, 'SET', 'present', 'v');
    exec(client, 'absent');
    call(client, 'FLUSHDB');
    call(client, 'MULTI');
    call(client, 'PING');
    expect(call(client, 'EXEC')).toBe('*1\r\n+PONG\r\n');
    call(client, 'SET', 'present', 'v');
    exec(client, 'present');
    call(client, 'FLUSHALL');
    call(client, 'MULTI');
    call(client, 'PING');
    expect(call(client, 'EXEC')).toBe('*-1\r\n');
    call(client, 'SELECT', '1');
    call(client, 'SET', 'other', 'v');
    call(client, 'SELECT', '0');
    exec(client, 'absent');
    call(client, 'SWAPDB', '0', '1');
    call(client, 'MULTI');
    call(client, 'PING');
    expect(call(client, 'EXEC')).toBe('*1\r\n+PONG\r\n');
    exec(client, 'other');
    call(client, 'SWAPDB', '0', '1');
    call(client, 'MULTI');
    call(client, 'PING');
    expect(call(client, 'EXEC')).toBe('*-1\r\n');
  });

  it('takes the database of the watched key, not the EXEC database', () => {
    const { client } = clocked();
    call(client, 'SELECT', '3');
    exec(client, 'k');
    call(client, 'SELECT', '0');
    call(client, 'SET', 'k', 'v');
    call(client, 'MULTI');
    call(client, 'PING');
    expect(call(client, 'EXEC')).toBe('*1\r\n+PONG\r\n');
    call(client, 'SELECT', '3');
    exec(client, 'k');
    call(client, 'SET', 'k', 'v');
    call(client, 'MULTI');
    call(client, 'PING');
    expect(call(client, 'EXEC')).toBe('*-1\r\n');
  });

  it('runs TIME and RANDOMKEY inside a transaction from the entry, deterministically', () => {
    const { client, now } = clocked(1_700_000_000_123);
    call(client, 'MSET', 'a', '1', 'b', '2', 'c', '3');
    call(client, 'MULTI');
    call(client, 'TIME');
    call(client, 'RANDOMKEY');
    const first = call(client, 'EXEC');
    expect(first.startsWith(`*2\r\n*2\r\n$10\r\n${Math.floor(now() / 1000)}\r\n$6\r\n123000\r\n$1\r\n`)).toBe(true);
  });
});

describe('SET IFEQ (Valkey 8.1 compare-and-set)', () => {
  it('sets only when the current value equals the comparison value', () => {
    const { client } = clocked();
    expect(call(client, 'SET', 'k', 'new', 'IFEQ', 'old')).toBe('$-1\r\n');
    expect(call(client, 'EXISTS', 'k')).toBe(':0\r\n');
    call(client, 'SET', 'k', 'old');
    expect(call(client, 'SET', 'k', 'new', 'IFEQ', 'other')).toBe('$-1\r\n');
    expect(call(client, 'SET', 'k', 'new', 'ifeq', 'old')).toBe('+OK\r\n');
    expect(call(client, 'GET', 'k')).toBe('$3\r\nnew\r\n');
    expect(call(client, 'SET', 'k', 'newer', 'IFEQ', 'new', 'GET')).toBe('$3\r\nnew\r\n');
    expect(call(client, 'SET', 'k', 'x', 'IFEQ', 'nope', 'GET')).toBe('$5\r\nnewer\r\n');
    expect(call(client, 'GET', 'k')).toBe('$5\r\nnewer\r\n');
    expect(call(client, 'SET', 'k', 'v', 'IFEQ', 'newer', 'EX', '100')).toBe('+OK\r\n');
    expect(call(client, 'TTL', 'k')).toBe(':100\r\n');
  });

  it('rejects IFEQ with NX, XX, itself or without a value', () => {
    const { client } = clocked();
    for (const args of [['IFEQ', 'a', 'NX'], ['NX', 'IFEQ', 'a'], ['XX', 'IFEQ', 'a'], ['IFEQ', 'a', 'IFEQ', 'b'], ['IFEQ']]) {
      expect(call(client, 'SET', 'k', 'v', ...args), args.join(' ')).toBe('-ERR syntax error\r\n');
    }
  });
});

describe('snapshots', () => {
  /** Applies random writes (with deletes, flushes, swaps, expiries) through a client. */
  function populate(client: EngineClient, seed: number, count: number, advance: (ms: number) => void): void {
    const rng = seededRng(seed);
    for (const command of randomSequence(rng, count)) {
      advance(Math.floor(rng() * 20));
      client.call(...command);
    }
  }

  function contents(machine: StateMachine, nowMs: number): string[] {
    const out: string[] = [];
    for (let db = 0; db < 16; db++) {
      const keys = machine.read(db, argv('KEYS', '*'), nowMs);
      if (keys.kind !== 'array') throw new Error('KEYS');
      for (const key of keys.value) {
        if (key.kind !== 'bulk') throw new Error('key');
        out.push(`${db}:${key.value.toString('latin1')}=${resp(machine.read(db, [b('GET'), key.value], nowMs))}|${resp(machine.read(db, [b('PEXPIRETIME'), key.value], nowMs))}`);
      }
    }
    return out.sort();
  }

  it('reproduces exactly the state at its index while writes keep being applied', () => {
    // With the digest kept, the image carries it and the restore checks the copy-on-write result
    // against it; without, the image carries UNTRACKED_DIGEST and `contents` alone checks it.
    for (const [seed, keepsDigest] of [[11, true], [12, false], [13, true]] as const) {
      const { client, advance, now } = clocked();
      // A random history (tombstones, TTLs, several databases), then enough keys to span many slots.
      populate(client, seed, 600, advance);
      for (let i = 0; i < 3000; i++) client.call('SET', `bulk:${i}`, `value-${i}`, ...(i % 7 === 0 ? ['EX', '1000'] : []));
      client.call('SET', 'large', Buffer.alloc(300_000, 'z'));
      if (keepsDigest) client.machine.digest();
      const reference = new StateMachine();
      const writer = client.machine.beginSnapshot();
      expect(writer.meta.appliedIndex).toBe(client.index);
      const digestAtSnapshot = client.machine.digest();
      expect(writer.meta.digest).toBe(keepsDigest ? digestAtSnapshot : UNTRACKED_DIGEST);
      // Replay the same history into a reference machine that stops at the snapshot index.
      const atSnapshot = contents(client.machine, now());
      const chunks: Buffer[] = [];
      const rng = seededRng(seed + 100);
      const later = randomSequence(rng, 2000);
      let next = 0;
      for (;;) {
        const chunk = writer.nextChunk(1 + Math.floor(rng() * 40_000));
        if (chunk === null) break;
        chunks.push(chunk);
        // Writes between chunks, including the ones that move whole databases.
        for (let i = 0; i < 8 && next < later.length; i++) client.call(...later[next++]!);
        if (rng() < 0.05) client.call('FLUSHDB');
        if (rng() < 0.05) client.call('SWAPDB', String(Math.floor(rng() * 3)), String(Math.floor(rng() * 3)));
        if (rng() < 0.05) client.call('SET', `bulk:${Math.floor(rng() * 3000)}`, 'overwritten');
        if (rng() < 0.05) client.call('DEL', `bulk:${Math.floor(rng() * 3000)}`);
      }
      expect(chunks.length).toBeGreaterThan(5);
      reference.restoreFromChunks(chunks);
      expect(reference.digest(), `seed=${seed}`).toBe(digestAtSnapshot);
      expect(reference.appliedIndex).toBe(writer.meta.appliedIndex);
      expect(contents(reference, now())).toEqual(atSnapshot);
      expect(client.machine.info(now()).snapshotInProgress).toBe(false);
    }
  });

  it('restores a replica that then follows the log to the same digest (WATCH state included)', () => {
    const { client, advance } = clocked();
    populate(client, 21, 800, advance);
    const entries: [number, Buffer][] = [];
    const original = client.machine.apply.bind(client.machine);
    // Take the snapshot fully first; then record the entries that follow it.
    const chunks: Buffer[] = [];
    const writer = client.machine.beginSnapshot();
    for (let chunk = writer.nextChunk(4096); chunk !== null; chunk = writer.nextChunk(4096)) chunks.push(chunk);
    client.machine.apply = (index, data) => {
      entries.push([index, Buffer.from(data)]);
      return original(index, data);
    };
    populate(client, 22, 800, advance);
    const replica = new StateMachine();
    const restorer = replica.beginRestore();
    for (const chunk of chunks) restorer.push(chunk);
    replica.finishRestore(restorer);
    for (const [index, data] of entries) replica.apply(index, data);
    expect(replica.digest()).toBe(client.machine.digest());
  });

  it('splits values larger than a chunk, and restores from any chunking', () => {
    const { client } = clocked();
    client.call('SET', 'big', Buffer.alloc(100_000, 1));
    client.call('SET', Buffer.alloc(70_000, 2), 'big key');
    const writer = client.machine.beginSnapshot();
    const chunks: Buffer[] = [];
    for (let chunk = writer.nextChunk(1000); chunk !== null; chunk = writer.nextChunk(1000)) {
      expect(chunk.length).toBeLessThanOrEqual(1000);
      chunks.push(chunk);
    }
    const stream = Buffer.concat(chunks);
    for (const size of [1, 7, 65536, stream.length]) {
      const replica = new StateMachine();
      const pieces: Buffer[] = [];
      for (let at = 0; at < stream.length; at += size) pieces.push(stream.subarray(at, at + size));
      replica.restoreFromChunks(pieces);
      expect(replica.digest()).toBe(client.machine.digest());
    }
  });

  it('rejects corrupt, truncated and overlong streams', () => {
    const { client } = clocked();
    client.call('MSET', 'a', '1', 'b', '2');
    const writer = client.machine.beginSnapshot();
    const chunks: Buffer[] = [];
    for (let chunk = writer.nextChunk(64); chunk !== null; chunk = writer.nextChunk(64)) chunks.push(chunk);
    const stream = Buffer.concat(chunks);
    const flipped = Buffer.from(stream);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 40) ^ 1, flipped.length - 40);
    expect(() => new StateMachine().restoreFromChunks([flipped])).toThrow(SnapshotFormatError);
    expect(() => new StateMachine().restoreFromChunks([stream.subarray(0, stream.length - 1)])).toThrow(SnapshotFormatError);
    expect(() => new StateMachine().restoreFromChunks([stream, b('x')])).toThrow(SnapshotFormatError);
    expect(() => new StateMachine().restoreFromChunks([b('not a snapshot at all')])).toThrow(SnapshotFormatError);
    const machine = new StateMachine();
    expect(() => machine.restoreFromChunks([flipped])).toThrow();
    // A failed restore leaves the machine as it was.
    expect(machine.digest()).toBe(new StateMachine().digest());
  });

  it('cancels an older snapshot when a new one begins', () => {
    const { client } = clocked();
    client.call('SET', 'a', '1');
    const first = client.machine.beginSnapshot();
    client.machine.beginSnapshot();
    expect(() => first.nextChunk(100)).toThrow(/cancelled/);
  });
});

describe('reads and iteration', () => {
  it('never changes the keyspace', () => {
    const { client, advance, now } = clocked();
    call(client, 'SET', 'k', 'v', 'PX', '5');
    call(client, 'SET', 'j', 'v');
    advance(10);
    const before = client.machine.digest();
    for (const command of [['GET', 'k'], ['KEYS', '*'], ['SCAN', '0'], ['TTL', 'k'], ['DBSIZE'], ['RANDOMKEY'], ['LCS', 'k', 'j'], ['MGET', 'k', 'j']]) {
      client.machine.read(0, argv(...command), now());
    }
    expect(client.machine.digest()).toBe(before);
    expect(() => client.machine.read(0, argv('SET', 'x', 'y'), now())).toThrow(/assertion/);
  });

  it('SCAN returns every key present for the whole iteration, whatever is written meanwhile', () => {
    const { client, now } = clocked();
    for (let i = 0; i < 2000; i++) call(client, 'SET', `stay:${i}`, 'v');
    const seen = new Set<string>();
    let cursor = '0';
    let step = 0;
    do {
      const reply = client.machine.read(0, argv('SCAN', cursor, 'COUNT', '37'), now());
      if (reply.kind !== 'array' || reply.value[0]?.kind !== 'bulk' || reply.value[1]?.kind !== 'array') throw new Error('SCAN');
      cursor = reply.value[0].value.toString();
      for (const key of reply.value[1].value) if (key.kind === 'bulk') seen.add(key.value.toString());
      // Grow and shrink the table between calls.
      for (let i = 0; i < 60; i++) call(client, 'SET', `churn:${step}:${i}`, 'v');
      if (step % 3 === 0) for (let i = 0; i < 60; i++) call(client, 'DEL', `churn:${step - 3}:${i}`);
      step++;
      expect(step).toBeLessThan(10_000);
    } while (cursor !== '0');
    for (let i = 0; i < 2000; i++) expect(seen.has(`stay:${i}`), `stay:${i}`).toBe(true);
  });

  it('reports INFO figures', () => {
    const { client, now } = clocked();
    call(client, 'SET', 'a', 'v', 'EX', '100');
    call(client, 'SET', 'b', 'v');
    call(client, 'SELECT', '2');
    call(client, 'SET', 'c', 'v');
    const info = client.machine.info(now());
    expect(info.keyspace).toEqual([
      { db: 0, keys: 2, expires: 1, avgTtlMs: 100_000 },
      { db: 2, keys: 1, expires: 0, avgTtlMs: 0 },
    ]);
    expect(info.keys).toBe(3);
    expect(info.memoryBytes).toBeGreaterThan(0);
    expect(info.appliedIndex).toBe(client.index);
  });
});
