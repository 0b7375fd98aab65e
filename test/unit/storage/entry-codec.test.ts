// Proves the entry codec round-trips every kind of entry, including conf changes and empty or
// large payloads, that it matches the byte layout the peer transport uses, and that every
// malformed input (short, unknown codes, lengths past the end, trailing bytes) is refused with
// an EntryDecodeError rather than decoded into something else.
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/raft/types.js';
import { ENTRY_MIN_BYTES, decodeEntry, decodeEntryAt, encodeEntry, encodeEntryInto, encodedEntrySize } from '../../../src/storage/entry-codec.js';
import { EntryDecodeError } from '../../../src/storage/errors.js';
import { sameEntry } from './helpers.js';

const cases: [string, Entry][] = [
  ['normal', { index: 1, term: 1, kind: 'normal', data: Buffer.from('SET k v') }],
  ['noop, no data', { index: 7, term: 3, kind: 'noop', data: new Uint8Array(0) }],
  ['large indexes', { index: 2 ** 53 - 1, term: 2 ** 40 + 5, kind: 'normal', data: Buffer.from([0, 255, 1]) }],
  ['conf add learner', { index: 9, term: 2, kind: 'conf', data: new Uint8Array(0), change: { type: 'addLearner', nodeId: 4, context: Buffer.from('10.0.0.4:7000') } }],
  ['conf promote', { index: 10, term: 2, kind: 'conf', data: Buffer.from('x'), change: { type: 'promote', nodeId: 4, context: new Uint8Array(0) } }],
  ['conf remove', { index: 11, term: 2, kind: 'conf', data: new Uint8Array(0), change: { type: 'remove', nodeId: 0xffff_ffff, context: Buffer.alloc(300, 7) } }],
  ['1 MiB payload', { index: 12, term: 2, kind: 'normal', data: Buffer.alloc(1 << 20, 0xab) }],
];

describe('entry codec', () => {
  it.each(cases)('round-trips %s', (_name, original) => {
    const bytes = encodeEntry(original);
    expect(bytes.length).toBe(encodedEntrySize(original));
    expect(sameEntry(decodeEntry(bytes), original)).toBe(true);
    expect(sameEntry(decodeEntry(bytes, { view: true }), original)).toBe(true);
  });

  it('lays out fields as the transport does: big-endian u64 term and index, kind, u32-prefixed data, change flag', () => {
    const bytes = encodeEntry({ index: 0x0102, term: 0x0304, kind: 'noop', data: Buffer.from('ab') });
    expect(bytes.toString('hex')).toBe('0000000000000304' + '0000000000000102' + '01' + '00000002' + '6162' + '00');
  });

  it('decodes consecutive entries from one buffer with decodeEntryAt', () => {
    const list = cases.slice(0, 4).map(([, e]) => e);
    const buffer = Buffer.alloc(list.reduce((sum, e) => sum + encodedEntrySize(e), 0));
    let at = 0;
    for (const e of list) at = encodeEntryInto(e, buffer, at);
    expect(at).toBe(buffer.length);
    at = 0;
    for (const e of list) {
      const decoded = decodeEntryAt(buffer, at);
      expect(sameEntry(decoded.entry, e)).toBe(true);
      at = decoded.end;
    }
  });

  it('copies data by default, so a decoded entry does not change when the buffer is reused', () => {
    const bytes = encodeEntry({ index: 1, term: 1, kind: 'normal', data: Buffer.from('abc') });
    const copied = decodeEntry(bytes);
    const viewed = decodeEntry(bytes, { view: true });
    bytes.fill(0x7a, ENTRY_MIN_BYTES - 1, ENTRY_MIN_BYTES + 2);
    expect(Buffer.from(copied.data).toString()).toBe('abc');
    expect(Buffer.from(viewed.data).toString()).not.toBe('abc');
  });

  const good = encodeEntry(cases[3]![1]);
  const malformed: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['one byte short', good.subarray(0, good.length - 1)],
    ['trailing byte', Buffer.concat([good, Buffer.from([0])])],
    ['unknown kind', Buffer.from(good).fill(9, 16, 17)],
    ['change flag 2', (() => { const b = encodeEntry(cases[0]![1]); b[b.length - 1] = 2; return b; })()],
    ['unknown change type', (() => { const b = Buffer.from(good); b[ENTRY_MIN_BYTES] = 3; return b; })()],
    ['data length past the end', (() => { const b = Buffer.from(good); b.writeUInt32BE(1000, 17); return b; })()],
    ['index above 2^53', (() => { const b = Buffer.from(good); b.writeUInt32BE(0x0020_0000, 8); return b; })()],
  ];
  it.each(malformed)('refuses %s', (_name, bytes) => {
    expect(() => decodeEntry(bytes)).toThrow(EntryDecodeError);
  });

  it('refuses to encode values that do not fit', () => {
    expect(() => encodeEntry({ index: -1, term: 1, kind: 'normal', data: new Uint8Array(0) })).toThrow(/index/);
    expect(() => encodeEntry({ index: 1, term: 1.5, kind: 'normal', data: new Uint8Array(0) })).toThrow(/term/);
    expect(() => encodeEntry({ index: 1, term: 1, kind: 'conf', data: new Uint8Array(0), change: { type: 'remove', nodeId: 2 ** 32, context: new Uint8Array(0) } })).toThrow(/nodeId/);
  });
});
