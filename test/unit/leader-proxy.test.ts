// The follower-to-leader proxy's request encoding, checked against the request parser the
// server itself uses: whatever a follower forwards, the leader reads back as the same argv. And
// its reply reader, checked against the server's own RESP3 encoder: whatever the leader answers,
// the follower reads back as the same reply, however the bytes are split into chunks.
import { describe, expect, it } from 'vitest';
import { encodeCommands, OutgoingCommands, Resp3ReplyReader } from '../../src/server/leader-proxy.js';
import { encodeReply } from '../../src/resp/encoder.js';
import type { Reply } from '../../src/resp/reply.js';
import { RequestParser } from '../../src/resp/request-parser.js';
import { SeededPrng } from '../../src/raft/prng.js';

function parse(bytes: Buffer): Buffer[][] {
  const parser = new RequestParser();
  parser.feed(bytes);
  const out: Buffer[][] = [];
  for (let argv = parser.next(); argv !== null; argv = parser.next()) out.push(argv);
  return out;
}

describe('encodeCommands', () => {
  it('encodes lengths at every digit boundary exactly as RESP spells them', () => {
    const argv = [0, 1, 9, 10, 99, 100, 999, 1000, 10_000].map((length) => Buffer.alloc(length, 0x61));
    const bytes = encodeCommands([argv]);
    const expected = Buffer.concat([Buffer.from(`*${argv.length}\r\n`),
      ...argv.flatMap((arg) => [Buffer.from(`$${arg.length}\r\n`), arg, Buffer.from('\r\n')])]);
    expect(bytes.equals(expected)).toBe(true);
  });

  it('round-trips random batches of binary commands through the server parser', () => {
    const random = new SeededPrng(7);
    for (let round = 0; round < 200; round++) {
      const commands = Array.from({ length: 1 + random.nextInt(12) }, () =>
        Array.from({ length: 1 + random.nextInt(11) }, () =>
          Buffer.from(Array.from({ length: random.nextInt(3) === 0 ? random.nextInt(300) : random.nextInt(12) }, () => random.nextInt(256)))));
      expect(parse(encodeCommands(commands))).toEqual(commands);
    }
  });
});

describe('OutgoingCommands (one turn\'s commands for one write)', () => {
  it('gives back every command appended since the last take, in order, across growth, and never touches bytes taken', () => {
    const random = new SeededPrng(11);
    const outgoing = new OutgoingCommands();
    expect(outgoing.take()).toBeUndefined();
    const taken: { bytes: Buffer; copy: Buffer; commands: Buffer[][] }[] = [];
    for (let turn = 0; turn < 60; turn++) {
      const commands: Buffer[][] = [];
      // From one small command to a few hundred KB in a turn: past the first buffer and its doublings.
      const count = random.nextInt(4) === 0 ? 1 + random.nextInt(400) : 1 + random.nextInt(5);
      for (let k = 0; k < count; k++) {
        const batch = Array.from({ length: 1 + random.nextInt(3) }, () =>
          Array.from({ length: 1 + random.nextInt(4) }, () => Buffer.alloc(random.nextInt(5) === 0 ? random.nextInt(3000) : random.nextInt(20), random.nextInt(256))));
        outgoing.append(batch);
        commands.push(...batch);
      }
      const bytes = outgoing.take()!;
      expect(bytes.equals(encodeCommands(commands))).toBe(true);
      expect(outgoing.take()).toBeUndefined();
      taken.push({ bytes, copy: Buffer.from(bytes), commands });
    }
    // The socket owns what was taken: later appends wrote elsewhere.
    for (const { bytes, copy, commands } of taken) {
      expect(bytes.equals(copy)).toBe(true);
      expect(parse(bytes)).toEqual(commands);
    }
  });
});

/** A random reply of every kind the leader sends over RESP3, nested up to `depth`. */
function randomReply(random: SeededPrng, depth: number): Reply {
  const bytes = (max: number): Buffer => Buffer.from(Array.from({ length: random.nextInt(max) }, () => random.nextInt(256)));
  const text = (): string => Array.from({ length: random.nextInt(12) }, () => String.fromCharCode(32 + random.nextInt(95))).join('');
  switch (random.nextInt(depth > 0 ? 12 : 9)) {
    case 0: return { kind: 'simple', value: text() };
    case 1: return { kind: 'error', value: `ERR ${text()}` };
    case 2: return { kind: 'integer', value: random.nextInt(3) === 0 ? -1 - random.nextInt(1_000_000) : random.nextInt(1 << 30) };
    case 3: return { kind: 'null' };
    case 4: return { kind: 'double', value: `${random.nextInt(1000)}.5` };
    case 5: return { kind: 'boolean', value: random.nextInt(2) === 0 };
    case 6: return { kind: 'verbatim', format: 'txt', value: bytes(40) };
    case 7:
    case 8: return { kind: 'bulk', value: random.nextInt(4) === 0 ? bytes(5000) : bytes(70) };
    case 9: return { kind: 'array', value: Array.from({ length: random.nextInt(6) }, () => randomReply(random, depth - 1)) };
    case 10: return { kind: 'set', value: Array.from({ length: random.nextInt(6) }, () => randomReply(random, depth - 1)) };
    default: return { kind: 'map', value: Array.from({ length: random.nextInt(4) }, () => [randomReply(random, 0), randomReply(random, depth - 1)] as const) };
  }
}

describe('Resp3ReplyReader', () => {
  it('reads back every reply the server encodes in RESP3, split into chunks anywhere', () => {
    const random = new SeededPrng(17);
    for (let round = 0; round < 300; round++) {
      const replies = Array.from({ length: 1 + random.nextInt(8) }, () => randomReply(random, 3));
      const bytes = Buffer.concat(replies.map((reply) => encodeReply(reply, 3)));
      const reader = new Resp3ReplyReader();
      const read: Reply[] = [];
      for (let at = 0; at < bytes.length;) {
        const size = 1 + random.nextInt(random.nextInt(4) === 0 ? 3 : 300);
        // A fresh copy per chunk, as a socket delivers them.
        reader.push(Buffer.from(bytes.subarray(at, at + size)));
        at += size;
        for (let reply = reader.next(); reply !== undefined; reply = reader.next()) read.push(reply);
      }
      expect(read).toEqual(replies);
    }
  });

  it('reads +OK as the simple string OK, whole or split, and only +OK', () => {
    const reader = new Resp3ReplyReader();
    reader.push(Buffer.from('+OK\r\n+OKAY\r\n+O'));
    expect(reader.next()).toEqual({ kind: 'simple', value: 'OK' });
    expect(reader.next()).toEqual({ kind: 'simple', value: 'OKAY' });
    expect(reader.next()).toBeUndefined();
    reader.push(Buffer.from('K\r'));
    expect(reader.next()).toBeUndefined();
    reader.push(Buffer.from('\n+OK\r\n'));
    expect(reader.next()).toEqual({ kind: 'simple', value: 'OK' });
    expect(reader.next()).toEqual({ kind: 'simple', value: 'OK' });
    expect(reader.next()).toBeUndefined();
  });

  it('reads a RESP2 null bulk string as null, and refuses a type byte it does not know', () => {
    const reader = new Resp3ReplyReader();
    reader.push(Buffer.from('$-1\r\n$0\r\n\r\n'));
    expect(reader.next()).toEqual({ kind: 'null' });
    expect(reader.next()).toEqual({ kind: 'bulk', value: Buffer.alloc(0) });
    expect(reader.next()).toBeUndefined();
    reader.push(Buffer.from('?what\r\n'));
    expect(() => reader.next()).toThrow(/unexpected RESP type/);
  });
});
