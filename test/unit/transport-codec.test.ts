// Proves the peer wire format is lossless and hostile-input safe, with no sockets involved: every
// message kind and frame type survives encode/decode unchanged (edge values included), one
// golden frame pins the byte layout documented in docs/transport.md, each kind of corruption is
// reported with its own error code, a valid stream decodes identically however it is cut into
// chunks (at every byte boundary), and seeded fuzzing (random bytes, bit flips, random payloads
// behind a valid header and CRC) only ever yields frames or CodecErrors, never another exception.
// A fuzz failure prints its seed so it can be replayed.

import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  CodecError,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  encodeSnapshotChunkParts,
  FRAME_OVERHEAD_BYTES,
  FrameDecoder,
  NONCE_BYTES,
  PROOF_BYTES,
  PROTOCOL_VERSION,
  type CodecErrorCode,
  type Frame,
  type FrameType,
} from '../../src/transport/codec.js';
import type { Entry, Message, MessageType } from '../../src/raft/types.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_U32 = 0xffff_ffff;

/** The message of one kind (`VoteResponse` serves two kinds, so `Extract` alone will not do). */
type MessageOf<K extends MessageType> = Message & { readonly type: K };

/** One or more samples of every message kind; the mapped type makes a missing kind a compile error. */
const SAMPLES: { readonly [K in MessageType]: readonly MessageOf<K>[] } = {
  preVote: [{ type: 'preVote', group: 0, from: 1, to: 2, term: 7, lastLogIndex: 41, lastLogTerm: 6 }],
  vote: [
    { type: 'vote', group: 3, from: 2, to: 1, term: MAX_SAFE, lastLogIndex: MAX_SAFE, lastLogTerm: MAX_SAFE, transfer: true },
    { type: 'vote', group: 0, from: MAX_U32, to: 1, term: 0, lastLogIndex: 0, lastLogTerm: 0, transfer: false },
  ],
  preVoteResp: [{ type: 'preVoteResp', group: 0, from: 2, to: 1, term: 8, reject: true }],
  voteResp: [{ type: 'voteResp', group: MAX_U32, from: 3, to: 1, term: 8, reject: false }],
  append: [
    { type: 'append', group: 0, from: 1, to: 2, term: 5, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 },
    {
      type: 'append',
      group: 1,
      from: 1,
      to: 3,
      term: 2 ** 40,
      prevIndex: 2 ** 33 + 5,
      prevTerm: 4,
      commit: 2 ** 33 + 4,
      entries: [
        { term: 5, index: 2 ** 33 + 6, kind: 'noop', data: Buffer.alloc(0) },
        { term: 5, index: 2 ** 33 + 7, kind: 'normal', data: Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n') },
        {
          term: 5,
          index: 2 ** 33 + 8,
          kind: 'conf',
          data: Buffer.alloc(0),
          change: { type: 'addLearner', nodeId: 4, context: Buffer.from('{"host":"127.0.0.4","port":7004}') },
        },
        { term: 5, index: 2 ** 33 + 9, kind: 'conf', data: Buffer.alloc(0), change: { type: 'promote', nodeId: 4, context: Buffer.alloc(0) } },
        { term: 6, index: 2 ** 33 + 10, kind: 'conf', data: Buffer.from([0]), change: { type: 'remove', nodeId: MAX_U32, context: Buffer.alloc(0) } },
        { term: 6, index: 2 ** 33 + 11, kind: 'normal', data: Buffer.alloc(5_000, 0xab) },
      ],
    },
  ],
  appendResp: [
    { type: 'appendResp', group: 0, from: 2, to: 1, term: 5, reject: false, index: 99, hintIndex: 0, hintTerm: 0 },
    { type: 'appendResp', group: 0, from: 2, to: 1, term: 5, reject: true, index: MAX_SAFE, hintIndex: 17, hintTerm: 3 },
  ],
  heartbeat: [{ type: 'heartbeat', group: 0, from: 1, to: 2, term: 9, commit: 120, readRound: 0 }],
  heartbeatResp: [{ type: 'heartbeatResp', group: 0, from: 2, to: 1, term: 9, readRound: 31 }],
  snapshot: [
    {
      type: 'snapshot',
      group: 0,
      from: 1,
      to: 4,
      term: 9,
      snapshot: { meta: { index: 500, term: 8, confState: { voters: [1, 2, 3], learners: [4], removed: [5, 6] } }, data: Buffer.from('state') },
    },
    {
      type: 'snapshot',
      group: 0,
      from: 1,
      to: 4,
      term: 9,
      snapshot: { meta: { index: 0, term: 0, confState: { voters: [], learners: [], removed: [] } }, data: Buffer.alloc(0) },
    },
  ],
  timeoutNow: [{ type: 'timeoutNow', group: 0, from: 1, to: 2, term: 9 }],
};
const ALL_MESSAGES: readonly Message[] = Object.values(SAMPLES).flat();

const SNAPSHOT_SAMPLE = SAMPLES.snapshot[0] as MessageOf<'snapshot'>;
/** One or more samples of every frame type. */
const FRAME_SAMPLES: { readonly [K in FrameType]: readonly Extract<Frame, { type: K }>[] } = {
  hello: [
    { type: 'hello', clusterId: 'prod-eu', from: 1, to: 2, lane: 'raft', nonce: Buffer.alloc(NONCE_BYTES, 7), listenHost: '127.0.0.2', listenPort: 17002 },
    { type: 'hello', clusterId: 'ünïcödé', from: MAX_U32, to: 1, lane: 'snapshot', nonce: Buffer.alloc(NONCE_BYTES, 1), listenHost: 'node-7.example', listenPort: 65535 },
    { type: 'hello', clusterId: 'prod-eu', from: 3, to: 1, lane: 'raft', nonce: Buffer.alloc(NONCE_BYTES, 9), listenHost: '127.0.0.3', listenPort: 17003, logLost: true },
  ],
  challenge: [{ type: 'challenge', nonce: Buffer.alloc(NONCE_BYTES, 2), proof: Buffer.alloc(PROOF_BYTES, 3) }],
  auth: [{ type: 'auth', proof: Buffer.alloc(PROOF_BYTES, 4) }],
  accept: [{ type: 'accept' }],
  refuse: [
    { type: 'refuse', reason: 'cluster-mismatch', detail: 'this node is in cluster "a", not "b"' },
    { type: 'refuse', reason: 'removed', detail: '' },
  ],
  message: ALL_MESSAGES.map((message) => ({ type: 'message' as const, message })),
  snapshotBegin: [{ type: 'snapshotBegin', message: SNAPSHOT_SAMPLE }],
  snapshotChunk: [
    { type: 'snapshotChunk', data: Buffer.from('chunk of state') },
    { type: 'snapshotChunk', data: Buffer.alloc(0) },
  ],
  snapshotEnd: [{ type: 'snapshotEnd', totalBytes: 2 ** 36 }],
  snapshotResult: [
    { type: 'snapshotResult', ok: true, detail: '' },
    { type: 'snapshotResult', ok: false, detail: 'disk full' },
  ],
};
const ALL_FRAMES: readonly Frame[] = Object.values(FRAME_SAMPLES).flat();

/** mulberry32: a small seeded PRNG so fuzz failures replay. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(random: () => number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buf[i] = Math.floor(random() * 256);
  return buf;
}

/** Feeds `chunks` to a fresh decoder and returns every frame, or the CodecError it stopped at. */
function decodeStream(chunks: readonly Buffer[], maxFrameBytes = 1 << 20): { frames: Frame[]; error: CodecError | undefined } {
  const decoder = new FrameDecoder({ maxFrameBytes });
  const frames: Frame[] = [];
  try {
    for (const chunk of chunks) {
      decoder.push(chunk);
      for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) frames.push(frame);
    }
  } catch (err) {
    if (err instanceof CodecError) return { frames, error: err };
    throw err;
  }
  return { frames, error: undefined };
}

