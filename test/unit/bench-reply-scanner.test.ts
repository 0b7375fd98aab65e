// The benchmark's reply scanner must find the same replies, of the same kinds and sizes, however
// the byte stream is cut: a recorded stream of every RESP2 reply kind (GET hit and miss, status,
// errors including -MOVED, integers, nested and null arrays, empty and CRLF-holding bulks) is
// fed whole, split in two at every byte boundary, split in three at every pair of boundaries,
// and one byte at a time, and each run must match the expected table. Malformed input must raise
// ReplyProtocolError rather than desynchronise silently.
import { describe, expect, it } from 'vitest';
import {
  ERROR_TEXT_BYTES_MAX,
  ReplyKind,
  ReplyProtocolError,
  ReplyScanner,
  type ReplySink,
} from '../../src/bench/reply-scanner.js';

interface Seen {
  kind: ReplyKind;
  sizeBytes: number;
  errorText: string | undefined;
}

class Recorder implements ReplySink {
  readonly seen: Seen[] = [];
  onReply(kind: ReplyKind, sizeBytes: number, errorText: string | undefined): void {
    this.seen.push({ kind, sizeBytes, errorText });
  }
}

// Each row: the bytes of one reply and what the scanner must report for it.
const REPLIES: readonly (readonly [string, ReplyKind, string | undefined])[] = [
  ['+OK\r\n', ReplyKind.status, undefined],
  ['$-1\r\n', ReplyKind.nullBulk, undefined],
  ['$5\r\nhello\r\n', ReplyKind.bulk, undefined],
  ['$0\r\n\r\n', ReplyKind.bulk, undefined],
  ['$7\r\n\r\n$-1\r\n\r\n', ReplyKind.bulk, undefined],
  ['-ERR unknown command\r\n', ReplyKind.error, 'ERR unknown command'],
  ['-MOVED 3999 127.0.0.1:6381\r\n', ReplyKind.error, 'MOVED 3999 127.0.0.1:6381'],
  [':42\r\n', ReplyKind.integer, undefined],
  [':-7\r\n', ReplyKind.integer, undefined],
  ['*2\r\n$1\r\na\r\n*1\r\n$-1\r\n', ReplyKind.array, undefined],
  ['*3\r\n*2\r\n:0\r\n:16383\r\n-ERR inner\r\n+x\r\n', ReplyKind.array, undefined],
  ['*-1\r\n', ReplyKind.nullArray, undefined],
  ['*0\r\n', ReplyKind.array, undefined],
  ['$12\r\n$-1\r\n+OK\r\n:1\r\n', ReplyKind.bulk, undefined],
];

const STREAM = Buffer.from(REPLIES.map(([bytes]) => bytes).join(''), 'latin1');
const EXPECTED: Seen[] = REPLIES.map(([bytes, kind, errorText]) => ({ kind, sizeBytes: Buffer.byteLength(bytes, 'latin1'), errorText }));

function scan(chunks: readonly Buffer[]): Seen[] {
  const recorder = new Recorder();
  const scanner = new ReplyScanner(recorder);
  for (const chunk of chunks) scanner.feed(chunk);
  expect(scanner.idle).toBe(true);
  return recorder.seen;
}

