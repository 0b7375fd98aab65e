// The request parser: bytes from a client socket in, one command (an argv of Buffers) out at a
// time. It follows Redis 7.0's networking.c (processInputBuffer, processMultibulkBuffer,
// processInlineBuffer) quirk for quirk, because a client must see the same replies, the same
// protocol errors and the same points where the server waits for more bytes:
//   - a request starting with '*' is a multibulk (RESP array of bulk strings); anything else is
//     an inline command, split with sdssplitargs (split-args.ts);
//   - `*N` with N <= 0 is an empty request and is skipped; N > INT_MAX is an error;
//   - the byte after each '\r' of a length line, and the two bytes after a bulk's payload, are
//     skipped without being checked, as Redis does;
//   - line searches stop at a NUL byte (Redis uses strchr on a C string), so a NUL before the line
//     end means "wait for more", until the 64 KB inline limit turns it into an error;
//   - before AUTH, multibulk counts above 10 and bulk lengths above 16384 are refused.
//
// Why not redis-parser: it parses *replies* (it accepts +, -, :, nested arrays and $-1 where a
// request may only hold bulk strings), has no inline commands, and reports its own error texts,
// so the exact Redis errors would need a second scan of every request. A measurement on the same
// pipelines (bench/resp-parse.ts, docs/performance.md) found this parser faster as well.
//
// Arguments of multibulk requests are zero-copy views into the socket's chunks (which Node never
// reuses): whoever keeps one beyond the command (a keyspace, a queued transaction) holds that
// chunk alive, so a store that keeps values copies them.

import { parseLongLong } from './integer.js';
import { splitArgs } from './split-args.js';

/** Redis's PROTO_INLINE_MAX_SIZE: the longest length line or inline request. */
export const INLINE_MAX_BYTES = 64 * 1024;
const INT_MAX = 2147483647;
/** Before AUTH, Redis refuses requests with more arguments than this... */
const UNAUTHENTICATED_MAX_ARGS = 10;
/** ...or any argument longer than this. */
const UNAUTHENTICATED_MAX_BULK_BYTES = 16384;

export const DEFAULT_PROTO_MAX_BULK_LEN = 512 * 1024 * 1024;

/**
 * A malformed request. `message` is the RESP error Redis sends (without the leading '-'); after
 * sending it the connection is closed, as Redis does.
 */
export class ProtocolError extends Error {
  readonly code = 'PROTOCOL_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const EMPTY = Buffer.alloc(0);
/** The smallest buffer of our own: what a partial request is copied into. */
const MIN_OWNED_BYTES = 16 * 1024;
/** Returned for `*0` and friends; never handed to a caller, so never mutated. */
const EMPTY_ARGV: Buffer[] = [];

export interface RequestParserOptions {
  /** Redis `proto-max-bulk-len`. */
  readonly maxBulkLengthBytes?: number;
}

export class RequestParser {
  /** Redis `proto-max-bulk-len`; read at every bulk header, so a CONFIG SET applies at once. */
  maxBulkLengthBytes: number;
  /**
   * Whether the client still has to AUTH. The connection sets it before every `next()`, as Redis
   * checks `authRequired(c)` when it reads each length line.
   */
  unauthenticated = false;

  /**
   * Unparsed bytes are `buffer[position, length)`. The buffer is either a socket chunk, used as
   * is, or one of our own with spare room after `length`, grown geometrically so that a request
   * arriving in many small chunks costs amortised O(1) per byte. Bytes before `position` may be
   * referenced by arguments already returned, so they are never overwritten: growing copies into
   * a new buffer.
   */
  private buffer: Buffer = EMPTY;
  private position = 0;
  private length = 0;
  private owned = false;

  /** The request being read: its arguments so far, how many are still due, the next one's size. */
  private argv: Buffer[] = [];
  private argsRemaining = 0;
  private bulkLengthBytes = -1;
  /** Wire bytes of the request being read that are before `position`. */
  private partialBytes = 0;

  constructor(options: RequestParserOptions = {}) {
    this.maxBulkLengthBytes = options.maxBulkLengthBytes ?? DEFAULT_PROTO_MAX_BULK_LEN;
  }

