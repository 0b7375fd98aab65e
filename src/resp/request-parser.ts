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
// request may only hold bulk strings), has no inline commands, reports its own error texts and
// has no notion of the limits above, so the exact Redis behaviour would need a second pass over
// every request. bench/resp-parse.ts measured both on the same pipelines: this parser runs at
// redis-parser's speed (within the noise, 0.9x to 1.1x; most of either's time is Node creating
// one Buffer view per argument), so doing it right costs nothing.
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
 * What one parsed argument of an unfinished request costs beyond its bytes (a Buffer view and
 * its array slot), counted in bufferedBytes: a request of a billion one-byte arguments must hit
 * client-query-buffer-limit before it exhausts memory.
 */
export const ARG_OVERHEAD_BYTES = 96;

/** Requests of up to this many arguments get their argv array made at its size (no growth). */
const ARGV_PRESIZE_MAX = 64;

/** What `argv` holds between requests: never written (a count line assigns a fresh array first). */
const NO_ARGV: Buffer[] = [];

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
  /** The rest of a chunk whose first bytes completed a straddling element (see feed). */
  private queued: Buffer | null = null;
  /**
   * Whether the unparsed bytes are exactly the element in progress: next() returned null and
   * nothing arrived since. Only then does the parser state say what completes it.
   */
  private starved = false;

  /**
   * The request being read: its arguments (`argc` of them so far; the array is made at its full
   * size when the count is small, see ARGV_PRESIZE_MAX), how many are still due, the next one's size.
   */
  private argv: Buffer[] = NO_ARGV;
  private argc = 0;
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
    if (this.position === this.length && this.queued === null) {
      this.buffer = chunk;
      this.position = 0;
      this.length = chunk.length;
      this.owned = false;
      this.starved = false;
      return;
    }
    if (this.queued === null && this.starved) {
      // A request straddles the chunk boundary. Copy only what completes the element in
      // progress (a length line, a bulk payload, an inline line), then go on in the new chunk
      // itself: copying whole chunks would cost as much as parsing them.
      const needed = this.bytesCompletingElement(chunk);
      if (needed > 0) {
        this.starved = false;
        const unparsed = this.length - this.position;
        const stitched = Buffer.allocUnsafe(unparsed + needed);
        this.buffer.copy(stitched, 0, this.position, this.length);
        chunk.copy(stitched, unparsed, 0, needed);
        this.buffer = stitched;
        this.position = 0;
        this.length = stitched.length;
        this.owned = false;
        this.queued = needed < chunk.length ? chunk.subarray(needed) : null;
        return;
      }
    } else if (this.queued !== null) {
      // Bytes arrived before the last ones were parsed (the connection is not reading requests
      // now): fall back to accumulating everything.
      const queued = this.queued;
      this.queued = null;
      this.append(queued);
    }
    this.starved = false;
    this.append(chunk);
  }

  private append(chunk: Buffer): void {
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

  /**
   * How many bytes of `chunk` complete the element the unparsed bytes began, or -1 when `chunk`
   * does not complete it (or it can never complete: a NUL hides the line end, as in Redis).
   */
  private bytesCompletingElement(chunk: Buffer): number {
    const buffer = this.buffer;
    if (this.argsRemaining > 0 && this.bulkLengthBytes >= 0) {
      const needed = this.bulkLengthBytes + 2 - (this.length - this.position);
      return needed <= chunk.length ? needed : -1;
    }
    if (this.argsRemaining > 0 || buffer[this.position] === 0x2a) {
      // A length line: the unparsed bytes hold no '\r' yet (or it is the last byte).
      for (let index = this.position; index < this.length; index++) {
        const byte = buffer[index]!;
        if (byte === 0) return -1;
        if (byte === 0x0d) return 1;
      }
      for (let index = 0; index < chunk.length; index++) {
        const byte = chunk[index]!;
        if (byte === 0) return -1;
        if (byte === 0x0d) return index + 2 <= chunk.length ? index + 2 : -1;
      }
      return -1;
    }
    // An inline line: no '\n' and no NUL in the unparsed bytes, or it would have been parsed.
    const newline = chunk.indexOf(0x0a);
    if (newline < 0 || buffer.subarray(this.position, this.length).indexOf(0) >= 0) return -1;
    return chunk.subarray(0, newline).indexOf(0) >= 0 ? -1 : newline + 1;
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
   * Memory this client holds in the server: unparsed input plus the part of the current request
   * already parsed (its bytes and ARG_OVERHEAD_BYTES per argument). Compared with
   * `client-query-buffer-limit`.
   */
  get bufferedBytes(): number {
    return this.length - this.position + (this.queued?.length ?? 0) + this.partialBytes;
  }

  /**
   * The next complete request, or null until more bytes arrive. Empty requests (`*0`, blank
   * inline lines) are skipped. Throws ProtocolError on malformed input; the parser is then
   * unusable, as the connection is about to close.
   */
  next(): Buffer[] | null {
    for (;;) {
      if (this.position === this.length && this.queued !== null) {
        this.buffer = this.queued;
        this.position = 0;
        this.length = this.queued.length;
        this.owned = false;
        this.queued = null;
      }
      if (this.position === this.length) {
        // Drop the reference so an idle client does not pin its last chunk.
        this.buffer = EMPTY;
        this.position = 0;
        this.length = 0;
        this.owned = false;
        this.starved = true;
        return null;
      }
      const argv = this.argsRemaining > 0 || this.buffer[this.position] === 0x2a
        ? this.parseMultibulk()
        : this.parseInline();
      if (argv === null) {
        // The stitched bytes are used up: the request goes on in the rest of the chunk.
        if (this.queued !== null && this.position === this.length) continue;
        this.starved = true;
        return null;
      }
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
    const length = this.length;
    if (this.argsRemaining === 0) {
      const lineEnd = this.findCarriageReturn(this.position);
      if (lineEnd < 0) return this.lineIncomplete('mbulk count string');
      // The '\r' must be followed by one more byte, which is skipped unchecked.
      if (lineEnd + 1 >= length) return this.lineIncomplete('mbulk count string');
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
      // An array made at its size holds just the arguments; one grown by push starts at 17 slots.
      this.argv = count <= ARGV_PRESIZE_MAX ? new Array<Buffer>(count) : [];
      this.argc = 0;
    }
    // The hot loop works on locals and stores them back once, when it stops.
    const argv = this.argv;
    const start = this.position;
    let position = start;
    const argsBefore = this.argc;
    let argc = argsBefore;
    let remaining = this.argsRemaining;
    let bulkLength = this.bulkLengthBytes;
    let complete = false;
    for (;;) {
      if (bulkLength < 0) {
        bulkLength = this.fastBulkLength(position);
        if (bulkLength >= 0) {
          position = this.fastLineEnd;
        } else {
          this.position = position;
          const parsed = this.slowBulkLength();
          if (parsed < 0) break;
          bulkLength = parsed;
          position = this.position;
        }
      }
      const end = position + bulkLength;
      // The payload is followed by two bytes (meant to be "\r\n") that Redis skips unchecked.
      if (end + 2 > length) break;
      argv[argc++] = bulkLength === 0 ? EMPTY : buffer.subarray(position, end);
      position = end + 2;
      bulkLength = -1;
      if (--remaining === 0) {
        complete = true;
        break;
      }
    }
    this.position = position;
    this.argsRemaining = remaining;
    this.bulkLengthBytes = bulkLength;
    this.argc = argc;
    if (!complete) {
      this.partialBytes += position - start + (argc - argsBefore) * ARG_OVERHEAD_BYTES;
      return null;
    }
    this.argv = NO_ARGV;
    this.partialBytes = 0;
    return argv;
  }

  /** Where the line read by fastBulkLength ends (the position after its "\r\n"). */
  private fastLineEnd = 0;

  /**
   * The common "$<1 to 15 digits>\r?" line at `position`, read in one pass; -1 for anything else
   * (incomplete, malformed, unusual), which slowBulkLength then handles exactly as Redis would.
   */
  private fastBulkLength(position: number): number {
    const buffer = this.buffer;
    const length = this.length;
    if (position + 3 >= length || buffer[position] !== 0x24) return -1;
    let index = position + 1;
    let value = buffer[index]! - 0x30;
    if (value < 1 || value > 9) return value === 0 && buffer[index + 1] === 0x0d && index + 2 < length ? this.fastAccept(0, index + 3) : -1;
    const limit = Math.min(length, index + 15);
    for (index++; index < limit; index++) {
      const digit = buffer[index]! - 0x30;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (index + 1 >= length || buffer[index] !== 0x0d) return -1;
    if (value > this.maxBulkLengthBytes || (value > UNAUTHENTICATED_MAX_BULK_BYTES && this.unauthenticated)) return -1;
    return this.fastAccept(value, index + 2);
  }

  private fastAccept(value: number, lineEnd: number): number {
    this.fastLineEnd = lineEnd;
    return value;
  }

  /**
   * A bulk length line at `this.position`, with every Redis check and error in Redis's order.
   * Returns the length (and moves `position` past the line), or -1 if the line is incomplete.
   */
  private slowBulkLength(): number {
    const buffer = this.buffer;
    const lineEnd = this.findCarriageReturn(this.position);
    if (lineEnd < 0 || lineEnd + 1 >= this.length) {
      this.lineIncomplete('bulk count string');
      return -1;
    }
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
    this.position = lineEnd + 2;
    return length;
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
