// The reply encoder: every Reply kind in RESP2 and RESP3, with Redis's degradation rules for
// RESP2 clients, checked against the bytes Redis 7 sends (as captured from redis-server with raw
// sockets). Then the ReplyWriter: replies batched into one write, large bulks passed by reference
// inside one cork/uncork, and the bytes identical to encoding each reply alone.
import { describe, expect, it } from 'vitest';
import { ENCODED, encodeReply, LARGE_BULK_BYTES, ReplyWriter, type ByteSink, type ProtocolVersion } from '../../src/resp/encoder.js';
import { bulk, bulkText, integer, NULL, NULL_ARRAY, OK } from '../../src/resp/replies.js';
import type { Reply } from '../../src/resp/reply.js';

const text = (value: string): Buffer => Buffer.from(value, 'latin1');

describe('encoder: RESP2 and RESP3', () => {
  const cases: [string, Reply, string, string][] = [
    ['simple', { kind: 'simple', value: 'OK' }, '+OK\r\n', '+OK\r\n'],
    ['error', { kind: 'error', value: 'ERR bad' }, '-ERR bad\r\n', '-ERR bad\r\n'],
    ['error with newlines is sanitized', { kind: 'error', value: 'ERR a\r\nb' }, '-ERR a  b\r\n', '-ERR a  b\r\n'],
    ['integer', { kind: 'integer', value: -42 }, ':-42\r\n', ':-42\r\n'],
    ['integer 0', integer(0), ':0\r\n', ':0\r\n'],
    ['bigint', { kind: 'integer', value: 9223372036854775807n }, ':9223372036854775807\r\n', ':9223372036854775807\r\n'],
    ['bulk', bulkText('hello'), '$5\r\nhello\r\n', '$5\r\nhello\r\n'],
    ['empty bulk', bulk(Buffer.alloc(0)), '$0\r\n\r\n', '$0\r\n\r\n'],
    ['binary bulk', bulk(Buffer.from([0, 13, 10, 255])), '$4\r\n\x00\r\n\xff\r\n', '$4\r\n\x00\r\n\xff\r\n'],
    ['null', NULL, '$-1\r\n', '_\r\n'],
    ['null array', NULL_ARRAY, '*-1\r\n', '_\r\n'],
    ['empty array', { kind: 'array', value: [] }, '*0\r\n', '*0\r\n'],
    ['nested array', { kind: 'array', value: [integer(1), { kind: 'array', value: [bulkText('a'), NULL] }] }, '*2\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n', '*2\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n'],
    ['map', { kind: 'map', value: [[bulkText('proto'), integer(3)], [bulkText('modules'), { kind: 'array', value: [] }]] }, '*4\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n', '%2\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n'],
    ['set', { kind: 'set', value: [bulkText('a'), bulkText('b')] }, '*2\r\n$1\r\na\r\n$1\r\nb\r\n', '~2\r\n$1\r\na\r\n$1\r\nb\r\n'],
    ['double', { kind: 'double', value: '3.5' }, '$3\r\n3.5\r\n', ',3.5\r\n'],
    ['double inf', { kind: 'double', value: 'inf' }, '$3\r\ninf\r\n', ',inf\r\n'],
    ['boolean true', { kind: 'boolean', value: true }, ':1\r\n', '#t\r\n'],
    ['boolean false', { kind: 'boolean', value: false }, ':0\r\n', '#f\r\n'],
    ['verbatim', { kind: 'verbatim', format: 'txt', value: text('id=3\n') }, '$5\r\nid=3\n\r\n', '=9\r\ntxt:id=3\n\r\n'],
    ['empty verbatim', { kind: 'verbatim', format: 'txt', value: text('') }, '$0\r\n\r\n', '=4\r\ntxt:\r\n'],
    ['raw', { kind: 'raw', value: text('+RAW\r\n') }, '+RAW\r\n', '+RAW\r\n'],
  ];
  for (const [name, reply, resp2, resp3] of cases) {
    it(name, () => {
      expect(encodeReply(reply, 2).toString('latin1')).toBe(resp2);
      expect(encodeReply(reply, 3).toString('latin1')).toBe(resp3);
    });
  }

  it('writes integers of every magnitude', () => {
    for (let value = 1; value < Number.MAX_SAFE_INTEGER / 7; value = value * 7 + 3) {
      expect(encodeReply(integer(value), 2).toString()).toBe(`:${value}\r\n`);
      expect(encodeReply(integer(-value), 2).toString()).toBe(`:${-value}\r\n`);
    }
  });

  it('uses the precomputed bytes for constant replies', () => {
    expect(encodeReply(OK, 2)).toBe(ENCODED.ok);
    expect(encodeReply(NULL, 2)).toBe(ENCODED.nullBulk2);
    expect(encodeReply(NULL, 3)).toBe(ENCODED.null3);
    expect(encodeReply(integer(1), 3)).toBe(ENCODED.one);
  });

  it('refuses an integer that is not a safe integer: it must be a bigint', () => {
    expect(() => encodeReply({ kind: 'integer', value: 2 ** 60 }, 2)).toThrow(/bigint/);
  });
});

