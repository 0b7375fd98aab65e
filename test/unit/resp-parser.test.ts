// The request parser against Redis 7.0's behaviour, case by case. Each row gives the bytes a
// client sends, the commands Redis would run (in order) and the protocol error it would then
// send, if any; the rows were checked against a real redis-server 7.0.15 with raw sockets. The
// differential suite (test/integration/differential-protocol.test.ts) repeats the observable ones
// against a live server; these run everywhere and pin the parser's own contract too (waiting for
// more bytes, limits, what is buffered).
import { describe, expect, it } from 'vitest';
import { ARG_OVERHEAD_BYTES, INLINE_MAX_BYTES, ProtocolError, RequestParser } from '../../src/resp/request-parser.js';

interface Outcome {
  commands: string[][];
  error?: string;
}

function parseAll(chunks: readonly Buffer[], configure?: (parser: RequestParser) => void): Outcome {
  const parser = new RequestParser();
  configure?.(parser);
  const commands: string[][] = [];
  try {
    for (const chunk of chunks) {
      parser.feed(chunk);
      for (let argv = parser.next(); argv !== null; argv = parser.next()) {
        commands.push(argv.map((arg) => arg.toString('latin1')));
      }
    }
  } catch (caught) {
    if (!(caught instanceof ProtocolError)) throw caught;
    return { commands, error: caught.message };
  }
  return { commands };
}

const parse = (input: string): Outcome => parseAll([Buffer.from(input, 'latin1')]);

describe('request parser: Redis 7.0 behaviour', () => {
  const cases: [string, string, Outcome][] = [
    ['inline', 'PING\r\n', { commands: [['PING']] }],
    ['inline with LF only', 'PING\nPING\r\n', { commands: [['PING'], ['PING']] }],
    ['blank inline lines are skipped', '\r\n\r\n  \r\nPING\r\n', { commands: [['PING']] }],
    ['multibulk', '*2\r\n$4\r\nECHO\r\n$3\r\nfoo\r\n', { commands: [['ECHO', 'foo']] }],
    ['empty bulk', '*2\r\n$4\r\nECHO\r\n$0\r\n\r\n', { commands: [['ECHO', '']] }],
    ['binary bulk', '*2\r\n$4\r\nECHO\r\n$3\r\n\x00\r\n\r\n', { commands: [['ECHO', '\x00\r\n']] }],
    ['*0 is skipped', '*0\r\nPING\r\n', { commands: [['PING']] }],
    ['negative count is skipped', '*-5\r\nPING\r\n', { commands: [['PING']] }],
    ['*-0 is invalid', '*-0\r\n', { commands: [], error: 'ERR Protocol error: invalid multibulk length' }],
    ['count above INT_MAX', '*3000000000\r\n', { commands: [], error: 'ERR Protocol error: invalid multibulk length' }],
    ['count with plus sign', '*+1\r\n$4\r\nPING\r\n', { commands: [], error: 'ERR Protocol error: invalid multibulk length' }],
    ['count not a number', '*x\r\n', { commands: [], error: 'ERR Protocol error: invalid multibulk length' }],
    ['empty count', '*\r\n', { commands: [], error: 'ERR Protocol error: invalid multibulk length' }],
    ['large count waits', '*2000000\r\n', { commands: [] }],
    ['byte after CR is not checked', '*1\rX$4\r\nPING\r\n', { commands: [['PING']] }],
    ['bytes after payload are not checked', '*1\r\n$4\r\nPINGXYPING\r\n', { commands: [['PING'], ['PING']] }],
    ['expected $', '*1\r\nx4\r\nPING\r\n', { commands: [], error: "ERR Protocol error: expected '$', got 'x'" }],
    ['expected $, got a control byte', '*1\r\n\x01\r\n', { commands: [], error: "ERR Protocol error: expected '$', got '\x01'" }],
    ['null bulk is invalid in a request', '*1\r\n$-1\r\n', { commands: [], error: 'ERR Protocol error: invalid bulk length' }],
    ['bulk length with plus', '*1\r\n$+4\r\nPING\r\n', { commands: [], error: 'ERR Protocol error: invalid bulk length' }],
    ['bulk length with leading zero', '*1\r\n$04\r\nPING\r\n', { commands: [], error: 'ERR Protocol error: invalid bulk length' }],
    ['bulk length over 512 MB', '*1\r\n$536870913\r\n', { commands: [], error: 'ERR Protocol error: invalid bulk length' }],
    ['bulk length of 512 MB waits', '*1\r\n$536870912\r\n', { commands: [] }],
    ['commands before an error are returned', 'PING\r\n*1\r\n$x\r\n', { commands: [['PING']], error: 'ERR Protocol error: invalid bulk length' }],
    ['NUL hides the CR of a count line', '*1\x00\r\n$4\r\nPING\r\n', { commands: [] }],
    ['NUL hides the LF of an inline line', 'PI\x00NG\r\nPING\r\n', { commands: [] }],
    ['NUL inside a bulk is data', '*1\r\n$4\r\nPI\x00G\r\n', { commands: [['PI\x00G']] }],
    ['unbalanced double quote', 'ECHO "abc\r\n', { commands: [], error: 'ERR Protocol error: unbalanced quotes in request' }],
    ['closing quote followed by text', 'ECHO "a"b\r\n', { commands: [], error: 'ERR Protocol error: unbalanced quotes in request' }],
    ['quotes mid-argument', 'ECHO a"b c"\r\n', { commands: [['ECHO', 'ab c']] }],
    ['escaped single quote', "ECHO 'a\\'b'\r\n", { commands: [['ECHO', "a'b"]] }],
    ['hex escape', 'ECHO "a\\x41\\n"\r\n', { commands: [['ECHO', 'aA\n']] }],
    ['bad hex escape is literal', 'ECHO "a\\xzz"\r\n', { commands: [['ECHO', 'axzz']] }],
    ['empty quoted arguments', 'ECHO "" \'\'\r\n', { commands: [['ECHO', '', '']] }],
    ['vertical tab splits only between arguments', ' \x0b PING \x0c\r\nECHO a\x0bb\r\n', { commands: [['PING'], ['ECHO', 'a\x0bb']] }],
    ['high bytes are data', 'ECHO \xe9\r\n', { commands: [['ECHO', '\xe9']] }],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      expect(parse(input)).toEqual(expected);
    });
  }
});

