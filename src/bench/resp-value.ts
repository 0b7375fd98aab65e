// A complete RESP2 decoder for the benchmark's control path: the few replies whose contents
// matter (CLUSTER SLOTS), read on a connection of their own. The hot path never uses it; it has
// ReplyScanner, which builds nothing.

export type RespValue = string | number | Buffer | null | RespError | RespValue[];

export class RespError {
  constructor(readonly message: string) {}
}

export interface Decoded {
  readonly value: RespValue;
  /** Bytes of `input` the value took. */
  readonly sizeBytes: number;
}

/** Decodes one value at the start of `input`; undefined when `input` holds only part of it. */
export function decodeResp(input: Buffer, offset = 0): Decoded | undefined {
  const result = decodeAt(input, offset, 0);
  if (result === undefined) return undefined;
  return { value: result.value, sizeBytes: result.end - offset };
}

const DEPTH_MAX = 32;

function decodeAt(input: Buffer, offset: number, depth: number): { value: RespValue; end: number } | undefined {
  if (depth > DEPTH_MAX) throw new Error(`RESP nested deeper than ${DEPTH_MAX}`);
  if (offset >= input.length) return undefined;
  const lineEnd = input.indexOf('\r\n', offset + 1, 'latin1');
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(input[offset] as number);
  const line = input.toString('latin1', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: integerOf(line), end: next };
    case '$': {
      const length = integerOf(line);
      if (length < 0) return { value: null, end: next };
      if (input.length < next + length + 2) return undefined;
      return { value: input.subarray(next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = integerOf(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let position = next;
      for (let i = 0; i < count; i++) {
        const item = decodeAt(input, position, depth + 1);
        if (item === undefined) return undefined;
        items.push(item.value);
        position = item.end;
      }
      return { value: items, end: position };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

function integerOf(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new Error(`RESP integer expected, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** The RESP2 encoding of a command given as strings: `*N\r\n$len\r\narg\r\n...`. */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const arg of args) {
    const bytes = Buffer.from(arg, 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`, 'latin1'), bytes, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}
