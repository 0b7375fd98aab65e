// The state machine applies a plain `SET key value` entry from its bytes (plainSetInto and
// StateMachine.applyPlainSet) instead of through the decoder and the SET handler. These tests hold
// the fast path to the general one: the same keyspace (digest and values) for the same entries,
// and every entry it must not take (other commands, options, bad bytes) left to the decoder,
// with the replies the decoder gives.
import { describe, expect, it } from 'vitest';
import { StateMachine, encodeTransactionEntry, encodeWriteEntry } from '../../src/state/index.js';
import { plainSetInto, type PlainSet } from '../../src/state/codec.js';
import { ARENA_VALUE_BYTES_MAX } from '../../src/state/value-arena.js';
import { seededRng } from './state/random-commands.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');
const TIME = 1_700_000_000_000;

function scratch(): PlainSet {
  return { timeMs: -1, db: -1, keyStart: -1, keyEnd: -1, valueStart: -1, valueEnd: -1 };
}

/** A random spelling of "set" (Redis command names are case-insensitive). */
function setName(random: () => number): Buffer {
  return Buffer.from([...'set'].map((c) => (random() < 0.5 ? c.toUpperCase() : c)).join(''), 'latin1');
}

function randomBytes(random: () => number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
}

describe('plain SET fast path', () => {
  it('finds the key and value of a plain SET entry, for every length class of key and value', () => {
    for (const keyBytes of [0, 1, 127, 128, 20_000]) {
      for (const valueBytes of [0, 1, 64, 127, 128, ARENA_VALUE_BYTES_MAX, ARENA_VALUE_BYTES_MAX + 1, 100_000]) {
        const key = Buffer.alloc(keyBytes, 0x6b);
        const value = Buffer.alloc(valueBytes, 0xfe);
        const data = encodeWriteEntry({ timeMs: TIME, db: 7, argv: [b('sEt'), key, value] });
        const out = scratch();
        expect(plainSetInto(data, out)).toBe(true);
        expect([out.timeMs, out.db, out.valueEnd]).toEqual([TIME, 7, data.length]);
        expect(data.subarray(out.keyStart, out.keyEnd).equals(key)).toBe(true);
        expect(data.subarray(out.valueStart, out.valueEnd).equals(value)).toBe(true);
      }
    }
  });

  it('leaves every other entry to the decoder', () => {
    const plain = encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SET'), b('k'), b('v')] });
    const others: [string, Buffer][] = [
      ['another command', encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('GET'), b('k'), b('v')] })],
      ['a name that only starts like SET', encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SETX'), b('k'), b('v')] })],
      ['a first letter that is not s', encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('GET'), b('k'), b('v')] })],
      ['a second letter that is not e', encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SAT'), b('k'), b('v')] })],
      ['a third letter that is not t', encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SEX'), b('k'), b('v')] })],
      ['SET with an option', encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SET'), b('k'), b('v'), b('NX')] })],
      ['SET with too few arguments', encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SET'), b('k')] })],
      ['a transaction', encodeTransactionEntry({ timeMs: TIME, db: 0, commands: [[b('SET'), b('k'), b('v')]], watches: [] })],
      ['a trailing byte', Buffer.concat([plain, Buffer.from([0])])],
      ['a truncated value', plain.subarray(0, plain.length - 1)],
      ['a time that is not a whole number', Buffer.from(plain).fill(0xff, 1, 9)],
    ];
    const fractional = Buffer.from(plain);
    fractional.writeDoubleLE(1.5, 1);
    others.push(['a fractional time', fractional]);
    const negative = Buffer.from(plain);
    negative.writeDoubleLE(-1, 1);
    others.push(['a negative time', negative]);
    const longVarint = Buffer.concat([plain.subarray(0, 15), Buffer.alloc(8, 0x80), Buffer.from([1])]);
    others.push(['a key length varint of nine bytes', longVarint]);
    // Made from a plain SET's bytes: another kind of entry; a key that runs to the end with no
    // value after it; a key length written as a nine-byte varint of 0 (Reader.varint stops at eight).
    const otherKind = Buffer.from(plain);
    otherKind[0] = 2;
    others.push(['another kind of entry', otherKind]);
    others.push(['no value after the key', Buffer.concat([plain.subarray(0, 15), Buffer.from([1]), b('k')])]);
    others.push(['a nine-byte varint of 0', Buffer.concat([plain.subarray(0, 15), Buffer.alloc(8, 0x80), Buffer.from([0, 1]), b('v')])]);
    for (const [what, data] of others) expect(plainSetInto(data, scratch()), what).toBe(false);
    expect(plainSetInto(plain, scratch())).toBe(true);
    expect(plainSetInto(encodeWriteEntry({ timeMs: 0, db: 0, argv: [b('SET'), b('k'), b('v')] }), scratch()), 'time 0').toBe(true);
  });

  it('answers bad SET entries as the decoder and the handler do', () => {
    const machine = new StateMachine();
    const plain = encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SET'), b('k'), b('v')] });
    expect(machine.apply(1, Buffer.concat([plain, Buffer.from([0])]))).toEqual({
      kind: 'error', value: 'ERR undecodable log entry: trailing bytes after entry of kind 1',
    });
    expect(machine.apply(2, plain.subarray(0, plain.length - 1))).toMatchObject({ kind: 'error', value: expect.stringMatching(/^ERR undecodable log entry: entry truncated/) });
    expect(machine.apply(3, encodeWriteEntry({ timeMs: TIME, db: 16, argv: [b('SET'), b('k'), b('v')] }))).toEqual({
      kind: 'error', value: 'ERR DB index is out of range',
    });
    expect(machine.apply(4, plain)).toEqual({ kind: 'simple', value: 'OK' });
    expect(machine.read(0, [b('GET'), b('k')], TIME)).toEqual({ kind: 'bulk', value: b('v') });
  });

  it('closes the keyspace to writes after a plain SET, as after any entry', () => {
    const machine = new StateMachine();
    const keyspace = (machine as unknown as { keyspace: { mutable: boolean } }).keyspace;
    machine.apply(1, encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SET'), b('k'), b('v')] }));
    expect(keyspace.mutable).toBe(false);
    machine.apply(2, encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SET'), b('k'), b('v'), b('NX')] }));
    expect(keyspace.mutable).toBe(false);
  });

  it('leaves the same keyspace as the SET handler, over random keys, values, databases and TTLs', () => {
    const random = seededRng(0x5e7);
    const fast = new StateMachine();
    const general = new StateMachine();
    const keys = [b(''), b('k'), randomBytes(random, 200), ...Array.from({ length: 20 }, (_, i) => b(`key:${i}`))];
    const sizes = [0, 3, 64, ARENA_VALUE_BYTES_MAX, ARENA_VALUE_BYTES_MAX + 1, 10_000];
    const values = sizes.flatMap((size) => [randomBytes(random, size), randomBytes(random, size)]);
    for (let index = 1; index <= 2000; index++) {
      const db = Math.floor(random() * 16);
      const key = keys[Math.floor(random() * keys.length)]!;
      const timeMs = TIME + index;
      if (random() < 0.15) {
        // A key with a TTL, which a later plain SET must clear.
        const data = encodeWriteEntry({ timeMs, db, argv: [b('SET'), key, b('ttl'), b('PX'), b('100000')] });
        expect(fast.apply(index, data)).toEqual(general.apply(index, data));
      } else {
        const value = values[Math.floor(random() * values.length)]!;
        const name = setName(random);
        expect(fast.apply(index, encodeWriteEntry({ timeMs, db, argv: [name, key, value] }))).toEqual({ kind: 'simple', value: 'OK' });
        // The general path: the same SET inside a transaction goes through the decoder and the handler.
        expect(general.apply(index, encodeTransactionEntry({ timeMs, db, commands: [[name, key, value]], watches: [] }))).toEqual({
          kind: 'array', value: [{ kind: 'simple', value: 'OK' }],
        });
      }
      if (index % 100 === 0) expect(fast.digest(), `after entry ${index}`).toBe(general.digest());
    }
    expect(fast.digest()).toBe(general.digest());
    expect(fast.lastTimeMs).toBe(general.lastTimeMs);
    for (let db = 0; db < 16; db++) {
      for (const key of keys) {
        for (const command of ['GET', 'PTTL']) {
          expect(fast.read(db, [b(command), key], TIME), `${command} in db ${db}`).toEqual(general.read(db, [b(command), key], TIME));
        }
      }
    }
  });
});
