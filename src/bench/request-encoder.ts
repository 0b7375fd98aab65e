// RESP encoding of the benchmark's two requests, SET key value and GET key, straight into a
// caller's Buffer. Everything but the key's decimal index is computed once: the command header,
// the key prefix, and for SET the value with its length header, which never changes because
// memtier's default value is `data-size` bytes of 'x'.

import { decimalDigitCount, writeDecimal } from '../resp/decimal.js';

const CRLF = '\r\n';

export class RequestEncoder {
  /** `*3\r\n$3\r\nSET\r\n$` and `*2\r\n$3\r\nGET\r\n$`: everything before the key's length. */
  private readonly setHead: Buffer;
  private readonly getHead: Buffer;
  private readonly prefix: Buffer;
  /** `$<size>\r\nxxxx...\r\n`: everything after the key (and its CRLF) of a SET. */
  private readonly setTail: Buffer;
  /** The largest SET and GET this encoder can produce, for sizing write buffers. */
  readonly setBytesMax: number;
  readonly getBytesMax: number;

  constructor(keyPrefix: string, dataSizeBytes: number) {
    this.prefix = Buffer.from(keyPrefix, 'utf8');
    this.setHead = Buffer.from(`*3${CRLF}$3${CRLF}SET${CRLF}$`, 'latin1');
    this.getHead = Buffer.from(`*2${CRLF}$3${CRLF}GET${CRLF}$`, 'latin1');
    const value = Buffer.alloc(dataSizeBytes, 'x');
    const crlf = Buffer.from(CRLF, 'latin1');
    this.setTail = Buffer.concat([Buffer.from(`$${dataSizeBytes}${CRLF}`, 'latin1'), value, crlf]);
    // A key index is a safe integer: at most 16 digits; its length header at most 2 more.
    const keyBytesMax = this.prefix.length + 16;
    const keyHeaderBytesMax = decimalDigitCount(keyBytesMax) + CRLF.length;
    this.setBytesMax = this.setHead.length + keyHeaderBytesMax + keyBytesMax + CRLF.length + this.setTail.length;
    this.getBytesMax = this.getHead.length + keyHeaderBytesMax + keyBytesMax + CRLF.length;
  }

  /** Writes SET <prefix><keyIndex> <value> at `offset`; returns the end offset. */
  writeSet(target: Buffer, offset: number, keyIndex: number): number {
    const position = this.writeKey(target, offset, this.setHead, keyIndex);
    target.set(this.setTail, position);
    return position + this.setTail.length;
  }

  /** Writes GET <prefix><keyIndex> at `offset`; returns the end offset. */
  writeGet(target: Buffer, offset: number, keyIndex: number): number {
    return this.writeKey(target, offset, this.getHead, keyIndex);
  }

  /** The key as text, for reports and for the slower paths (redirects). */
  keyText(keyIndex: number): string {
    return `${this.prefix.toString('utf8')}${keyIndex}`;
  }

  private writeKey(target: Buffer, offset: number, head: Buffer, keyIndex: number): number {
    target.set(head, offset);
    let position = offset + head.length;
    position = writeDecimal(target, position, this.prefix.length + decimalDigitCount(keyIndex));
    target[position++] = 0x0d;
    target[position++] = 0x0a;
    target.set(this.prefix, position);
    position += this.prefix.length;
    position = writeDecimal(target, position, keyIndex);
    target[position++] = 0x0d;
    target[position++] = 0x0a;
    return position;
  }
}
