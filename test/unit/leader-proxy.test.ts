// The follower-to-leader proxy's request encoding, checked against the request parser the
// server itself uses: whatever a follower forwards, the leader reads back as the same argv.
import { describe, expect, it } from 'vitest';
import { encodeCommands, OutgoingCommands } from '../../src/server/leader-proxy.js';
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
