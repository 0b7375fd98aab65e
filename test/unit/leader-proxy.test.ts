// The follower-to-leader proxy's request encoding, checked against the request parser the
// server itself uses: whatever a follower forwards, the leader reads back as the same argv.
import { describe, expect, it } from 'vitest';
import { encodeCommands } from '../../src/server/leader-proxy.js';
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
