// Reply -> bytes, for RESP2 and RESP3. Redis's degradation rules for a RESP2 client live here and
// nowhere else (networking.c addReplyMapLen, addReplyDouble, addReplyBool, addReplyNull, ...):
//   map -> flat array of key, value, ...   set -> array        double -> bulk string
//   boolean -> integer 1 or 0               null -> $-1         nullArray -> *-1
//   verbatim -> bulk string of the text alone (no "txt:" prefix)
// In RESP3 both nulls are `_`.
//
// Strings in simple, error, double and verbatim-format replies are byte strings: one char per
// byte, written as latin1. A message that echoes client bytes is built with
// `buf.toString('latin1')` so those bytes come back unchanged. CR and LF inside simple strings and
// errors would break the framing, so they are replaced by spaces, as Redis's addReplyErrorFormat
// does.
//
// `ReplyWriter` batches a connection's replies: it keeps Reply values until the connection flushes
// (once per event-loop turn), then sizes them all, encodes them into one buffer and writes once.
// Bulk payloads of LARGE_BULK_BYTES or more are not copied: they are written by reference between
// the encoded pieces, inside one cork/uncork so the kernel still sees a single writev.

import type { Reply } from './reply.js';
import { decimalDigitCount, writeDecimal } from './decimal.js';

export type ProtocolVersion = 2 | 3;

/** Bulk payloads at least this long are written by reference instead of being copied. */
export const LARGE_BULK_BYTES = 64 * 1024;

const CR = 0x0d;
const LF = 0x0a;

/** Bytes of replies that repeat constantly, encoded once. */
export const ENCODED = {
  ok: Buffer.from('+OK\r\n'),
  pong: Buffer.from('+PONG\r\n'),
  queued: Buffer.from('+QUEUED\r\n'),
  zero: Buffer.from(':0\r\n'),
  one: Buffer.from(':1\r\n'),
  nullBulk2: Buffer.from('$-1\r\n'),
  nullArray2: Buffer.from('*-1\r\n'),
  null3: Buffer.from('_\r\n'),
  emptyArray: Buffer.from('*0\r\n'),
} as const;

/** The precomputed bytes of `reply`, if it is one of the constant replies. */
function constantBytes(reply: Reply, version: ProtocolVersion): Buffer | undefined {
  switch (reply.kind) {
    case 'simple':
      if (reply.value === 'OK') return ENCODED.ok;
      if (reply.value === 'PONG') return ENCODED.pong;
      if (reply.value === 'QUEUED') return ENCODED.queued;
      return undefined;
    case 'integer':
      if (reply.value === 0 || reply.value === 0n) return ENCODED.zero;
      if (reply.value === 1 || reply.value === 1n) return ENCODED.one;
      return undefined;
    case 'null':
      return version === 2 ? ENCODED.nullBulk2 : ENCODED.null3;
    case 'nullArray':
      return version === 2 ? ENCODED.nullArray2 : ENCODED.null3;
    case 'array':
      return reply.value.length === 0 ? ENCODED.emptyArray : undefined;
    default:
      return undefined;
  }
}

/** Number of decimal characters of a safe integer, sign included. */
function decimalLength(value: number): number {
  return value < 0 ? 1 + decimalDigitCount(-value) : decimalDigitCount(value);
}

function integerText(value: number | bigint): string | undefined {
  if (typeof value === 'bigint') return value.toString();
  if (!Number.isSafeInteger(value)) {
    // An integer reply is a signed 64-bit integer in Redis; anything else is a bug upstream.
    throw new Error(`encoder: integer reply ${value} is not a safe integer; use a bigint`);
  }
  return undefined;
}

function needsSanitizing(text: string): boolean {
  return text.indexOf('\r') >= 0 || text.indexOf('\n') >= 0;
}

function sanitize(text: string): string {
  return needsSanitizing(text) ? text.replace(/[\r\n]/g, ' ') : text;
}

