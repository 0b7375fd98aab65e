// Test helper: a minimal RESP2/RESP3 encoder for `Reply`, used to compare our replies with
// redis-server's bytes until src/resp's encoder exists (then the tests switch to it). It follows
// Redis's degradation rules: in RESP2 maps become flat arrays, sets arrays, doubles bulk strings,
// booleans the integers 1 and 0, and both nulls their RESP2 spellings.
import type { Reply } from '../../../src/resp/reply.js';

export function encodeReply(reply: Reply, protocol: 2 | 3 = 2): Buffer {
  const parts: Buffer[] = [];
  const put = (text: string): void => { parts.push(Buffer.from(text, 'latin1')); };
  const walk = (r: Reply): void => {
    switch (r.kind) {
      case 'simple': put(`+${r.value}\r\n`); break;
      case 'error': put(`-${r.value}\r\n`); break;
      case 'integer': put(`:${r.value}\r\n`); break;
      case 'bulk': put(`$${r.value.length}\r\n`); parts.push(r.value); put('\r\n'); break;
      case 'null': put(protocol === 3 ? '_\r\n' : '$-1\r\n'); break;
      case 'nullArray': put(protocol === 3 ? '_\r\n' : '*-1\r\n'); break;
      case 'array': put(`*${r.value.length}\r\n`); r.value.forEach(walk); break;
      case 'set': put(`${protocol === 3 ? '~' : '*'}${r.value.length}\r\n`); r.value.forEach(walk); break;
      case 'map':
        put(protocol === 3 ? `%${r.value.length}\r\n` : `*${r.value.length * 2}\r\n`);
        for (const [k, v] of r.value) { walk(k); walk(v); }
        break;
      case 'double':
        if (protocol === 3) put(`,${r.value}\r\n`);
        else put(`$${Buffer.byteLength(r.value)}\r\n${r.value}\r\n`);
        break;
      case 'boolean': put(protocol === 3 ? `#${r.value ? 't' : 'f'}\r\n` : `:${r.value ? 1 : 0}\r\n`); break;
      case 'verbatim':
        if (protocol === 3) { put(`=${r.value.length + 4}\r\n${r.format}:`); parts.push(r.value); put('\r\n'); }
        else { put(`$${r.value.length}\r\n`); parts.push(r.value); put('\r\n'); }
        break;
      case 'raw': parts.push(r.value); break;
      default: { const never: never = r; throw new Error(`unknown reply ${JSON.stringify(never)}`); }
    }
  };
  walk(reply);
  return Buffer.concat(parts);
}
