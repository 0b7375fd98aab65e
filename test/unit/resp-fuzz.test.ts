// Fuzzing the request parser. Two properties, over seeded random inputs (the seed is in each
// test's name, so a failure replays exactly):
//   1. Whatever bytes arrive, however they are chunked, the parser either returns commands, waits,
//      or throws a ProtocolError; it never throws anything else, never loops, and never accounts
//      for more than a constant factor of what it was given.
//   2. A valid pipeline parses to the same commands whatever the chunk boundaries: fed in two
//      pieces split at every byte, and fed one byte at a time.
import { describe, expect, it } from 'vitest';
import { SeededPrng } from '../../src/raft/prng.js';
import { ARG_OVERHEAD_BYTES, ProtocolError, RequestParser } from '../../src/resp/request-parser.js';

function randomBytes(prng: SeededPrng, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  // Bias towards the bytes the grammar cares about so the fuzzer reaches deep states.
  const interesting = [0x2a, 0x24, 0x0d, 0x0a, 0x00, 0x22, 0x27, 0x5c, 0x20, 0x2d, 0x30, 0x31, 0x39, 0x78];
  for (let index = 0; index < size; index++) {
    const roll = prng.nextInt(4);
    bytes[index] = roll === 0 ? prng.nextInt(256) : roll === 1 ? 0x30 + prng.nextInt(10) : interesting[prng.nextInt(interesting.length)]!;
  }
  return bytes;
}