class RecordingSink implements ByteSink {
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  write(chunk: Buffer): boolean {
    this.events.push(`write ${chunk.length}`);
    this.chunks.push(chunk);
    return true;
  }
  cork(): void {
    this.events.push('cork');
  }
  uncork(): void {
    this.events.push('uncork');
  }
}

describe('ReplyWriter', () => {
  it('writes a batch of replies once, with each reply in its own protocol version', () => {
    const writer = new ReplyWriter();
    const replies: [Reply, ProtocolVersion][] = [[OK, 2], [NULL, 2], [{ kind: 'map', value: [[bulkText('a'), integer(5)]] }, 3], [NULL, 3]];
    for (const [reply, version] of replies) writer.push(reply, version);
    const sink = new RecordingSink();
    writer.flushTo(sink);
    expect(sink.events).toEqual([`write ${sink.chunks[0]!.length}`]);
    const expected = Buffer.concat(replies.map(([reply, version]) => encodeReply(reply, version)));
    expect(Buffer.concat(sink.chunks)).toEqual(expected);
    expect(writer.pendingCount).toBe(0);
    expect(writer.flushTo(sink)).toBe(0);
  });

  it('passes large bulks by reference inside one cork', () => {
    const large = Buffer.alloc(LARGE_BULK_BYTES, 0x78);
    const writer = new ReplyWriter();
    writer.push(OK, 2);
    writer.push({ kind: 'array', value: [bulk(large), integer(7)] }, 2);
    const sink = new RecordingSink();
    writer.flushTo(sink);
    expect(sink.events[0]).toBe('cork');
    expect(sink.events.at(-1)).toBe('uncork');
    expect(sink.chunks.some((chunk) => chunk === large)).toBe(true);
    expect(Buffer.concat(sink.chunks)).toEqual(Buffer.concat([encodeReply(OK, 2), Buffer.from(`*2\r\n$${large.length}\r\n`), large, Buffer.from('\r\n:7\r\n')]));
  });

  it('passes a large verbatim payload by reference in RESP3', () => {
    const large = Buffer.alloc(LARGE_BULK_BYTES + 5, 0x79);
    const reply: Reply = { kind: 'verbatim', format: 'txt', value: large };
    const sink = new RecordingSink();
    const writer = new ReplyWriter();
    writer.push(reply, 3);
    writer.flushTo(sink);
    expect(sink.chunks.some((chunk) => chunk === large)).toBe(true);
    expect(Buffer.concat(sink.chunks)).toEqual(Buffer.concat([Buffer.from(`=${large.length + 4}\r\ntxt:`), large, Buffer.from('\r\n')]));
  });
});
