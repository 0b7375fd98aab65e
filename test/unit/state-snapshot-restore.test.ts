// The snapshot restorer's parse loop and the keyspace's bulk-load path: whatever sizes the stream
// arrives in (one byte at a time, pieces that end inside a length, a key, a value or the trailer),
// the restored machine holds the same keys, values, TTLs, WATCH versions and digest as the source;
// and a corrupt stream is rejected with an error that says what is wrong, leaving the machine as it
// was. Also the keyspace's two stored forms (a value-arena record for a key without expiry and a
// short value, an object otherwise): every command sees the same value, expiry and index through either.
import { describe, expect, it } from 'vitest';
import type { Reply } from '../../src/resp/reply.js';
import { StateMachine, SnapshotFormatError, encodeWriteEntry } from '../../src/state/index.js';
import { ARENA_VALUE_BYTES_MAX } from '../../src/state/value-arena.js';
import { UNTRACKED_DIGEST } from '../../src/state/snapshot.js';
import { encodeReply } from './commands/encode-reply.js';
import { EngineClient } from './state/harness.js';
import { randomSequence, seededRng } from './state/random-commands.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');
const resp = (reply: Reply): string => encodeReply(reply).toString('latin1');
const NOW = 1_700_000_000_000;

/** Every key of every database: value, absolute expiry and WATCH version. */
function contents(machine: StateMachine): string[] {
  const out: string[] = [];
  for (let db = 0; db < 16; db++) {
    const keys = machine.read(db, [b('KEYS'), b('*')], NOW);
    if (keys.kind !== 'array') throw new Error('KEYS');
    for (const key of keys.value) {
      if (key.kind !== 'bulk') throw new Error('key');
      const value = resp(machine.read(db, [b('GET'), key.value], NOW));
      const expiry = resp(machine.read(db, [b('PEXPIRETIME'), key.value], NOW));
      out.push(`${db}:${key.value.toString('hex')}=${Buffer.from(value, 'latin1').toString('hex')}|${expiry}|${machine.modIndex(db, key.value)}`);
    }
  }
  return out.sort();
}

/** A source machine holding every kind of record: both stored forms, TTLs, tombstones, several databases. */
function source(): EngineClient {
  const client = new EngineClient(new StateMachine(), () => NOW);
  const rng = seededRng(5);
  for (const command of randomSequence(rng, 400)) client.call(...command);
  client.call('SELECT', '0');
  for (let i = 0; i < 300; i++) client.call('SET', `k:${i}`, `value-${i}`, ...(i % 5 === 0 ? ['PX', String(100_000 + i)] : []));
  for (let i = 0; i < 300; i += 7) client.call('DEL', `k:${i}`);
  client.call('SET', 'empty', '');
  client.call('SET', Buffer.from([0, 255, 13, 10]), Buffer.from([255, 0, 128, 1, 2, 3, 4, 5, 6, 7, 8]));
  client.call('SET', 'at-packed-limit', Buffer.alloc(ARENA_VALUE_BYTES_MAX, 0xfe));
  client.call('SET', 'over-packed-limit', Buffer.alloc(ARENA_VALUE_BYTES_MAX + 1, 0xfd));
  client.call('SET', 'long', Buffer.alloc(70_000, 3), 'EX', '5000');
  client.call('SELECT', '9');
  client.call('SET', 'other-db', 'x');
  client.call('SELECT', '0');
  return client;
}