/** Bytes of `reply` once encoded for `version`, excluding bulk payloads written by reference. */
function encodedSize(reply: Reply, version: ProtocolVersion): number {
  switch (reply.kind) {
    case 'simple':
    case 'error':
      return 3 + reply.value.length;
    case 'integer': {
      const text = integerText(reply.value);
      return 3 + (text === undefined ? decimalLength(reply.value as number) : text.length);
    }
    case 'bulk':
      return bulkHeaderSize(reply.value.length) + (reply.value.length >= LARGE_BULK_BYTES ? 0 : reply.value.length) + 2;
    case 'null':
      return version === 2 ? 5 : 3;
    case 'nullArray':
      return version === 2 ? 5 : 3;
    case 'array':
    case 'set': {
      let size = 3 + decimalLength(reply.value.length);
      for (const element of reply.value) size += encodedSize(element, version);
      return size;
    }
    case 'map': {
      let size = 3 + decimalLength(version === 2 ? reply.value.length * 2 : reply.value.length);
      for (const [key, value] of reply.value) size += encodedSize(key, version) + encodedSize(value, version);
      return size;
    }
    case 'double':
      return version === 2 ? bulkHeaderSize(reply.value.length) + reply.value.length + 2 : 3 + reply.value.length;
    case 'boolean':
      return version === 2 ? 4 : 4;
    case 'verbatim': {
      if (version === 2) return encodedSize({ kind: 'bulk', value: reply.value }, 2);
      const length = reply.format.length + 1 + reply.value.length;
      return bulkHeaderSize(length) + (reply.value.length >= LARGE_BULK_BYTES ? reply.format.length + 1 : length) + 2;
    }
    case 'raw':
      return reply.value.length;
    default:
      return assertNever(reply);
  }
}

function bulkHeaderSize(length: number): number {
  return 3 + decimalLength(length);
}

function assertNever(value: never): never {
  throw new Error(`encoder: unknown reply kind ${JSON.stringify(value)}`);
}

/** Writes encoded replies into one preallocated buffer, cutting around large bulk payloads. */
class Encoder {
  private offset = 0;
  private segmentStart = 0;
  readonly parts: Buffer[] = [];

  constructor(private readonly target: Buffer) {}

  finish(): Buffer[] {
    if (this.offset > this.segmentStart) this.parts.push(this.target.subarray(this.segmentStart, this.offset));
    if (this.offset !== this.target.length) {
      throw new Error(`encoder: sized ${this.target.length} bytes, wrote ${this.offset}`);
    }
    return this.parts;
  }

  private byte(value: number): void {
    this.target[this.offset++] = value;
  }

  private crlf(): void {
    this.target[this.offset++] = CR;
    this.target[this.offset++] = LF;
  }

  private text(value: string): void {
    this.offset += this.target.write(value, this.offset, 'latin1');
  }

  private decimal(value: number): void {
    if (value < 0) {
      this.byte(0x2d);
      value = -value;
    }
    this.offset = writeDecimal(this.target, this.offset, value);
  }

  /** `<prefix><value>\r\n` */
  private header(prefix: number, value: number): void {
    this.byte(prefix);
    this.decimal(value);
    this.crlf();
  }

  private payload(bytes: Buffer): void {
    if (bytes.length >= LARGE_BULK_BYTES) {
      if (this.offset > this.segmentStart) this.parts.push(this.target.subarray(this.segmentStart, this.offset));
      this.parts.push(bytes);
      this.segmentStart = this.offset;
    } else {
      this.offset += bytes.copy(this.target, this.offset);
    }
  }

  private bulk(bytes: Buffer): void {
    this.header(0x24, bytes.length);
    this.payload(bytes);
    this.crlf();
  }

