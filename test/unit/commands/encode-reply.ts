// Test helper: encodes a `Reply` with the server's own RESP encoder (src/resp/encoder.ts), RESP2
// unless told otherwise, so the byte-for-byte comparisons with redis-server cover the encoder too.
import { encodeReply as encode } from '../../../src/resp/encoder.js';
import type { Reply } from '../../../src/resp/reply.js';

export function encodeReply(reply: Reply, protocol: 2 | 3 = 2): Buffer {
  return encode(reply, protocol);
}
