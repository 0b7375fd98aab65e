// The bytes the benchmark sends and the cluster rules it routes by. Requests written by the
// precomputed-template encoder must equal a plain RESP encoding of the same command for keys of
// every digit count, and fit the size bound that write buffers are allocated from. Hash slots
// must equal what a real redis-server 7.0 answered to CLUSTER KEYSLOT for the same keys (hash
// tags included), whether computed from the key or continued from the prefix's CRC. CLUSTER
// SLOTS and -MOVED parsing are checked on the shapes Redis 7 sends.
import { describe, expect, it } from 'vitest';
import {
  ClusterTopologyError,
  KeySlotter,
  SlotMap,
  crc16,
  formatAddress,
  keyHashSlot,
  parseClusterSlots,
  parseMoved,
  splitAddress,
} from '../../src/bench/cluster.js';
import { RequestEncoder } from '../../src/bench/request-encoder.js';
import { decimalDigitCount, writeDecimal } from '../../src/resp/decimal.js';
import { RespError, decodeResp, encodeCommand } from '../../src/bench/resp-value.js';

describe('RequestEncoder', () => {
  const keyIndices = [0, 7, 9, 10, 99, 100, 4_711, 9_999_999, 10_000_000, 123_456_789_012, Number.MAX_SAFE_INTEGER];

  it.each([
    ['memtier-', 32],
    ['', 1],
    ['prefix{tag}:', 1_000],
    ['ключ-', 3],
  ])('writes SET and GET as plain RESP for prefix %j and %i-byte values', (prefix, dataSize) => {
    const encoder = new RequestEncoder(prefix, dataSize);
    for (const keyIndex of keyIndices) {
      const key = `${prefix}${keyIndex}`;
      const buffer = Buffer.alloc(encoder.setBytesMax + encoder.getBytesMax + 10, 0xee);
      const afterSet = encoder.writeSet(buffer, 3, keyIndex);
      expect(buffer.subarray(3, afterSet)).toEqual(encodeCommand(['SET', key, 'x'.repeat(dataSize)]));
      expect(afterSet - 3).toBeLessThanOrEqual(encoder.setBytesMax);
      const afterGet = encoder.writeGet(buffer, afterSet, keyIndex);
      expect(buffer.subarray(afterSet, afterGet)).toEqual(encodeCommand(['GET', key]));
      expect(afterGet - afterSet).toBeLessThanOrEqual(encoder.getBytesMax);
      expect(buffer[afterGet]).toBe(0xee);
      expect(encoder.keyText(keyIndex)).toBe(key);
    }
  });

  it('writes decimals of every length', () => {
    for (const value of keyIndices) {
      const buffer = Buffer.alloc(20);
      const end = writeDecimal(buffer, 1, value);
      expect(buffer.toString('latin1', 1, end)).toBe(String(value));
      expect(decimalDigitCount(value)).toBe(String(value).length);
    }
  });
});

describe('hash slots', () => {
  // Answers of redis-server 7.0.15 to CLUSTER KEYSLOT <key>.
  const redisSlots: readonly (readonly [string, number])[] = [
    ['foo', 12182],
    ['bar', 5061],
    ['hello', 866],
    ['123456789', 12739],
    ['{user1000}.following', 3443],
    ['foo{}{bar}', 8363],
    ['foo{{bar}}zap', 4015],
    ['foo{bar}{zap}', 5061],
    ['a{b}c', 3300],
    ['memtier-0', 7563],
    ['memtier-4711', 15029],
    ['memtier-9999999', 4149],
  ];

  it.each(redisSlots)('keyHashSlot(%j) is %i, as Redis computes it', (key, slot) => {
    expect(keyHashSlot(key)).toBe(slot);
  });

  it('is CRC16/XMODEM: the check value of "123456789" is 0x31C3', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
  });

  it('KeySlotter, continuing the prefix CRC over the digits, agrees with the whole-key rule', () => {
    for (const prefix of ['memtier-', '', 'a{b}', 'x{', '{}', 'user:{42}:']) {
      const slotter = new KeySlotter(prefix);
      for (const keyIndex of [0, 1, 9, 10, 4_711, 9_999_999, 123_456_789_012]) {
        expect(slotter.slotOf(keyIndex), `${prefix}${keyIndex}`).toBe(keyHashSlot(`${prefix}${keyIndex}`));
      }
    }
    expect(new KeySlotter('memtier-').slotOf(4_711)).toBe(15029);
  });
});

