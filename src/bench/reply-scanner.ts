// An incremental RESP2 reply scanner for the benchmark's hot path. It does not build values: it
// only finds where each top-level reply ends, what kind it is (a GET hit is a bulk string, a
// miss is `$-1`) and how many bytes it took, whatever the chunk boundaries. Bulk payloads are
// skipped without being looked at. Only error replies are turned into text, because the caller
// must tell `-MOVED` apart from other errors and report them.

export const ReplyKind = {
  status: 0,
  error: 1,
  integer: 2,
  bulk: 3,
  nullBulk: 4,
  array: 5,
  nullArray: 6,
} as const;
export type ReplyKind = (typeof ReplyKind)[keyof typeof ReplyKind];

/** Receives each complete top-level reply, in order. */
export interface ReplySink {
  /** `errorText` is the message after the dash, for error replies only. */
  onReply(kind: ReplyKind, sizeBytes: number, errorText: string | undefined): void;
}

/** The server sent bytes that are not RESP2: the connection cannot be trusted any further. */
export class ReplyProtocolError extends Error {
  readonly code = 'EBENCHPROTOCOL';
  constructor(message: string) {
    super(message);
    this.name = 'ReplyProtocolError';
  }
}

const STATE_TYPE = 0;
const STATE_LINE = 1;
const STATE_BULK = 2;

const BYTE_PLUS = 0x2b;
const BYTE_MINUS = 0x2d;
const BYTE_COLON = 0x3a;
const BYTE_DOLLAR = 0x24;
const BYTE_STAR = 0x2a;
const BYTE_CR = 0x0d;
const BYTE_LF = 0x0a;
const BYTE_ZERO = 0x30;
const BYTE_NINE = 0x39;

/** Error text beyond this is cut: a runaway error line must not grow memory without bound. */
export const ERROR_TEXT_BYTES_MAX = 1024;
/** Nesting beyond this is treated as a protocol error; no command of ours replies that deep. */
export const NESTING_DEPTH_MAX = 32;
/** A header line (`$123\r\n`) longer than this is not RESP we accept. */
const HEADER_LINE_BYTES_MAX = 64;

export class ReplyScanner {
  private state = STATE_TYPE;
  /** The type byte of the line being read. */
  private lineType = 0;
  private lineBytes = 0;
  private lineNumber = 0;
  private lineNegative = false;
  private lineDigits = 0;
  private errorText = '';
  /** Payload and CRLF bytes still to skip in STATE_BULK. */
  private bulkRemaining = 0;
  /** Bytes of the current top-level reply seen so far. */
  private replyBytes = 0;
  /** Elements still expected by each open array, innermost last; `depth` of them are in use. */
  private readonly pending = new Float64Array(NESTING_DEPTH_MAX);
  private depth = 0;

  constructor(private readonly sink: ReplySink) {}

  /** True when no reply is partly read: the stream is at a reply boundary. */
  get idle(): boolean {
    return this.state === STATE_TYPE && this.depth === 0;
  }

  /** Scans the first `length` bytes of `chunk` (all of it by default). */
  feed(chunk: Uint8Array, length = chunk.length): void {
    let index = 0;
    while (index < length) {
      if (this.state === STATE_TYPE) {
        this.startLine(chunk[index] as number);
        index++;
        this.replyBytes++;
      } else if (this.state === STATE_LINE) {
        index = this.readLine(chunk, index, length);
      } else {
        const available = length - index;
        const take = available < this.bulkRemaining ? available : this.bulkRemaining;
        index += take;
        this.replyBytes += take;
        this.bulkRemaining -= take;
        if (this.bulkRemaining === 0) this.elementDone(ReplyKind.bulk);
      }
    }
  }

  private startLine(type: number): void {
    if (type !== BYTE_PLUS && type !== BYTE_MINUS && type !== BYTE_COLON && type !== BYTE_DOLLAR && type !== BYTE_STAR) {
      throw new ReplyProtocolError(`unexpected reply type byte 0x${type.toString(16).padStart(2, '0')}`);
    }
    this.lineType = type;
    this.lineBytes = 0;
    this.lineNumber = 0;
    this.lineNegative = false;
    this.lineDigits = 0;
    this.errorText = '';
    this.state = STATE_LINE;
  }