/** Re-seals a frame whose bytes a test edited, so only the edit (not the CRC) is wrong. */
function reseal(frame: Buffer): Buffer {
  frame.writeUInt32BE(frame.length - 4, 0);
  frame.writeUInt32BE(crc32(frame.subarray(4, frame.length - 4)), frame.length - 4);
  return frame;
}

function expectCodecError(fn: () => unknown, code: CodecErrorCode): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CodecError);
  expect((caught as CodecError).code).toBe(code);
}

describe('message and frame round trips', () => {
  it.each(ALL_MESSAGES.map((m, i) => [`${i}:${m.type}`, m] as const))('message %s', (_name, message) => {
    const decoded = decodeFrame(encodeMessage(message));
    expect(decoded).toEqual({ type: 'message', message });
  });

  it.each(ALL_FRAMES.map((f, i) => [`${i}:${f.type}`, f] as const))('frame %s', (_name, frame) => {
    expect(decodeFrame(encodeFrame(frame))).toEqual(frame);
  });

  describe('the same entries sent to a second follower', () => {
    const entry = (index: number, text: string): Entry => ({ term: 3, index, kind: 'normal', data: Buffer.from(text) });
    const run = (from: number, text: string, count = 6): Entry[] => Array.from({ length: count }, (_, k) => entry(from + k, `${text}-${from + k}`));
    const append = (to: number, entries: readonly Entry[]): MessageOf<'append'> => (
      { type: 'append', group: 0, from: 1, to, term: 3, prevIndex: entries[0]!.index - 1, prevTerm: 3, commit: 2, entries });
    const roundTrip = (message: Message): void => {
      expect(decodeFrame(encodeMessage(message))).toEqual({ type: 'message', message });
    };

    it('encode to the same bytes, whatever became of the first frame', () => {
      const entries = run(10, 'a');
      const first = encodeMessage(append(2, entries));
      const again = encodeMessage(append(2, entries));
      expect(again.equals(first)).toBe(true);
      // The caller owns a frame: changing it must not change the next one.
      first.fill(0xee);
      roundTrip(append(3, entries));
      roundTrip(append(3, [...entries]));
    });

    it('are told apart from other entries of the same count, first or last entry', () => {
      const entries = run(10, 'a');
      encodeMessage(append(2, entries));
      roundTrip(append(3, run(10, 'b')));
      encodeMessage(append(2, entries));
      roundTrip(append(3, [...entries.slice(0, -1), entry(15, 'other last')]));
      encodeMessage(append(2, entries));
      roundTrip(append(3, [entry(10, 'other first'), ...entries.slice(1)]));
      encodeMessage(append(2, entries));
      roundTrip(append(3, entries.slice(0, -1)));
      roundTrip(append(3, [...entries, entry(16, 'one more')]));
    });
  });

  it('decodes entries into a copy: the frame they came in can be reused at once', () => {
    const message = SAMPLES.append[1] as MessageOf<'append'>;
    const frame = encodeMessage(message);
    const decoded = decodeFrame(frame);
    frame.fill(0xee);
    expect(decoded).toEqual({ type: 'message', message });
    if (decoded.type !== 'message' || decoded.message.type !== 'append') throw new Error('not an append');
    for (const entry of decoded.message.entries) expect(entry.data.buffer).not.toBe(frame.buffer);
  });

  it('pins the byte layout of a heartbeat frame (the example in docs/transport.md)', () => {
    const frame = encodeMessage({ type: 'heartbeat', group: 0, from: 1, to: 2, term: 3, commit: 10, readRound: 0 });
    const expected =
      '0000002b' + '01' + '10' + // length 43, version 1, frame type message
      '07' + '00000000' + '00000001' + '00000002' + '0000000000000003' + // heartbeat, group, from, to, term
      '000000000000000a' + '0000000000000000' + // commit 10, readRound 0
      '7a2e4b58'; // crc32 of version..payload
    expect(frame.toString('hex')).toBe(expected);
    expect(crc32(frame.subarray(4, frame.length - 4)).toString(16)).toBe('7a2e4b58');
  });

  it('encodes a snapshot chunk in parts, byte-identical to the whole frame', () => {
    for (const data of [Buffer.alloc(0), Buffer.from('abc'), Buffer.alloc(100_000, 9)]) {
      expect(Buffer.concat(encodeSnapshotChunkParts(data))).toEqual(encodeFrame({ type: 'snapshotChunk', data }));
    }
  });

  it('refuses to encode values the wire cannot carry (an assertion, not a CodecError)', () => {
    const heartbeat = SAMPLES.heartbeat[0] as MessageOf<'heartbeat'>;
    const bad: Message[] = [
      { ...heartbeat, term: -1 },
      { ...heartbeat, term: 1.5 },
      { ...heartbeat, commit: MAX_SAFE + 1 },
      { ...heartbeat, to: MAX_U32 + 1 },
      { ...heartbeat, group: -1 },
    ];
    for (const message of bad) {
      expect(() => encodeMessage(message)).toThrow(/cannot encode/);
      expect(() => encodeMessage(message)).not.toThrow(CodecError);
    }
    expect(() => encodeFrame({ type: 'hello', clusterId: 'x'.repeat(256), from: 1, to: 2, lane: 'raft', nonce: Buffer.alloc(NONCE_BYTES), listenHost: 'h', listenPort: 1 })).toThrow(
      /cluster id/,
    );
  });

  it('adds the hello\'s flags byte only when logLost is set, and ignores flag bits it does not know', () => {
    const hello = FRAME_SAMPLES.hello[0]!;
    const plain = encodeFrame(hello);
    expect(encodeFrame({ ...hello, logLost: false })).toEqual(plain);
    const flagged = encodeFrame({ ...hello, logLost: true });
    expect(flagged.length).toBe(plain.length + 1);
    expect(decodeFrame(plain)).not.toHaveProperty('logLost');
    expect(decodeFrame(flagged)).toMatchObject({ logLost: true });
    // A later version's flag bits, with bit 0 clear: decoded, and the log is not lost.
    const payloadEnd = flagged.length - 4;
    const future = Buffer.from(flagged);
    future[payloadEnd - 1] = 0xfe;
    future.writeUInt32BE(crc32(future.subarray(4, payloadEnd)), payloadEnd);
    expect(decodeFrame(future)).toMatchObject({ type: 'hello', logLost: false });
  });

  it('cuts an overlong refusal detail instead of failing', () => {
    const decoded = decodeFrame(encodeFrame({ type: 'refuse', reason: 'protocol', detail: 'x'.repeat(5000) }));
    expect(decoded).toEqual({ type: 'refuse', reason: 'protocol', detail: 'x'.repeat(512) });
  });
});

