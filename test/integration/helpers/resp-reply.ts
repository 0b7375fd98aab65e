// Test helper: a small RESP2/RESP3 *reply* reader for the differential harness. `replyLength`
// finds where one reply ends in a byte stream without interpreting it; `parseReply` turns one
// complete reply into a tree and `serializeReply` back into bytes, so that an allowed difference
// (a client id, a timestamp) can be masked in both servers' replies before they are compared
// byte for byte.

/** One decoded reply. `type` is the RESP type byte; `text` the line or bulk payload (latin1). */
export interface ReplyNode {
  readonly type: string;
  readonly text?: string;
  readonly items?: readonly ReplyNode[];
  /** RESP2 `$-1` or `*-1`. */
  readonly nil?: true;
}

const LINE_TYPES = new Set(['+', '-', ':', '_', ',', '#', '(']);
const BULK_TYPES = new Set(['$', '=', '!']);
const AGGREGATE_TYPES = new Set(['*', '~', '>', '%', '|']);

/**
 * Length of the complete reply starting at `offset`, or -1 if more bytes are needed. Throws on
 * bytes that are not a reply (a server bug the test must show).
 */
export function replyLength(buffer: Buffer, offset: number): number {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return -1;
  const type = String.fromCharCode(buffer[offset]!);
  const header = buffer.toString('latin1', offset + 1, lineEnd);
  let end = lineEnd + 2;
  if (LINE_TYPES.has(type)) return end - offset;
  if (BULK_TYPES.has(type)) {
    const size = Number(header);
    if (size < 0) return end - offset;
    if (buffer.length < end + size + 2) return -1;
    return end + size + 2 - offset;
  }
  if (AGGREGATE_TYPES.has(type)) {
    let count = Number(header);
    if (count < 0) return end - offset;
    if (type === '%' || type === '|') count *= 2;
    for (let index = 0; index < count; index++) {
      const length = replyLength(buffer, end);
      if (length < 0) return -1;
      end += length;
    }
    return end - offset;
  }
  throw new Error(`not a RESP reply at offset ${offset}: ${JSON.stringify(buffer.toString('latin1', offset, offset + 40))}`);
}

/** Splits a stream into complete replies; `rest` is the incomplete tail. */
export function splitReplies(buffer: Buffer): { replies: Buffer[]; rest: Buffer } {
  const replies: Buffer[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const length = replyLength(buffer, offset);
    if (length < 0) break;
    replies.push(buffer.subarray(offset, offset + length));
    offset += length;
  }
  return { replies, rest: buffer.subarray(offset) };
}

function parseAt(buffer: Buffer, offset: number): { node: ReplyNode; end: number } {
  const lineEnd = buffer.indexOf('\r\n', offset);
  const type = String.fromCharCode(buffer[offset]!);
  const header = buffer.toString('latin1', offset + 1, lineEnd);
  let end = lineEnd + 2;
  if (LINE_TYPES.has(type)) return { node: { type, text: header }, end };
  if (BULK_TYPES.has(type)) {
    const size = Number(header);
    if (size < 0) return { node: { type, nil: true }, end };
    return { node: { type, text: buffer.toString('latin1', end, end + size) }, end: end + size + 2 };
  }
  let count = Number(header);
  if (count < 0) return { node: { type, nil: true }, end };
  if (type === '%' || type === '|') count *= 2;
  const items: ReplyNode[] = [];
  for (let index = 0; index < count; index++) {
    const parsed = parseAt(buffer, end);
    items.push(parsed.node);
    end = parsed.end;
  }
  return { node: { type, items }, end };
}

export function parseReply(reply: Buffer): ReplyNode {
  return parseAt(reply, 0).node;
}

export function serializeReply(node: ReplyNode): Buffer {
  if (node.nil === true) return Buffer.from(`${node.type}-1\r\n`, 'latin1');
  if (node.items !== undefined) {
    const count = node.type === '%' || node.type === '|' ? node.items.length / 2 : node.items.length;
    return Buffer.concat([Buffer.from(`${node.type}${count}\r\n`, 'latin1'), ...node.items.map(serializeReply)]);
  }
  const text = node.text ?? '';
  if (BULK_TYPES.has(node.type)) {
    return Buffer.from(`${node.type}${Buffer.byteLength(text, 'latin1')}\r\n${text}\r\n`, 'latin1');
  }
  return Buffer.from(`${node.type}${text}\r\n`, 'latin1');
}