  /** Consumes header-line bytes up to and including LF; returns the next index. */
  private readLine(chunk: Uint8Array, start: number, length: number): number {
    const type = this.lineType;
    let index = start;
    if (type === BYTE_PLUS || type === BYTE_MINUS) {
      // Text lines: find the LF without looking at each byte in JavaScript.
      let lf = chunk.indexOf(BYTE_LF, start);
      // Bytes past `length` are stale (a reused read buffer): an LF there does not count.
      if (lf >= length) lf = -1;
      const end = lf === -1 ? length : lf;
      if (type === BYTE_MINUS && this.errorText.length < ERROR_TEXT_BYTES_MAX) {
        const room = ERROR_TEXT_BYTES_MAX - this.errorText.length;
        const textEnd = end - start > room ? start + room : end;
        this.errorText += Buffer.from(chunk.buffer, chunk.byteOffset + start, textEnd - start).toString('latin1');
      }
      this.replyBytes += end - start;
      if (lf === -1) return length;
      this.replyBytes++;
      this.lineDone();
      return lf + 1;
    }
    // Numeric lines: a few bytes, parsed as they come.
    while (index < length) {
      const byte = chunk[index] as number;
      index++;
      this.replyBytes++;
      if (byte === BYTE_LF) {
        if (this.lineDigits === 0) throw new ReplyProtocolError('header line without a number');
        this.lineDone();
        return index;
      }
      if (++this.lineBytes > HEADER_LINE_BYTES_MAX) throw new ReplyProtocolError('header line too long');
      if (byte >= BYTE_ZERO && byte <= BYTE_NINE) {
        this.lineNumber = this.lineNumber * 10 + (byte - BYTE_ZERO);
        this.lineDigits++;
      } else if (byte === BYTE_MINUS && this.lineBytes === 1) {
        this.lineNegative = true;
      } else if (byte !== BYTE_CR) {
        throw new ReplyProtocolError(`unexpected byte 0x${byte.toString(16).padStart(2, '0')} in a header line`);
      }
    }
    return index;
  }

  private lineDone(): void {
    switch (this.lineType) {
      case BYTE_PLUS:
        this.elementDone(ReplyKind.status);
        return;
      case BYTE_MINUS:
        if (this.errorText.endsWith('\r')) this.errorText = this.errorText.slice(0, -1);
        this.elementDone(ReplyKind.error);
        return;
      case BYTE_COLON:
        this.elementDone(ReplyKind.integer);
        return;
      case BYTE_DOLLAR:
        if (this.lineNegative) {
          this.elementDone(ReplyKind.nullBulk);
        } else {
          this.bulkRemaining = this.lineNumber + 2;
          this.state = STATE_BULK;
        }
        return;
      case BYTE_STAR:
        if (this.lineNegative) {
          this.elementDone(ReplyKind.nullArray);
        } else if (this.lineNumber === 0) {
          this.elementDone(ReplyKind.array);
        } else {
          if (this.depth === NESTING_DEPTH_MAX) throw new ReplyProtocolError(`arrays nested deeper than ${NESTING_DEPTH_MAX}`);
          this.pending[this.depth++] = this.lineNumber;
          this.state = STATE_TYPE;
        }
        return;
      default:
        throw new Error(`scanner reached lineDone with type byte ${this.lineType}`);
    }
  }

  /** One value is complete: close the arrays it completes, and emit if it was top-level. */
  private elementDone(kind: ReplyKind): void {
    this.state = STATE_TYPE;
    let completed: ReplyKind = kind;
    while (this.depth > 0) {
      const left = (this.pending[this.depth - 1] as number) - 1;
      if (left > 0) {
        this.pending[this.depth - 1] = left;
        return;
      }
      this.depth--;
      completed = ReplyKind.array;
    }
    const sizeBytes = this.replyBytes;
    this.replyBytes = 0;
    this.sink.onReply(completed, sizeBytes, completed === ReplyKind.error ? this.errorText : undefined);
  }
}