describe('ReplyScanner', () => {
  it('reports every reply of the stream fed whole', () => {
    expect(scan([STREAM])).toEqual(EXPECTED);
  });

  it('gives the same answer split in two at every byte boundary', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const seen = scan([STREAM.subarray(0, cut), STREAM.subarray(cut)]);
      if (JSON.stringify(seen) !== JSON.stringify(EXPECTED)) expect(seen, `cut at byte ${cut}`).toEqual(EXPECTED);
    }
  });

  it('gives the same answer split in three at every pair of boundaries', () => {
    let runs = 0;
    for (let first = 1; first < STREAM.length; first += 1) {
      for (let second = first; second < STREAM.length; second += 3) {
        const seen = scan([STREAM.subarray(0, first), STREAM.subarray(first, second), STREAM.subarray(second)]);
        if (JSON.stringify(seen) !== JSON.stringify(EXPECTED)) expect(seen, `cuts at ${first} and ${second}`).toEqual(EXPECTED);
        runs++;
      }
    }
    expect(runs).toBeGreaterThan(1_000);
  });

  it('gives the same answer one byte at a time', () => {
    const bytes = Array.from({ length: STREAM.length }, (_, i) => STREAM.subarray(i, i + 1));
    expect(scan(bytes)).toEqual(EXPECTED);
  });

  it('reads only the first `length` bytes of a reused read buffer, whatever lies past them', () => {
    const buffer = Buffer.alloc(64, 0x0a);
    const recorder = new Recorder();
    const scanner = new ReplyScanner(recorder);
    for (let cut = 0; cut <= STREAM.length; cut++) {
      // Each part is copied into the start of a buffer whose tail holds stale LFs and CRLFs.
      buffer.fill('\r\n');
      const first = STREAM.subarray(0, cut);
      const rest = STREAM.subarray(cut);
      for (const part of [first, rest]) {
        for (let offset = 0; offset < part.length; offset += 32) {
          const piece = part.subarray(offset, offset + 32);
          piece.copy(buffer);
          scanner.feed(buffer, piece.length);
        }
      }
    }
    expect(recorder.seen).toEqual(Array.from({ length: STREAM.length + 1 }, () => EXPECTED).flat());
  });

  it('is not idle in the middle of a reply, and emits nothing until the reply ends', () => {
    const recorder = new Recorder();
    const scanner = new ReplyScanner(recorder);
    scanner.feed(Buffer.from('*2\r\n$3\r\nab'));
    expect(scanner.idle).toBe(false);
    expect(recorder.seen).toEqual([]);
    scanner.feed(Buffer.from('c\r\n:1\r\n'));
    expect(scanner.idle).toBe(true);
    expect(recorder.seen).toEqual([{ kind: ReplyKind.array, sizeBytes: 17, errorText: undefined }]);
  });

  it('skips a large bulk payload spread over many chunks', () => {
    const payload = Buffer.alloc(1_000_000, 0x0a);
    const stream = Buffer.concat([Buffer.from(`$${payload.length}\r\n`), payload, Buffer.from('\r\n+OK\r\n')]);
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < stream.length; offset += 65_536) chunks.push(stream.subarray(offset, offset + 65_536));
    expect(scan(chunks).map((s) => s.kind)).toEqual([ReplyKind.bulk, ReplyKind.status]);
  });

  it('cuts a runaway error text at ERROR_TEXT_BYTES_MAX but still counts all its bytes', () => {
    const text = 'E'.repeat(ERROR_TEXT_BYTES_MAX * 3);
    const [seen] = scan([Buffer.from(`-${text}\r\n`)]);
    expect(seen?.kind).toBe(ReplyKind.error);
    expect(seen?.errorText).toBe('E'.repeat(ERROR_TEXT_BYTES_MAX));
    expect(seen?.sizeBytes).toBe(text.length + 3);
  });

  it.each([
    ['an unknown type byte', '!oops\r\n'],
    ['a RESP3 type we never asked for', '_\r\n'],
    ['letters in a length', '$1x\r\nab\r\n'],
    ['a header line without a number', '$\r\n'],
    ['a sign in the middle of a number', ':4-2\r\n'],
    ['an endless header line', `:${'1'.repeat(100)}`],
  ])('raises ReplyProtocolError on %s', (_name, bytes) => {
    const scanner = new ReplyScanner(new Recorder());
    expect(() => scanner.feed(Buffer.from(bytes, 'latin1'))).toThrow(ReplyProtocolError);
  });

  it('refuses arrays nested deeper than it can track', () => {
    const scanner = new ReplyScanner(new Recorder());
    expect(() => scanner.feed(Buffer.from('*1\r\n'.repeat(40)))).toThrow(/nested deeper/);
  });
});