describe('request parser: limits', () => {
  it('fails an inline request longer than 64 KB without a newline', () => {
    expect(parse('A'.repeat(INLINE_MAX_BYTES))).toEqual({ commands: [] });
    expect(parse('A'.repeat(INLINE_MAX_BYTES + 1))).toEqual({ commands: [], error: 'ERR Protocol error: too big inline request' });
  });

  it('fails a count line longer than 64 KB', () => {
    expect(parse('*' + '1'.repeat(INLINE_MAX_BYTES))).toEqual({ commands: [], error: 'ERR Protocol error: too big mbulk count string' });
  });

  it('fails a bulk length line longer than 64 KB', () => {
    expect(parse('*1\r\n$' + '1'.repeat(INLINE_MAX_BYTES))).toEqual({ commands: [], error: 'ERR Protocol error: too big bulk count string' });
  });

  it('applies proto-max-bulk-len as configured', () => {
    const configure = (parser: RequestParser): void => {
      parser.maxBulkLengthBytes = 1024;
    };
    expect(parseAll([Buffer.from('*1\r\n$1024\r\n')], configure)).toEqual({ commands: [] });
    expect(parseAll([Buffer.from('*1\r\n$1025\r\n')], configure)).toEqual({ commands: [], error: 'ERR Protocol error: invalid bulk length' });
  });

  it('refuses more than 10 arguments or bulks above 16384 bytes before AUTH', () => {
    const unauthenticated = (parser: RequestParser): void => {
      parser.unauthenticated = true;
    };
    expect(parseAll([Buffer.from('*11\r\n')], unauthenticated)).toEqual({ commands: [], error: 'ERR Protocol error: unauthenticated multibulk length' });
    expect(parseAll([Buffer.from('*10\r\n$16385\r\n')], unauthenticated)).toEqual({ commands: [], error: 'ERR Protocol error: unauthenticated bulk length' });
    expect(parseAll([Buffer.from('*10\r\n$16384\r\n')], unauthenticated)).toEqual({ commands: [] });
  });

  it('counts a request of many tiny arguments by its memory, not only its bytes', () => {
    const parser = new RequestParser();
    parser.feed(Buffer.from('*1000000\r\n' + '$1\r\nx\r\n'.repeat(1000)));
    expect(parser.next()).toBeNull();
    expect(parser.bufferedBytes).toBe(10 + 7 * 1000 + 1000 * ARG_OVERHEAD_BYTES);
  });

  it('counts unparsed input and the partial request as buffered', () => {
    const parser = new RequestParser();
    parser.feed(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n01234'));
    expect(parser.next()).toBeNull();
    // The whole partial request is held: 4 + 9 + 7 bytes and two arguments parsed, then the
    // third argument's length line and 5 of its 10 bytes.
    expect(parser.bufferedBytes).toBe(4 + 9 + 7 + 2 * ARG_OVERHEAD_BYTES + 5 + 5);
    parser.feed(Buffer.from('56789\r\n'));
    expect(parser.next()?.map(String)).toEqual(['SET', 'k', '0123456789']);
    expect(parser.bufferedBytes).toBe(0);
  });
});

describe('request parser: chunking', () => {
  it('returns every argument, in order, for requests of 1 to 70 arguments cut at every 3 bytes', () => {
    // Up to 64 arguments the argv array is made at its size; beyond, it grows: both kinds, and
    // requests split mid-argument, must give the same arguments and nothing more.
    const expected: string[][] = [];
    let wire = '';
    for (let count = 1; count <= 70; count++) {
      const argv = Array.from({ length: count }, (_, k) => (k === 0 ? 'RPUSH' : `v${count}.${k}`));
      expected.push(argv);
      wire += `*${count}\r\n` + argv.map((arg) => `$${arg.length}\r\n${arg}\r\n`).join('');
    }
    const bytes = Buffer.from(wire);
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += 3) chunks.push(bytes.subarray(offset, offset + 3));
    expect(parseAll(chunks)).toEqual({ commands: expected });
    expect(parseAll([bytes])).toEqual({ commands: expected });
  });

  it('assembles a large bulk from many small chunks', () => {
    const value = Buffer.alloc(300_000, 0x61);
    const request = Buffer.concat([Buffer.from(`*2\r\n$4\r\nECHO\r\n$${value.length}\r\n`), value, Buffer.from('\r\n')]);
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < request.length; offset += 1000) chunks.push(request.subarray(offset, offset + 1000));
    const outcome = parseAll(chunks);
    expect(outcome.commands).toHaveLength(1);
    expect(outcome.commands[0]![1]).toBe(value.toString('latin1'));
  });

  it('never overwrites arguments already returned', () => {
    const parser = new RequestParser();
    parser.feed(Buffer.from('*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n*2\r\n$4\r\nEC'));
    const first = parser.next()!;
    expect(parser.next()).toBeNull();
    parser.feed(Buffer.from('HO\r\n$3\r\nxyz\r\n'));
    const second = parser.next()!;
    expect(first.map(String)).toEqual(['ECHO', 'abc']);
    expect(second.map(String)).toEqual(['ECHO', 'xyz']);
  });

  it('parses a pipeline of ten thousand commands fed in 7-byte chunks', () => {
    const commands: string[][] = [];
    for (let index = 0; index < 10_000; index++) commands.push(['SET', `key:${index}`, `value:${index}`]);
    const wire = Buffer.from(commands.map((argv) => `*${argv.length}\r\n` + argv.map((arg) => `$${arg.length}\r\n${arg}\r\n`).join('')).join(''));
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < wire.length; offset += 7) chunks.push(wire.subarray(offset, offset + 7));
    expect(parseAll(chunks).commands).toEqual(commands);
  });
});
