// Differential cases: the wire protocol. Inline commands with Redis's quoting, multibulk edge
// cases, every protocol error Redis sends before closing, the limits (inline size, bulk length,
// query buffer, unauthenticated requests) and a few security and framing oddities. Each case is
// raw bytes on one connection; the whole stream until the server closes is compared.
import type { DifferentialCase } from './differential.js';

const bulkCommand = (...args: string[]): string => `*${args.length}\r\n` + args.map((arg) => `$${Buffer.byteLength(arg, 'latin1')}\r\n${arg}\r\n`).join('');

export const PROTOCOL_CASES: readonly DifferentialCase[] = [
  { name: 'inline PING', raw: 'PING\r\n' },
  { name: 'inline with LF only and blank lines', raw: '\r\n\n  \r\nPING\nECHO hi\r\n' },
  { name: 'inline quoting', raw: 'ECHO "a b"\r\nECHO \'c d\'\r\nECHO "\\x41\\n\\t\\r\\b\\a\\q"\r\nECHO a"b c"d\r\nECHO "" \'\'\r\nECHO \'it\\\'s\'\r\n' },
  { name: 'inline bad hex escape is literal', raw: 'ECHO "\\xzz\\x4"\r\n' },
  { name: 'inline unbalanced double quote', raw: 'PING\r\nECHO "abc\r\nPING\r\n' },
  { name: 'inline closing quote followed by text', raw: 'ECHO "a"b\r\nPING\r\n' },
  { name: 'inline unbalanced single quote', raw: "ECHO 'abc\r\n" },
  { name: 'inline vertical tab and form feed', raw: ' \x0b PING \x0c\r\nECHO a\x0bb\r\n' },
  { name: 'inline high bytes', raw: 'ECHO \xe9\xff\r\n' },
  { name: 'inline NUL hides the newline', raw: 'PING\r\nPI\x00NG\r\nPING\r\n' },
  { name: 'inline unknown command', raw: 'FOO bar baz\r\n' },
  { name: 'multibulk basics', raw: bulkCommand('PING') + bulkCommand('ECHO', '') + bulkCommand('ECHO', 'a\r\nb\x00c') },
  { name: 'multibulk *0 and negative counts are skipped', raw: '*0\r\n*-1\r\n*-5\r\n' + bulkCommand('PING') },
  { name: 'multibulk count -0', raw: '*-0\r\n' },
  { name: 'multibulk count above INT_MAX', raw: '*3000000000\r\n' },
  { name: 'multibulk count with plus sign', raw: bulkCommand('PING') + '*+1\r\n$4\r\nPING\r\n' },
  { name: 'multibulk count not a number', raw: '*abc\r\n' },
  { name: 'multibulk empty count', raw: '*\r\n' },
  { name: 'multibulk count overflowing long long', raw: '*99999999999999999999\r\n' },
  { name: 'multibulk large count then end of stream', raw: '*2000000\r\n$4\r\nPING\r\n' },
  { name: 'byte after CR is not checked', raw: '*1\rX$4\rYPING\r\n' },
  { name: 'bytes after payload are not checked', raw: '*1\r\n$4\r\nPINGXY' + bulkCommand('PING') },
  { name: "expected '$'", raw: bulkCommand('PING') + '*1\r\n+PING\r\n' },
  { name: "expected '$', got a digit", raw: '*1\r\n4\r\nPING\r\n' },
  { name: 'null bulk in a request', raw: '*1\r\n$-1\r\n' },
  { name: 'bulk length with plus sign', raw: '*1\r\n$+4\r\nPING\r\n' },
  { name: 'bulk length with leading zero', raw: '*1\r\n$04\r\nPING\r\n' },
  { name: 'bulk length not a number', raw: '*1\r\n$x\r\n' },
  { name: 'bulk length above proto-max-bulk-len', raw: '*1\r\n$536870913\r\n' },
  { name: 'NUL hides the CR of a count line', raw: '*1\x00\r\n$4\r\nPING\r\n' },
  { name: 'NUL inside a bulk is data', raw: bulkCommand('PI\x00G') + bulkCommand('ECHO', '\x00') },
  { name: 'incomplete bulk at end of stream', raw: bulkCommand('PING') + '*2\r\n$4\r\nECHO\r\n$10\r\nabc' },
  { name: 'inline request longer than 64 KB', raw: 'PING\r\n' + 'A'.repeat(70_000) },
  { name: 'count line longer than 64 KB', raw: '*' + '1'.repeat(70_000) },
  { name: 'bulk length line longer than 64 KB', raw: '*1\r\n$' + '1'.repeat(70_000) },
  { name: 'inline request of 60 KB is fine', raw: 'ECHO ' + 'b'.repeat(60_000) + '\r\n' },
  { name: 'a 1 MB bulk', raw: bulkCommand('ECHO', 'v'.repeat(1024 * 1024)) },
  { name: 'HTTP POST closes without a reply', raw: 'PING\r\nPOST / HTTP/1.1\r\n' },
  { name: 'HTTP Host: closes without a reply', raw: 'PING\r\nHost: example.com\r\n' },
  { name: 'QUIT stops processing', raw: 'PING\r\nQUIT\r\nPING\r\n' },
  { name: 'QUIT with arguments', raw: bulkCommand('QUIT', 'now', 'please') + bulkCommand('PING') },
  { name: 'pipeline of 5000 inline and multibulk commands', raw: Array.from({ length: 5000 }, (_, index) => (index % 2 === 0 ? `SET k${index % 50} ${index}\r\n` : bulkCommand('GET', `k${(index * 7) % 50}`))).join('') },
  {
    // Each read must see the writes before it in the pipeline and none after it, as Redis runs a
    // connection's commands one by one (over Raft, replies arrive later and reads take a ReadIndex
    // round while later writes are already being applied).
    name: 'pipelined reads see the earlier writes and not the later ones',
    raw: Array.from({ length: 300 }, (_, index) => bulkCommand('SET', 'k', `v${index}`) + bulkCommand('GET', 'k') + bulkCommand('APPEND', 'k', '+') + bulkCommand('STRLEN', 'k') + bulkCommand('EXISTS', 'gone') + bulkCommand('SET', 'gone', '1') + bulkCommand('DEL', 'gone')).join(''),
  },
  {
    name: 'proto-max-bulk-len set to 1 MB',
    options: { protoMaxBulkLenBytes: 1024 * 1024 },
    raw: bulkCommand('ECHO', 'x'.repeat(1024 * 1024)) + '*2\r\n$4\r\nECHO\r\n$1048577\r\n',
  },
  {
    name: 'client-query-buffer-limit set to 1 MB: the client is disconnected without a reply',
    options: { clientQueryBufferLimitBytes: 1024 * 1024 },
    raw: bulkCommand('PING') + '*2\r\n$4\r\nECHO\r\n$2000000\r\n' + 'y'.repeat(1_200_000),
  },
  { name: 'unauthenticated: more than 10 arguments', options: { requirepass: 'sekret' }, raw: bulkCommand('PING') + '*11\r\n' },
  { name: 'unauthenticated: bulk above 16384 bytes', options: { requirepass: 'sekret' }, raw: '*2\r\n$4\r\nECHO\r\n$16385\r\n' },
  { name: 'unauthenticated: 10 arguments of 16384 bytes are allowed', options: { requirepass: 'sekret' }, raw: bulkCommand('ECHO', 'z'.repeat(16384), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h') },
  { name: 'authenticated: the limits lift', options: { requirepass: 'sekret' }, raw: 'AUTH sekret\r\n' + bulkCommand('ECHO', 'z'.repeat(20000)) + bulkCommand('DEL', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k') },
];