function image(machine: StateMachine, chunkBytes: number): Buffer {
  const writer = machine.beginSnapshot();
  const chunks: Buffer[] = [];
  for (let chunk = writer.nextChunk(chunkBytes); chunk !== null; chunk = writer.nextChunk(chunkBytes)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function restoreInPieces(stream: Buffer, cuts: readonly number[]): StateMachine {
  const machine = new StateMachine();
  const restorer = machine.beginRestore();
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    // Each piece is a copy, so a restorer that kept a view of a piece it should have copied
    // cannot pass by reading the shared stream.
    restorer.push(Buffer.from(stream.subarray(at, cut)));
    at = cut;
  }
  machine.finishRestore(restorer);
  return machine;
}

describe('restoring a snapshot pushed in pieces', () => {
  const client = source();
  const expected = contents(client.machine);
  const stream = image(client.machine, 1 << 20);

  it('has a source with keys of both stored forms, TTLs and tombstones', () => {
    expect(expected.length).toBeGreaterThan(250);
    expect(expected.some((line) => line.endsWith(`|:-1\r\n|${client.machine.modIndex(0, b('k:1'))}`))).toBe(true);
    expect(expected.filter((line) => !line.includes('|:-1\r\n|')).length).toBeGreaterThan(50);
    expect(client.machine.modIndex(0, b('k:7'))).toBeGreaterThan(0);
  });

  it.each([1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 25, 26, 64, 100, 1000, 4095, 4103, 65536])('gives the same keys, TTLs, versions and digest in pieces of %i bytes', (size) => {
    const cuts: number[] = [];
    for (let at = size; at < stream.length; at += size) cuts.push(at);
    const restored = restoreInPieces(stream, cuts);
    expect(restored.digest()).toBe(client.machine.digest());
    expect(restored.appliedIndex).toBe(client.machine.appliedIndex);
    expect(restored.lastTimeMs).toBe(client.machine.lastTimeMs);
    expect(contents(restored)).toEqual(expected);
    // Deleted keys keep their WATCH versions (tombstones).
    expect(restored.modIndex(0, b('k:7'))).toBe(client.machine.modIndex(0, b('k:7')));
  });

  it('gives the same state whatever random places the stream is cut at', () => {
    const rng = seededRng(77);
    for (let round = 0; round < 20; round++) {
      const cuts = new Set<number>();
      const count = 1 + Math.floor(rng() * 200);
      for (let i = 0; i < count; i++) cuts.add(1 + Math.floor(rng() * (stream.length - 1)));
      const restored = restoreInPieces(stream, [...cuts].sort((x, y) => x - y));
      expect(restored.digest(), `round ${round}`).toBe(client.machine.digest());
      expect(contents(restored)).toEqual(expected);
    }
  });

  it('restores a replica that then applies the same writes to the same digest', () => {
    const leader = source();
    const restored = restoreInPieces(image(leader.machine, 1 << 20), [3, 40, 41, 5000]);
    const replica = new EngineClient(restored, () => NOW + 200_000);
    replica.index = leader.machine.appliedIndex;
    const writes: (string | Buffer)[][] = [
      ['SET', 'k:1', 'new'], ['DEL', 'k:2'], ['EXPIRE', 'k:3', '10'], ['PERSIST', 'k:5'], ['APPEND', 'at-packed-limit', 'x'],
      ['RENAME', 'k:4', 'renamed'], ['INCR', 'counter'], ['SWAPDB', '0', '9'], ['FLUSHDB'],
    ];
    const other = new EngineClient(leader.machine, () => NOW + 200_000);
    other.index = leader.machine.appliedIndex;
    for (const write of writes) {
      expect(resp(replica.call(...write))).toBe(resp(other.call(...write)));
      expect(replica.machine.digest()).toBe(other.machine.digest());
    }
    expect(contents(replica.machine)).toEqual(contents(other.machine));
  });

  it('keeps an index above 2^32 exactly in an arena record, through a snapshot', () => {
    const machine = new StateMachine();
    const index = 2 ** 40 + 12345;
    machine.apply(index, encodeWriteEntry({ timeMs: NOW, db: 0, argv: [b('SET'), b('k'), b('v')] }));
    expect(machine.modIndex(0, b('k'))).toBe(index);
    const restored = restoreInPieces(image(machine, 10), [1, 9, 30]);
    expect(restored.modIndex(0, b('k'))).toBe(index);
    expect(restored.digest()).toBe(machine.digest());
  });
});

describe('the digest in the trailer', () => {
  it('is written only while the keyspace keeps one', () => {
    const client = source();
    const untracked = client.machine.beginSnapshot();
    expect(untracked.meta.digest).toBe(UNTRACKED_DIGEST);
    untracked.cancel();
    const digest = client.machine.digest();
    expect(digest).toMatch(/^[0-9a-f]{16}$/);
    expect(client.machine.beginSnapshot().meta.digest).toBe(digest);
  });

  it('is checked on restore, and the restored machine keeps none until asked', () => {
    const client = source();
    client.machine.digest();
    const restored = restoreInPieces(image(client.machine, 1 << 20), [10, 2000]);
    expect(restored.beginSnapshot().meta.digest).toBe(UNTRACKED_DIGEST);
    expect(restored.digest()).toBe(client.machine.digest());
    expect(restored.beginSnapshot().meta.digest).toBe(client.machine.digest());
  });
});

describe('rejecting a corrupt snapshot', () => {
  const client = new EngineClient(new StateMachine(), () => NOW);
  client.call('MSET', 'a', '1', 'b', '2', 'c', '3');
  // Kept from here on, so the image carries a digest for the restore to check.
  client.machine.digest();
  const stream = image(client.machine, 1 << 20);
  /** Offset of the first key record (tag 1) after the database header. */
  const firstKey = stream.indexOf(Buffer.from([1, 1, 0, 0, 0]), 8 + 17 + 18);

  function rejects(bytes: Buffer, message: RegExp): void {
    const machine = new StateMachine();
    machine.apply(1, encodeWriteEntry({ timeMs: NOW, db: 0, argv: [b('SET'), b('before'), b('1')] }));
    const digest = machine.digest();
    expect(() => machine.restoreFromChunks([bytes])).toThrow(SnapshotFormatError);
    expect(() => machine.restoreFromChunks([bytes])).toThrow(message);
    // In pieces too, and a failed restore leaves the machine as it was.
    expect(() => machine.restoreFromChunks([...bytes].map((byte) => Buffer.from([byte])))).toThrow(message);
    expect(machine.digest()).toBe(digest);
  }

  it('finds the first key record to corrupt', () => {
    expect(firstKey).toBeGreaterThan(0);
    expect(stream[firstKey + 5]).toBe(b('a')[0]);
  });

  it('rejects a changed value by the digest', () => {
    const bad = Buffer.from(stream);
    bad[firstKey + 5 + 1 + 4]! ^= 1;
    rejects(bad, /digest [0-9a-f]{16} does not match trailer/);
  });

  it('rejects a bad magic, version, tag, index or database', () => {
    rejects(b('not a snapshot at all, but long enough'), /bad magic/);
    const version = Buffer.from(stream);
    version[8] = 9;
    rejects(version, /unsupported snapshot version 9/);
    const tag = Buffer.from(stream);
    tag[firstKey] = 7;
    rejects(tag, /unknown record tag 7/);
    const index = Buffer.from(stream);
    index.writeDoubleLE(0.5, firstKey + 5 + 1 + 4 + 1 + 8);
    rejects(index, /key "a": bad expiry 0 or index 0.5/);
    const db = Buffer.from(stream);
    db[8 + 17 + 1] = 16;
    rejects(db, /database 16 out of range/);
  });

  it('rejects a truncated stream, bytes after the trailer, a wrong count and a repeated key', () => {
    rejects(stream.subarray(0, stream.length - 1), /ended early/);
    rejects(stream.subarray(0, firstKey + 3), /ended early/);
    rejects(Buffer.concat([stream, b('x')]), /1 bytes after the snapshot trailer|bytes after the end of the snapshot/);
    const count = Buffer.from(stream);
    count.writeDoubleLE(4, stream.length - 24);
    rejects(count, /snapshot holds 3 keys, trailer says 4/);
    // The first key's record twice, with the trailer's count raised to match: only the slots tell.
    const record = stream.subarray(firstKey, firstKey + 1 + 4 + 1 + 4 + 1 + 16);
    const twice = Buffer.concat([stream.subarray(0, firstKey), record, stream.subarray(firstKey)]);
    twice.writeDoubleLE(4, twice.length - 24);
    rejects(twice, /holds a key more than once/);
  });

  it('rejects bytes pushed after the trailer', () => {
    const restorer = new StateMachine().beginRestore();
    restorer.push(stream);
    expect(() => restorer.push(b('x'))).toThrow(/bytes after the end of the snapshot/);
  });
});