describe('corruption is reported with a specific code', () => {
  const heartbeat = () => encodeMessage(SAMPLES.heartbeat[0] as Message);

  it('a flipped payload bit fails the checksum', () => {
    const frame = heartbeat();
    frame[10] = (frame[10] as number) ^ 0x01;
    expectCodecError(() => decodeFrame(frame), 'checksum');
  });

  it('a flipped CRC bit fails the checksum', () => {
    const frame = heartbeat();
    frame[frame.length - 1] = (frame[frame.length - 1] as number) ^ 0x80;
    expectCodecError(() => decodeFrame(frame), 'checksum');
  });

  it('another protocol version is named as such', () => {
    const frame = heartbeat();
    frame[4] = PROTOCOL_VERSION + 1;
    expectCodecError(() => decodeFrame(reseal(frame)), 'version');
  });

  it('an unknown frame type', () => {
    const frame = heartbeat();
    frame[5] = 0xee;
    expectCodecError(() => decodeFrame(reseal(frame)), 'frame-type');
  });

  const malformed: readonly (readonly [string, (frame: Buffer) => Buffer])[] = [
    ['an unknown message type', (f) => ((f[6] = 0x7f), f)],
    ['trailing bytes', (f) => Buffer.concat([f.subarray(0, f.length - 4), Buffer.from([0]), f.subarray(f.length - 4)])],
    ['a truncated payload', (f) => Buffer.concat([f.subarray(0, f.length - 8), f.subarray(f.length - 4)])],
    ['a term above 2^53', (f) => (f.writeUInt32BE(0x0020_0000, 19), f)],
  ];
  it.each(malformed)('%s is malformed', (_name, edit) => {
    expectCodecError(() => decodeFrame(reseal(edit(heartbeat()))), 'malformed');
  });

  it('a boolean other than 0 or 1 is malformed', () => {
    const frame = encodeMessage(SAMPLES.preVoteResp[0] as Message);
    frame[frame.length - 5] = 2;
    expectCodecError(() => decodeFrame(reseal(frame)), 'malformed');
  });

  it('trailing bytes after an append\'s entries are malformed, and name the frame', () => {
    const frame = encodeMessage(SAMPLES.append[1] as Message);
    const padded = Buffer.concat([frame.subarray(0, frame.length - 4), Buffer.from([0, 0, 0]), frame.subarray(frame.length - 4)]);
    expect(() => decodeFrame(reseal(padded))).toThrow('3 trailing bytes after a message frame');
  });

  it('an entry count the frame cannot hold is refused before allocating', () => {
    const frame = encodeMessage(SAMPLES.append[0] as Message);
    frame.writeUInt32BE(0xffff_ffff, frame.length - 8);
    expectCodecError(() => decodeFrame(reseal(frame)), 'malformed');
  });

  it('a snapshotBegin frame must carry a snapshot message', () => {
    const frame = encodeMessage(SAMPLES.heartbeat[0] as Message);
    frame[5] = 32;
    expectCodecError(() => decodeFrame(reseal(frame)), 'malformed');
  });
});