  /** Appends bytes received from the client. */
  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.position === this.length) {
      this.buffer = chunk;
      this.position = 0;
      this.length = chunk.length;
      this.owned = false;
      return;
    }
    if (!this.owned || this.length + chunk.length > this.buffer.length) this.grow(chunk.length);
    chunk.copy(this.buffer, this.length);
    this.length += chunk.length;
  }

  /** Moves the unparsed bytes into a new buffer of our own with room for `extraBytes` more. */
  private grow(extraBytes: number): void {
    const unparsed = this.length - this.position;
    const capacity = Math.max(unparsed + extraBytes, 2 * unparsed, MIN_OWNED_BYTES);
    const grown = Buffer.allocUnsafe(capacity);
    this.buffer.copy(grown, 0, this.position, this.length);
    this.buffer = grown;
    this.position = 0;
    this.length = unparsed;
    this.owned = true;
  }

  /**
   * Bytes this client holds in the server: unparsed input plus the part of the current request
   * already parsed. Compared with `client-query-buffer-limit`.
   */
  get bufferedBytes(): number {
    return this.length - this.position + this.partialBytes;
  }

  /**
   * The next complete request, or null until more bytes arrive. Empty requests (`*0`, blank
   * inline lines) are skipped. Throws ProtocolError on malformed input; the parser is then
   * unusable, as the connection is about to close.
   */
  next(): Buffer[] | null {
    for (;;) {
      if (this.position === this.length) {
        // Drop the reference so an idle client does not pin its last chunk.
        this.buffer = EMPTY;
        this.position = 0;
        this.length = 0;
        this.owned = false;
        return null;
      }
      const argv = this.argsRemaining > 0 || this.buffer[this.position] === 0x2a
        ? this.parseMultibulk()
        : this.parseInline();
      if (argv === null) return null;
      if (argv.length > 0) return argv;
    }
  }

  /**
   * Finds the '\r' ending the length line at `start`, as C's strchr would: -1 when a NUL byte or
   * the end of the buffer comes first.
   */
  private findCarriageReturn(start: number): number {
    const buffer = this.buffer;
    const length = this.length;
    for (let index = start; index < length; index++) {
      const byte = buffer[index]!;
      if (byte === 0x0d) return index;
      if (byte === 0) return -1;
    }
    return -1;
  }

  /** More bytes are needed; fails once the line already exceeds what Redis would buffer. */
  private lineIncomplete(what: string): null {
    if (this.length - this.position > INLINE_MAX_BYTES) throw new ProtocolError(`ERR Protocol error: too big ${what}`);
    return null;
  }

  private parseMultibulk(): Buffer[] | null {
    const buffer = this.buffer;
    if (this.argsRemaining === 0) {
      const lineEnd = this.findCarriageReturn(this.position);
      if (lineEnd < 0) return this.lineIncomplete('mbulk count string');
      // The '\r' must be followed by one more byte, which is skipped unchecked.
      if (lineEnd + 1 >= this.length) return this.lineIncomplete('mbulk count string');
      const count = parseLongLong(buffer, this.position + 1, lineEnd);
      if (Number.isNaN(count) || count > INT_MAX) throw new ProtocolError('ERR Protocol error: invalid multibulk length');
      if (count > UNAUTHENTICATED_MAX_ARGS && this.unauthenticated) {
        throw new ProtocolError('ERR Protocol error: unauthenticated multibulk length');
      }
      this.partialBytes += lineEnd + 2 - this.position;
      this.position = lineEnd + 2;
      if (count <= 0) {
        this.partialBytes = 0;
        return EMPTY_ARGV;
      }
      this.argsRemaining = count;
      this.argv = [];
    }
    while (this.argsRemaining > 0) {
      if (this.bulkLengthBytes < 0) {
        const lineEnd = this.findCarriageReturn(this.position);
        if (lineEnd < 0) return this.lineIncomplete('bulk count string');
        if (lineEnd + 1 >= this.length) return this.lineIncomplete('bulk count string');
        const marker = buffer[this.position]!;
        if (marker !== 0x24) {
          throw new ProtocolError(`ERR Protocol error: expected '$', got '${String.fromCharCode(marker)}'`);
        }
        const length = parseLongLong(buffer, this.position + 1, lineEnd);
        if (Number.isNaN(length) || length < 0 || length > this.maxBulkLengthBytes) {
          throw new ProtocolError('ERR Protocol error: invalid bulk length');
        }
        if (length > UNAUTHENTICATED_MAX_BULK_BYTES && this.unauthenticated) {
          throw new ProtocolError('ERR Protocol error: unauthenticated bulk length');
        }
        this.partialBytes += lineEnd + 2 - this.position;
        this.position = lineEnd + 2;
        this.bulkLengthBytes = length;
      }
      const end = this.position + this.bulkLengthBytes;
      // The payload is followed by two bytes (meant to be "\r\n") that Redis skips unchecked.
      if (end + 2 > this.length) return null;
      this.argv.push(this.bulkLengthBytes === 0 ? EMPTY : buffer.subarray(this.position, end));
      this.partialBytes += end + 2 - this.position;
      this.position = end + 2;
      this.bulkLengthBytes = -1;
      this.argsRemaining--;
    }
    const argv = this.argv;
    this.argv = [];
    this.partialBytes = 0;
    return argv;
  }

  private parseInline(): Buffer[] | null {
    const buffer = this.buffer;
    const start = this.position;
    const unparsed = buffer.subarray(start, this.length);
    const offset = unparsed.indexOf(0x0a);
    // strchr semantics: a NUL before the newline hides it.
    if (offset < 0 || unparsed.subarray(0, offset).indexOf(0) >= 0) return this.lineIncomplete('inline request');
    const newline = start + offset;
    let lineEnd = newline;
    if (lineEnd > start && buffer[lineEnd - 1] === 0x0d) lineEnd--;
    const argv = splitArgs(buffer.subarray(start, lineEnd));
    if (argv === null) throw new ProtocolError('ERR Protocol error: unbalanced quotes in request');
    this.position = newline + 1;
    return argv;
  }
}
