// StateMachine.read serves a plain `GET key` without resolving the command or making a context
// (the most common read). These tests hold it to the general path: the same reply as MGET of the
// same key, which goes through the handlers (lookup and valueBytes), for keys in the value arena,
// kept as objects (a TTL, or a long value), expired, deleted and missing; and every other shape of
// request left to the general path, errors included.
import { describe, expect, it } from 'vitest';
import { StateMachine, encodeWriteEntry } from '../../src/state/index.js';
import { ARENA_VALUE_BYTES_MAX } from '../../src/state/value-arena.js';
import type { Reply } from '../../src/resp/reply.js';
import { seededRng } from './state/random-commands.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');
const TIME = 1_700_000_000_000;

/** A random spelling of "get". */
function getName(random: () => number): Buffer {
  return b([...'get'].map((c) => (random() < 0.5 ? c.toUpperCase() : c)).join(''));
}

/** A reply as a string (vitest compares long Buffers byte by byte, slowly). */
function show(reply: Reply): string {
  return reply.kind === 'bulk' ? `bulk:${reply.value.toString('latin1')}` : JSON.stringify(reply);
}

/** What MGET answers for `key`, as the reply GET must give. */
function viaMget(machine: StateMachine, db: number, key: Buffer, nowMs: number): Reply {
  const reply = machine.read(db, [b('MGET'), key], nowMs);
  if (reply.kind !== 'array') throw new Error(`MGET replied ${JSON.stringify(reply)}`);
  return reply.value[0]!;
}

describe('plain GET fast path', () => {
  it('answers as the general path does, over random histories of SET, SET with a TTL, and DEL', () => {
    const random = seededRng(7);
    const machine = new StateMachine();
    const keys = Array.from({ length: 40 }, (_, k) => b(`key:${k}`));
    // Around the copy loop's limit (32) and the arena's, in bytes of every value 0x00-0xff.
    const lengths = [0, 1, 32, 33, 64, ARENA_VALUE_BYTES_MAX, ARENA_VALUE_BYTES_MAX + 1];
    let index = 0;
    let checked = 0;
    for (let step = 0; step < 2000; step++) {
      const key = keys[Math.floor(random() * keys.length)]!;
      const db = random() < 0.8 ? 0 : 3;
      const value = Buffer.from(Array.from({ length: lengths[Math.floor(random() * lengths.length)]! }, (_, k) => (step * 7 + k * 13) & 0xff));
      const roll = random();
      const argv = roll < 0.5 ? [b('SET'), key, value] : roll < 0.8 ? [b('SET'), key, value, b('PX'), b(String(1 + Math.floor(random() * 50)))] : [b('DEL'), key];
      machine.apply(++index, encodeWriteEntry({ timeMs: TIME + step, db, argv }));
      if (roll < 0.5) expect(show(machine.read(db, [b('GET'), key], TIME + step))).toBe(`bulk:${value.toString('latin1')}`);
      // Read at a time that has passed some TTLs and not others.
      const nowMs = TIME + step + Math.floor(random() * 40);
      for (const probe of [key, keys[Math.floor(random() * keys.length)]!, b('missing')]) {
        const expected = show(viaMget(machine, db, probe, nowMs));
        expect(show(machine.read(db, [getName(random), probe], nowMs))).toBe(expected);
        checked++;
      }
    }
    expect(checked).toBe(6000);
  });

  it('gives a value the caller may keep: a copy, not the stored bytes of an arena record', () => {
    const machine = new StateMachine();
    machine.apply(1, encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SET'), b('k'), b('value')] }));
    const first = machine.read(0, [b('GET'), b('k')], TIME);
    if (first.kind !== 'bulk') throw new Error('expected a bulk reply');
    first.value.fill(0x21);
    expect(machine.read(0, [b('GET'), b('k')], TIME)).toEqual({ kind: 'bulk', value: b('value') });
  });

  it('leaves every other request to the general path, errors included', () => {
    const machine = new StateMachine();
    machine.apply(1, encodeWriteEntry({ timeMs: TIME, db: 0, argv: [b('SET'), b('k'), b('v')] }));
    expect(machine.read(0, [b('GET'), b('k'), b('extra')], TIME)).toEqual({ kind: 'error', value: "ERR wrong number of arguments for 'get' command" });
    expect(machine.read(0, [b('GET')], TIME)).toEqual({ kind: 'error', value: "ERR wrong number of arguments for 'get' command" });
    expect(machine.read(16, [b('GET'), b('k')], TIME)).toEqual({ kind: 'error', value: 'ERR DB index is out of range' });
    expect(machine.read(0, [b('GETX'), b('k')], TIME).kind).toBe('error');
    expect(machine.read(0, [b('GEU'), b('k')], TIME).kind).toBe('error');
    expect(machine.read(0, [b('STRLEN'), b('k')], TIME)).toEqual({ kind: 'integer', value: 1 });
  });
});