describe('CLUSTER SLOTS and -MOVED', () => {
  function decode(text: string) {
    const decoded = decodeResp(Buffer.from(text, 'latin1'));
    if (decoded === undefined) throw new Error('incomplete');
    return decoded.value;
  }

  it('reads the masters of a Redis 7 CLUSTER SLOTS reply, replicas ignored', () => {
    const reply = decode(
      '*2\r\n' +
        '*4\r\n:0\r\n:8191\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\n' + 'a'.repeat(40) + '\r\n' +
        '*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$1\r\nb\r\n' +
        '*3\r\n:8192\r\n:16383\r\n*2\r\n$0\r\n\r\n:7001\r\n',
    );
    expect(parseClusterSlots(reply, 'seed.host')).toEqual([
      { first: 0, last: 8191, host: '127.0.0.1', port: 7000 },
      // An empty host means "where you reached me": the seed's host.
      { first: 8192, last: 16383, host: 'seed.host', port: 7001 },
    ]);
  });

  it.each([
    ['an error reply', new RespError('ERR This instance has cluster support disabled'), /cluster support disabled/],
    ['no slots at all', [], /no master/],
    ['a range beyond 16383', [[0, 16384, ['h', 1]]], /not within/],
    ['a master without a port', [[0, 1, ['h']]], /master is not/],
  ])('refuses %s', (_name, reply, message) => {
    expect(() => parseClusterSlots(reply as never, 'h')).toThrow(ClusterTopologyError);
    expect(() => parseClusterSlots(reply as never, 'h')).toThrow(message);
  });

  it.each([
    ['MOVED 3999 127.0.0.1:6381', { slot: 3999, host: '127.0.0.1', port: 6381 }],
    ['MOVED 0 :7000', { slot: 0, host: 'current', port: 7000 }],
    ['MOVED 16383 [::1]:7002', { slot: 16383, host: '::1', port: 7002 }],
    ['MOVED 16383 ::1:7002', { slot: 16383, host: '::1', port: 7002 }],
    ['MOVED 16384 h:1', undefined],
    ['ASK 3999 127.0.0.1:6381', undefined],
    ['ERR wrong type', undefined],
  ])('parseMoved(%j)', (text, expected) => {
    expect(parseMoved(text, 'current')).toEqual(expected);
  });

  it('SlotMap numbers nodes once and routes slots to them', () => {
    const map = new SlotMap();
    map.replace([
      { first: 0, last: 99, host: 'a', port: 1 },
      { first: 100, last: 16383, host: 'b', port: 2 },
    ]);
    expect([map.owner(0), map.owner(99), map.owner(100), map.owner(16383)]).toEqual([0, 0, 1, 1]);
    expect(map.nodeOf('b', 2)).toBe(1);
    map.assign(5, map.nodeOf('c', 3));
    expect(map.owner(5)).toBe(2);
    expect(map.address(2)).toBe('c:3');
    map.replace([{ first: 0, last: 0, host: 'a', port: 1 }]);
    expect(map.owner(1)).toBe(SlotMap.NO_NODE);
  });

  it('formats and splits addresses, IPv6 included', () => {
    expect(formatAddress('::1', 7000)).toBe('[::1]:7000');
    expect(splitAddress('[::1]:7000')).toEqual({ host: '::1', port: 7000 });
    expect(splitAddress('127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379 });
  });

  it('decodeResp waits for the whole value', () => {
    const whole = Buffer.from('*2\r\n$3\r\nabc\r\n:5\r\n');
    for (let cut = 0; cut < whole.length; cut++) expect(decodeResp(whole.subarray(0, cut))).toBeUndefined();
    expect(decodeResp(whole)).toEqual({ value: [Buffer.from('abc'), 5], sizeBytes: whole.length });
  });
});