  reply(reply: Reply, version: ProtocolVersion): void {
    switch (reply.kind) {
      case 'simple':
        this.byte(0x2b);
        this.text(sanitize(reply.value));
        this.crlf();
        return;
      case 'error':
        this.byte(0x2d);
        this.text(sanitize(reply.value));
        this.crlf();
        return;
      case 'integer': {
        const text = integerText(reply.value);
        this.byte(0x3a);
        if (text === undefined) this.decimal(reply.value as number);
        else this.text(text);
        this.crlf();
        return;
      }
      case 'bulk':
        this.bulk(reply.value);
        return;
      case 'null':
        if (version === 2) this.text('$-1\r\n');
        else this.text('_\r\n');
        return;
      case 'nullArray':
        if (version === 2) this.text('*-1\r\n');
        else this.text('_\r\n');
        return;
      case 'array':
        this.header(0x2a, reply.value.length);
        for (const element of reply.value) this.reply(element, version);
        return;
      case 'set':
        this.header(version === 2 ? 0x2a : 0x7e, reply.value.length);
        for (const element of reply.value) this.reply(element, version);
        return;
      case 'map':
        if (version === 2) this.header(0x2a, reply.value.length * 2);
        else this.header(0x25, reply.value.length);
        for (const [key, value] of reply.value) {
          this.reply(key, version);
          this.reply(value, version);
        }
        return;
      case 'double':
        if (version === 2) {
          this.header(0x24, reply.value.length);
          this.text(reply.value);
        } else {
          this.byte(0x2c);
          this.text(reply.value);
        }
        this.crlf();
        return;
      case 'boolean':
        if (version === 2) this.text(reply.value ? ':1\r\n' : ':0\r\n');
        else this.text(reply.value ? '#t\r\n' : '#f\r\n');
        return;
      case 'verbatim':
        if (version === 2) {
          this.bulk(reply.value);
        } else {
          this.header(0x3d, reply.format.length + 1 + reply.value.length);
          this.text(reply.format);
          this.byte(0x3a);
          this.payload(reply.value);
          this.crlf();
        }
        return;
      case 'raw':
        this.offset += reply.value.copy(this.target, this.offset);
        return;
      default:
        assertNever(reply);
    }
  }
}

/** Encodes replies in order into as few buffers as possible (one, unless large bulks are present). */
export function encodeReplies(replies: readonly Reply[], versions: readonly ProtocolVersion[]): Buffer[] {
  if (replies.length === 1) {
    const constant = constantBytes(replies[0]!, versions[0]!);
    if (constant !== undefined) return [constant];
  }
  let size = 0;
  for (let index = 0; index < replies.length; index++) size += encodedSize(replies[index]!, versions[index]!);
  const encoder = new Encoder(Buffer.allocUnsafe(size));
  for (let index = 0; index < replies.length; index++) encoder.reply(replies[index]!, versions[index]!);
  return encoder.finish();
}

/** Encodes one reply into a single buffer. */
export function encodeReply(reply: Reply, version: ProtocolVersion): Buffer {
  const parts = encodeReplies([reply], [version]);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** What a ReplyWriter writes to: a net.Socket, or anything with the same three methods. */
export interface ByteSink {
  write(chunk: Buffer): unknown;
  cork(): void;
  uncork(): void;
}

/**
 * Collects one connection's replies between flushes. The connection flushes once per event-loop
 * turn, so a pipeline of a thousand commands costs one write, not a thousand.
 */
export class ReplyWriter {
  private replies: Reply[] = [];
  private versions: ProtocolVersion[] = [];

  /** Replies waiting for the next flush. */
  get pendingCount(): number {
    return this.replies.length;
  }

  push(reply: Reply, version: ProtocolVersion): void {
    this.replies.push(reply);
    this.versions.push(version);
  }

  /** Encodes everything pushed so far; returns the bytes written. */
  flushTo(sink: ByteSink): number {
    if (this.replies.length === 0) return 0;
    const parts = encodeReplies(this.replies, this.versions);
    this.replies = [];
    this.versions = [];
    let bytes = 0;
    if (parts.length === 1) {
      bytes = parts[0]!.length;
      sink.write(parts[0]!);
      return bytes;
    }
    sink.cork();
    for (const part of parts) {
      bytes += part.length;
      sink.write(part);
    }
    sink.uncork();
    return bytes;
  }
}