function encodeCommand(argv: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)];
  for (const arg of argv) parts.push(Buffer.from(`$${arg.length}\r\n`), arg, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Feeds `chunks`, collecting commands; returns the error message if a ProtocolError was thrown. */
function drive(chunks: readonly Buffer[]): { commands: string[][]; error: string | null; maxBufferedBytes: number } {
  const parser = new RequestParser();
  const commands: string[][] = [];
  let given = 0;
  let maxBufferedBytes = 0;
  try {
    for (const chunk of chunks) {
      parser.feed(chunk);
      given += chunk.length;
      for (let argv = parser.next(); argv !== null; argv = parser.next()) commands.push(argv.map(hex));
      maxBufferedBytes = Math.max(maxBufferedBytes, parser.bufferedBytes);
      // A plain check, not expect(): this runs for every chunk of every round. Each argument
      // takes at least 6 bytes on the wire ("$0\r\n\r\n") and is counted with its overhead.
      if (parser.bufferedBytes > given * (1 + ARG_OVERHEAD_BYTES / 6)) {
        throw new Error(`parser holds ${parser.bufferedBytes} bytes of ${given} given`);
      }
    }
  } catch (caught) {
    if (caught instanceof ProtocolError) return { commands, error: caught.message, maxBufferedBytes };
    throw caught;
  }
  return { commands, error: null, maxBufferedBytes };
}

const hex = (arg: Buffer): string => arg.toString('hex');

/** Feeds chunks in random bursts, asking for commands only between bursts. */
function driveInBursts(prng: SeededPrng, chunks: readonly Buffer[]): string[][] {
  const parser = new RequestParser();
  const commands: string[][] = [];
  for (let index = 0; index < chunks.length; index++) {
    parser.feed(chunks[index]!);
    if (prng.nextInt(3) === 0 || index === chunks.length - 1) {
      for (let argv = parser.next(); argv !== null; argv = parser.next()) commands.push(argv.map(hex));
    }
  }
  return commands;
}

function splitRandomly(prng: SeededPrng, bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const size = 1 + prng.nextInt(Math.min(64, bytes.length - offset));
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

describe('request parser fuzz: random bytes', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed=${seed}: only ProtocolErrors, and the same outcome however the bytes are chunked`, () => {
      const prng = new SeededPrng(seed);
      for (let round = 0; round < 300; round++) {
        const input = randomBytes(prng, 1 + prng.nextInt(200));
        const whole = drive([input]);
        const chunked = drive(splitRandomly(prng, input));
        expect(whole.error?.startsWith('ERR Protocol error: ') ?? true).toBe(true);
        // Chunking can only change when an error is noticed relative to a wait, never the commands.
        expect(chunked.commands).toEqual(whole.commands);
        expect(chunked.error).toEqual(whole.error);
      }
    });
  }

  it('seed=99: mutated valid pipelines never throw anything but ProtocolError', () => {
    const prng = new SeededPrng(99);
    for (let round = 0; round < 2000; round++) {
      const argv = [Buffer.from('SET'), randomBytes(prng, prng.nextInt(8)), randomBytes(prng, prng.nextInt(20))];
      const wire = Buffer.concat([encodeCommand(argv), encodeCommand(argv)]);
      const mutations = 1 + prng.nextInt(3);
      for (let index = 0; index < mutations; index++) wire[prng.nextInt(wire.length)] = prng.nextInt(256);
      const outcome = drive(splitRandomly(prng, wire));
      expect(outcome.error === null || outcome.error.startsWith('ERR Protocol error: ')).toBe(true);
    }
  });
});

describe('request parser fuzz: chunk boundaries', () => {
  function randomPipeline(prng: SeededPrng): { wire: Buffer; commands: string[][] } {
    const commands: string[][] = [];
    const parts: Buffer[] = [];
    const count = 1 + prng.nextInt(6);
    for (let index = 0; index < count; index++) {
      if (prng.nextInt(3) === 0) {
        // An inline command of plain words.
        const words = Array.from({ length: 1 + prng.nextInt(4) }, () => 'w' + prng.nextInt(1000).toString(36));
        parts.push(Buffer.from(words.join(' ') + (prng.nextInt(2) === 0 ? '\r\n' : '\n')));
        commands.push(words.map((word) => hex(Buffer.from(word))));
      } else {
        const argv = Array.from({ length: 1 + prng.nextInt(5) }, () => randomBytes(prng, prng.nextInt(40)));
        parts.push(encodeCommand(argv));
        commands.push(argv.map(hex));
      }
    }
    return { wire: Buffer.concat(parts), commands };
  }

  for (const seed of [11, 12, 13]) {
    it(`seed=${seed}: a valid pipeline split at every byte parses to the same commands`, () => {
      const prng = new SeededPrng(seed);
      for (let round = 0; round < 40; round++) {
        const { wire, commands } = randomPipeline(prng);
        expect(drive([wire]).commands).toEqual(commands);
        const expected = JSON.stringify(commands);
        for (let cut = 1; cut < wire.length; cut++) {
          const outcome = drive([wire.subarray(0, cut), wire.subarray(cut)]);
          // Compared as strings: expect() per cut would dominate the run time.
          if (outcome.error !== null || JSON.stringify(outcome.commands) !== expected) {
            expect({ cut, ...outcome }).toEqual({ cut, commands, error: null });
          }
        }
        const bytewise = drive(Array.from({ length: wire.length }, (_, index) => wire.subarray(index, index + 1)));
        expect(bytewise.commands).toEqual(commands);
        // As a paused connection does: several chunks arrive before the parser is asked again.
        const bursty = driveInBursts(prng, splitRandomly(prng, wire));
        expect(bursty).toEqual(commands);
      }
    });
  }
});

describe('request parser: chunks fed without parsing in between', () => {
  it('parses a complete chunk followed by a partial one fed before next()', () => {
    const parser = new RequestParser();
    parser.feed(Buffer.from('*1\r\n$4\r\nPI'));
    expect(parser.next()).toBeNull();
    parser.feed(Buffer.from('NG\r\n*2\r\n$4\r\nECHO\r\n$2\r\nab\r\n*1\r\n$4\r\nPI'));
    parser.feed(Buffer.from('NG\r\n'));
    const commands: string[] = [];
    for (let argv = parser.next(); argv !== null; argv = parser.next()) commands.push(argv.map(String).join(' '));
    expect(commands).toEqual(['PING', 'ECHO ab', 'PING']);
  });
});

describe('request parser: regression', () => {
  it('does not treat a whole unparsed chunk as one element when two chunks arrive between next() calls', () => {
    const parser = new RequestParser();
    parser.feed(Buffer.from('*1\r\n$4\r\nPING\r\n'));
    expect(parser.next()?.map(String)).toEqual(['PING']);
    expect(parser.next()).toBeNull();
    parser.feed(Buffer.from('*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI'));
    parser.feed(Buffer.from('NG\r\n'));
    const commands: string[] = [];
    for (let argv = parser.next(); argv !== null; argv = parser.next()) commands.push(argv.map(String).join(' '));
    expect(commands).toEqual(['PING', 'PING']);
  });
});