describe('FrameDecoder', () => {
  const stream = Buffer.concat(ALL_FRAMES.map(encodeFrame));

  it('decodes a stream of every frame in one chunk', () => {
    expect(decodeStream([stream])).toEqual({ frames: ALL_FRAMES, error: undefined });
  });

  it('decodes the stream split in two at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { frames, error } = decodeStream([stream.subarray(0, cut), stream.subarray(cut)]);
      if (error !== undefined || frames.length !== ALL_FRAMES.length) {
        throw new Error(`cut at ${cut}: ${frames.length} frames, error ${error?.message}`);
      }
    }
    expect(decodeStream([stream.subarray(0, 5), stream.subarray(5)]).frames).toEqual(ALL_FRAMES);
  });

  it('decodes the stream one byte at a time', () => {
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    expect(decodeStream(bytes)).toEqual({ frames: ALL_FRAMES, error: undefined });
  });

  it('decodes the stream, plus a 3 MiB chunk frame, under 200 seeded random chunkings', () => {
    const withLarge = Buffer.concat([stream, encodeFrame({ type: 'snapshotChunk', data: Buffer.alloc(3 << 20, 5) })]);
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed);
      const chunks: Buffer[] = [];
      for (let at = 0; at < withLarge.length; ) {
        const size = 1 + Math.floor(random() * (random() < 0.5 ? 16 : 100_000));
        chunks.push(withLarge.subarray(at, at + size));
        at += size;
      }
      const { frames, error } = decodeStream(chunks, 4 << 20);
      expect(error, `seed=${seed}`).toBeUndefined();
      expect(frames.length, `seed=${seed}`).toBe(ALL_FRAMES.length + 1);
    }
  });

  it('refuses an oversize frame as soon as its length field arrives, and stays failed', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1024 - 3, 0); // one byte over the limit, counting the length field
    decoder.push(header);
    expectCodecError(() => decoder.next(), 'oversize');
    decoder.push(encodeMessage(SAMPLES.heartbeat[0] as Message));
    expectCodecError(() => decoder.next(), 'oversize');
  });

  it('accepts a frame of exactly maxFrameBytes', () => {
    const frame = encodeFrame({ type: 'snapshotChunk', data: Buffer.alloc(1024 - FRAME_OVERHEAD_BYTES, 1) });
    expect(frame.length).toBe(1024);
    expect(decodeStream([frame], 1024).error).toBeUndefined();
  });

  it('refuses a length field below the smallest frame', () => {
    expect(decodeStream([Buffer.from([0, 0, 0, 5, 1, 4, 0, 0, 0])]).error?.code).toBe('malformed');
  });

  it('waits, without error, for the rest of a frame', () => {
    const frame = encodeMessage(SAMPLES.heartbeat[0] as Message);
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    decoder.push(frame.subarray(0, frame.length - 1));
    expect(decoder.next()).toBeUndefined();
    expect(decoder.buffered).toBe(frame.length - 1);
    decoder.push(frame.subarray(frame.length - 1));
    expect(decoder.next()).toEqual({ type: 'message', message: SAMPLES.heartbeat[0] });
    expect(decoder.buffered).toBe(0);
  });
});

describe('fuzzing', () => {
  /** Runs `body` over many seeds, naming the seed of the first failure. */
  function eachSeed(count: number, body: (random: () => number) => void): void {
    for (let seed = 1; seed <= count; seed++) {
      try {
        body(prng(seed));
      } catch (err) {
        throw new Error(`seed=${seed}: ${(err as Error).stack}`);
      }
    }
  }

  it('random bytes yield only CodecErrors', () => {
    eachSeed(3000, (random) => {
      const bytes = randomBytes(random, Math.floor(random() * 300));
      // Half the time, make the length field plausible so decoding gets past it.
      if (bytes.length >= 4 && random() < 0.5) bytes.writeUInt32BE(bytes.length - 4, 0);
      decodeStream([bytes], 4096);
    });
  });

  it('random payloads behind a valid header and CRC yield frames or CodecErrors', () => {
    const codes = [1, 2, 3, 4, 5, 16, 32, 33, 34, 35];
    let decodedCount = 0;
    eachSeed(20_000, (random) => {
      const payload = randomBytes(random, Math.floor(random() * 120));
      if (payload.length > 0 && random() < 0.8) payload[0] = 1 + Math.floor(random() * 10); // a valid message type
      const header = Buffer.from([0, 0, 0, 0, PROTOCOL_VERSION, codes[Math.floor(random() * codes.length)] as number]);
      const { frames } = decodeStream([reseal(Buffer.concat([header, payload, Buffer.alloc(4)]))]);
      decodedCount += frames.length;
    });
    // The fuzzer must reach the success path too, or it proves little about the payload parser.
    expect(decodedCount).toBeGreaterThan(100);
  });

  it('bit flips in a valid stream are caught by the checksum or yield valid frames', () => {
    const originals = ALL_FRAMES;
    const stream = Buffer.concat(originals.map(encodeFrame));
    eachSeed(1000, (random) => {
      const copy = Buffer.from(stream);
      const at = Math.floor(random() * copy.length);
      copy[at] = (copy[at] as number) ^ (1 << Math.floor(random() * 8));
      const { frames } = decodeStream([copy], 1 << 20);
      // The frame holding the flip never decodes: either a check fails, or the flip grew a length
      // field and the decoder is still waiting for bytes. Frames before it decode unchanged.
      expect(frames.length).toBeLessThan(originals.length);
      expect(frames).toEqual(originals.slice(0, frames.length));
    });
  });
});
