// The peer wire format: pure encode and decode of frames, with no sockets and no clocks, so every
// rule here can be tested byte by byte (docs/transport.md has the layout).
//
// A frame is [u32 length][u8 version][u8 type][payload][u32 crc32], big-endian, where `length`
// counts every byte after itself and the CRC covers version, type and payload. Integers that can
// outgrow 32 bits (terms, indexes, byte counts) travel as u64 and must decode to safe integers;
// node and group ids are u32. Byte fields carry a u32 length prefix, strings a u16 one.
//
// Anything a peer can send us that is wrong throws a `CodecError` (an operating error: the caller
// closes that connection). Anything we are asked to encode that is wrong throws a plain Error (an
// assertion: our own bug).

import { crc32 } from 'node:zlib';
import { getU32, putU32 } from '../storage/binary.js';
import {
  assertNever,
  type ConfChange,
  type ConfChangeType,
  type ConfState,
  type Entry,
  type EntryKind,
  type Message,
  type MessageType,
  type NodeId,
  type SnapshotMessage,
} from '../raft/types.js';

export const PROTOCOL_VERSION = 1;

/** Bytes before the payload: length, version, type. */
export const FRAME_HEADER_BYTES = 6;
/** Bytes after the payload: the CRC. */
export const FRAME_TRAILER_BYTES = 4;
export const FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES + FRAME_TRAILER_BYTES;
/** The smallest value the length field can hold: version, type and CRC around an empty payload. */
const MIN_LENGTH_FIELD = FRAME_OVERHEAD_BYTES - 4;

export const NONCE_BYTES = 16;
/** An HMAC-SHA256 digest. */
export const PROOF_BYTES = 32;
export const MAX_CLUSTER_ID_BYTES = 255;
/** Refusal and result details are for logs; they are cut to this many bytes on the wire. */
export const MAX_DETAIL_BYTES = 512;

/** The raft lane carries messages; a snapshot lane carries one snapshot stream, then closes. */
export type Lane = 'raft' | 'snapshot';

export type RefusalReason =
  | 'version'
  | 'cluster-mismatch'
  | 'wrong-target'
  | 'removed'
  | 'bad-secret'
  | 'protocol'
  | 'shutting-down';

export interface HelloFrame {
  readonly type: 'hello';
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly lane: Lane;
  readonly nonce: Buffer;
  /**
   * Where the dialer listens for peers, so the listener can answer a node it has no address for
   * yet (a node that just joined hears from the leader before it learns anyone's address). With
   * a secret, the proofs cover the whole hello, so the address is authenticated too.
   */
  readonly listenHost: string;
  readonly listenPort: number;
  /**
   * The dialer's log may have lost entries it had acknowledged (it was started with --repair-wal):
   * the listener, if it leads, must forget what it believes the dialer holds. Encoded as one
   * optional byte after the listen port (bit 0), present only when set, so a hello without it is
   * byte for byte the original one; later bits are ignored.
   */
  readonly logLost?: boolean;
}

export type Frame =
  | HelloFrame
  /** The listener's nonce and its proof that it knows the secret (see handshake.ts). */
  | { readonly type: 'challenge'; readonly nonce: Buffer; readonly proof: Buffer }
  | { readonly type: 'auth'; readonly proof: Buffer }
  | { readonly type: 'accept' }
  | { readonly type: 'refuse'; readonly reason: RefusalReason; readonly detail: string }
  | { readonly type: 'message'; readonly message: Message }
  /** Opens a snapshot lane's stream; the message's `snapshot.data` is empty, the chunks follow. */
  | { readonly type: 'snapshotBegin'; readonly message: SnapshotMessage }
  | { readonly type: 'snapshotChunk'; readonly data: Buffer }
  | { readonly type: 'snapshotEnd'; readonly totalBytes: number }
  | { readonly type: 'snapshotResult'; readonly ok: boolean; readonly detail: string };

export type FrameType = Frame['type'];

export type CodecErrorCode = 'oversize' | 'version' | 'checksum' | 'frame-type' | 'malformed';

/** Bytes from a peer that do not decode. The connection they came on should be closed. */
export class CodecError extends Error {
  constructor(
    readonly code: CodecErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CodecError';
  }
}

/** Bit 0 of the hello's optional flags byte: see HelloFrame.logLost. */
const HELLO_LOG_LOST = 1;

// Wire codes. They are part of the protocol: never renumber, only add.
const FRAME_CODES: { readonly [K in FrameType]: number } = {
  hello: 1,
  challenge: 2,
  auth: 3,
  accept: 4,
  refuse: 5,
  message: 16,
  snapshotBegin: 32,
  snapshotChunk: 33,
  snapshotEnd: 34,
  snapshotResult: 35,
};
const MESSAGE_CODES: { readonly [K in MessageType]: number } = {
  preVote: 1,
  vote: 2,
  preVoteResp: 3,
  voteResp: 4,
  append: 5,
  appendResp: 6,
  heartbeat: 7,
  heartbeatResp: 8,
  snapshot: 9,
  timeoutNow: 10,
};
const ENTRY_KIND_CODES: { readonly [K in EntryKind]: number } = { normal: 0, noop: 1, conf: 2 };
const CONF_CHANGE_CODES: { readonly [K in ConfChangeType]: number } = { addLearner: 0, promote: 1, remove: 2 };
const LANE_CODES: { readonly [K in Lane]: number } = { raft: 0, snapshot: 1 };
const REFUSAL_CODES: { readonly [K in RefusalReason]: number } = {
  version: 0,
  'cluster-mismatch': 1,
  'wrong-target': 2,
  removed: 3,
  'bad-secret': 4,
  protocol: 5,
  'shutting-down': 6,
};

function invert<K extends string>(codes: { readonly [P in K]: number }): ReadonlyMap<number, K> {
  return new Map(Object.entries(codes).map(([name, code]) => [code as number, name as K]));
}
const FRAME_TYPES = invert(FRAME_CODES);
const MESSAGE_TYPES = invert(MESSAGE_CODES);
const ENTRY_KINDS = invert(ENTRY_KIND_CODES);
const CONF_CHANGE_TYPES = invert(CONF_CHANGE_CODES);
const LANES = invert(LANE_CODES);
const REFUSAL_REASONS = invert(REFUSAL_CODES);

const TWO_POW_32 = 0x1_0000_0000;
/** The high word of a u64 that still decodes to a safe integer (2^53 - 1). */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

// ---------------------------------------------------------------------------------------------
// Encoding. Sizes are computed first so each frame is one exact allocation.

const MESSAGE_HEADER_BYTES = 1 + 4 + 4 + 4 + 8; // type, group, from, to, term

function entrySize(entry: Entry): number {
  let size = 8 + 8 + 1 + 4 + entry.data.length + 1; // term, index, kind, data, change flag
  if (entry.change !== undefined) size += 1 + 4 + 4 + entry.change.context.length;
  return size;
}

function confStateSize(conf: ConfState): number {
  return 12 + 4 * (conf.voters.length + conf.learners.length + conf.removed.length);
}

function messageSize(msg: Message): number {
  switch (msg.type) {
    case 'preVote':
      return MESSAGE_HEADER_BYTES + 16;
    case 'vote':
      return MESSAGE_HEADER_BYTES + 17;
    case 'preVoteResp':
    case 'voteResp':
      return MESSAGE_HEADER_BYTES + 1;
    case 'append': {
      let size = MESSAGE_HEADER_BYTES + 8 + 8 + 8 + 4;
      const encoded = encodedBefore(msg.entries);
      if (encoded !== null) return size + encoded.length;
      for (const entry of msg.entries) size += entrySize(entry);
      return size;
    }
    case 'appendResp':
      return MESSAGE_HEADER_BYTES + 1 + 24;
    case 'heartbeat':
      return MESSAGE_HEADER_BYTES + 16;
    case 'heartbeatResp':
      return MESSAGE_HEADER_BYTES + 8;
    case 'snapshot':
      return MESSAGE_HEADER_BYTES + 16 + confStateSize(msg.snapshot.meta.confState) + 4 + msg.snapshot.data.length;
    case 'timeoutNow':
      return MESSAGE_HEADER_BYTES;
    default:
      return assertNever(msg, 'message type');
  }
}

function detailBytes(detail: string): Buffer {
  const bytes = Buffer.from(detail, 'utf8');
  return bytes.length <= MAX_DETAIL_BYTES ? bytes : bytes.subarray(0, MAX_DETAIL_BYTES);
}

class Writer {
  offset = FRAME_HEADER_BYTES;
  constructor(readonly buf: Buffer) {}

  u8(value: number): void {
    this.buf.writeUInt8(value, this.offset);
    this.offset += 1;
  }
  u16(value: number): void {
    this.buf.writeUInt16BE(value, this.offset);
    this.offset += 2;
  }
  u32(value: number, field: string): void {
    if (!Number.isInteger(value) || value < 0 || value >= TWO_POW_32) {
      throw new Error(`cannot encode ${field}=${value}: not a u32`);
    }
    putU32(this.buf, this.offset, value);
    this.offset += 4;
  }
  u64(value: number, field: string): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new Error(`cannot encode ${field}=${value}: not a non-negative safe integer`);
    }
    putU32(this.buf, this.offset, Math.floor(value / TWO_POW_32));
    putU32(this.buf, this.offset + 4, value >>> 0);
    this.offset += 8;
  }
  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }
  bytes(value: Uint8Array, field: string): void {
    this.u32(value.length, `${field}.length`);
    this.buf.set(value, this.offset);
    this.offset += value.length;
  }
  /** A u16-length-prefixed byte string whose bytes the caller has already encoded. */
  shortBytes(value: Uint8Array): void {
    this.u16(value.length);
    this.buf.set(value, this.offset);
    this.offset += value.length;
  }
  raw(value: Uint8Array): void {
    this.buf.set(value, this.offset);
    this.offset += value.length;
  }
  ids(values: readonly NodeId[], field: string): void {
    this.u32(values.length, `${field}.length`);
    for (const id of values) this.u32(id, field);
  }
}

function writeEntry(w: Writer, entry: Entry): void {
  w.u64(entry.term, 'entry.term');
  w.u64(entry.index, 'entry.index');
  w.u8(ENTRY_KIND_CODES[entry.kind]);
  w.bytes(entry.data, 'entry.data');
  if (entry.change === undefined) {
    w.u8(0);
  } else {
    w.u8(1);
    w.u8(CONF_CHANGE_CODES[entry.change.type]);
    w.u32(entry.change.nodeId, 'change.nodeId');
    w.bytes(entry.change.context, 'change.context');
  }
}

/**
 * The entries of the last append encoded, and their bytes. A leader sends the same entries to
 * every follower that keeps up, so the second message copies them instead of encoding them again.
 * Entries are immutable, so the same objects encode to the same bytes: a run of them is known by
 * its first and last entry and its length (a log can only lose a suffix, so a different run with
 * those ends would need the last entry object to have left the log and come back).
 */
let lastEncoded: { readonly first: Entry; readonly last: Entry; readonly count: number; readonly bytes: Buffer } | null = null;
/** Shorter runs are encoded each time: the bookkeeping would cost about what it saves. */
const REUSE_ENTRIES_MIN = 4;

function encodedBefore(entries: readonly Entry[]): Buffer | null {
  const last = lastEncoded;
  if (last === null || entries.length !== last.count) return null;
  return entries[0] === last.first && entries[entries.length - 1] === last.last ? last.bytes : null;
}

function writeEntries(w: Writer, entries: readonly Entry[]): void {
  const encoded = encodedBefore(entries);
  if (encoded !== null) {
    w.raw(encoded);
    return;
  }
  const start = w.offset;
  for (const entry of entries) writeEntry(w, entry);
  if (entries.length >= REUSE_ENTRIES_MIN) {
    // A copy: the frame itself belongs to the caller, who may do anything with it.
    lastEncoded = { first: entries[0]!, last: entries[entries.length - 1]!, count: entries.length, bytes: Buffer.from(w.buf.subarray(start, w.offset)) };
  }
}

function writeMessage(w: Writer, msg: Message): void {
  w.u8(MESSAGE_CODES[msg.type]);
  w.u32(msg.group, 'group');
  w.u32(msg.from, 'from');
  w.u32(msg.to, 'to');
  w.u64(msg.term, 'term');
  switch (msg.type) {
    case 'preVote':
      w.u64(msg.lastLogIndex, 'lastLogIndex');
      w.u64(msg.lastLogTerm, 'lastLogTerm');
      return;
    case 'vote':
      w.u64(msg.lastLogIndex, 'lastLogIndex');
      w.u64(msg.lastLogTerm, 'lastLogTerm');
      w.bool(msg.transfer);
      return;
    case 'preVoteResp':
    case 'voteResp':
      w.bool(msg.reject);
      return;
    case 'append':
      w.u64(msg.prevIndex, 'prevIndex');
      w.u64(msg.prevTerm, 'prevTerm');
      w.u64(msg.commit, 'commit');
      w.u32(msg.entries.length, 'entries.length');
      writeEntries(w, msg.entries);
      return;
    case 'appendResp':
      w.bool(msg.reject);
      w.u64(msg.index, 'index');
      w.u64(msg.hintIndex, 'hintIndex');
      w.u64(msg.hintTerm, 'hintTerm');
      return;
    case 'heartbeat':
      w.u64(msg.commit, 'commit');
      w.u64(msg.readRound, 'readRound');
      return;
    case 'heartbeatResp':
      w.u64(msg.readRound, 'readRound');
      return;
    case 'snapshot': {
      const { meta, data } = msg.snapshot;
      w.u64(meta.index, 'snapshot.index');
      w.u64(meta.term, 'snapshot.term');
      w.ids(meta.confState.voters, 'voters');
      w.ids(meta.confState.learners, 'learners');
      w.ids(meta.confState.removed, 'removed');
      w.bytes(data, 'snapshot.data');
      return;
    }
    case 'timeoutNow':
      return;
    default:
      assertNever(msg, 'message type');
  }
}

/** Encodes one frame, header and CRC included, into a fresh Buffer. */
export function encodeFrame(frame: Frame): Buffer {
  let payloadSize: number;
  let clusterId: Buffer | undefined;
  let detail: Buffer | undefined;
  switch (frame.type) {
    case 'hello':
      clusterId = Buffer.from(frame.clusterId, 'utf8');
      if (clusterId.length > MAX_CLUSTER_ID_BYTES) {
        throw new Error(`cluster id is ${clusterId.length} bytes; at most ${MAX_CLUSTER_ID_BYTES} fit`);
      }
      if (frame.nonce.length !== NONCE_BYTES) throw new Error(`nonce is ${frame.nonce.length} bytes, not ${NONCE_BYTES}`);
      payloadSize = 2 + clusterId.length + 4 + 4 + 1 + NONCE_BYTES + 2 + Buffer.byteLength(frame.listenHost, 'utf8') + 2 + (frame.logLost === true ? 1 : 0);
      break;
    case 'challenge':
      if (frame.nonce.length !== NONCE_BYTES) throw new Error(`nonce is ${frame.nonce.length} bytes, not ${NONCE_BYTES}`);
      if (frame.proof.length !== PROOF_BYTES) throw new Error(`proof is ${frame.proof.length} bytes, not ${PROOF_BYTES}`);
      payloadSize = NONCE_BYTES + PROOF_BYTES;
      break;
    case 'auth':
      if (frame.proof.length !== PROOF_BYTES) throw new Error(`proof is ${frame.proof.length} bytes, not ${PROOF_BYTES}`);
      payloadSize = PROOF_BYTES;
      break;
    case 'accept':
      payloadSize = 0;
      break;
    case 'refuse':
      detail = detailBytes(frame.detail);
      payloadSize = 1 + 2 + detail.length;
      break;
    case 'message':
      payloadSize = messageSize(frame.message);
      break;
    case 'snapshotBegin':
      payloadSize = messageSize(frame.message);
      break;
    case 'snapshotChunk':
      payloadSize = frame.data.length;
      break;
    case 'snapshotEnd':
      payloadSize = 8;
      break;
    case 'snapshotResult':
      detail = detailBytes(frame.detail);
      payloadSize = 1 + 2 + detail.length;
      break;
    default:
      return assertNever(frame, 'frame type');
  }

  const buf = Buffer.allocUnsafe(FRAME_OVERHEAD_BYTES + payloadSize);
  buf.writeUInt32BE(buf.length - 4, 0);
  buf.writeUInt8(PROTOCOL_VERSION, 4);
  buf.writeUInt8(FRAME_CODES[frame.type], 5);
  const w = new Writer(buf);
  switch (frame.type) {
    case 'hello':
      w.shortBytes(clusterId as Buffer);
      w.u32(frame.from, 'from');
      w.u32(frame.to, 'to');
      w.u8(LANE_CODES[frame.lane]);
      w.raw(frame.nonce);
      w.shortBytes(Buffer.from(frame.listenHost, 'utf8'));
      w.u16(frame.listenPort);
      if (frame.logLost === true) w.u8(HELLO_LOG_LOST);
      break;
    case 'challenge':
      w.raw(frame.nonce);
      w.raw(frame.proof);
      break;
    case 'auth':
      w.raw(frame.proof);
      break;
    case 'accept':
      break;
    case 'refuse':
      w.u8(REFUSAL_CODES[frame.reason]);
      w.shortBytes(detail as Buffer);
      break;
    case 'message':
      writeMessage(w, frame.message);
      break;
    case 'snapshotBegin':
      writeMessage(w, frame.message);
      break;
    case 'snapshotChunk':
      w.raw(frame.data);
      break;
    case 'snapshotEnd':
      w.u64(frame.totalBytes, 'totalBytes');
      break;
    case 'snapshotResult':
      w.bool(frame.ok);
      w.shortBytes(detail as Buffer);
      break;
    default:
      assertNever(frame, 'frame type');
  }
  if (w.offset !== buf.length - FRAME_TRAILER_BYTES) {
    throw new Error(`frame ${frame.type}: wrote ${w.offset} bytes, sized ${buf.length - FRAME_TRAILER_BYTES}`);
  }
  buf.writeUInt32BE(crc32(buf.subarray(4, w.offset)), w.offset);
  return buf;
}

/** Encodes a message frame; the transport's hot path. */
export function encodeMessage(message: Message): Buffer {
  return encodeFrame({ type: 'message', message });
}

/**
 * A snapshot chunk frame as [header, data, trailer], byte-identical to
 * `encodeFrame({ type: 'snapshotChunk', data })` but without copying `data`: the sender writes
 * the three parts in one corked write.
 */
export function encodeSnapshotChunkParts(data: Uint8Array): [Buffer, Uint8Array, Buffer] {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(FRAME_OVERHEAD_BYTES - 4 + data.length, 0);
  header.writeUInt8(PROTOCOL_VERSION, 4);
  header.writeUInt8(FRAME_CODES.snapshotChunk, 5);
  const trailer = Buffer.allocUnsafe(FRAME_TRAILER_BYTES);
  trailer.writeUInt32BE(crc32(data, crc32(header.subarray(4))), 0);
  return [header, data, trailer];
}

// ---------------------------------------------------------------------------------------------
// Decoding. Every read is bounds-checked; every field that has a closed set of values is checked.

class Reader {
  constructor(
    private readonly buf: Buffer,
    public offset: number,
    private readonly end: number,
  ) {}

  private need(count: number, field: string): void {
    if (this.end - this.offset < count) {
      throw new CodecError('malformed', `truncated ${field}: need ${count} bytes, have ${this.end - this.offset}`);
    }
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf.readUInt8(this.offset++);
  }
  u16(field: string): number {
    this.need(2, field);
    const value = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  u32(field: string): number {
    this.need(4, field);
    const value = getU32(this.buf, this.offset);
    this.offset += 4;
    return value;
  }
  u64(field: string): number {
    this.need(8, field);
    const high = getU32(this.buf, this.offset);
    const low = getU32(this.buf, this.offset + 4);
    if (high > MAX_SAFE_HIGH_WORD) throw new CodecError('malformed', `${field} exceeds 2^53`);
    this.offset += 8;
    return high * TWO_POW_32 + low;
  }
  bool(field: string): boolean {
    const value = this.u8(field);
    if (value > 1) throw new CodecError('malformed', `${field} is ${value}, not a boolean`);
    return value === 1;
  }
  /** A copy, so decoded values never pin the (possibly large) buffer they arrived in. */
  raw(count: number, field: string): Buffer {
    this.need(count, field);
    // allocUnsafe and copy: Buffer.from(subarray) makes a view only to copy from it.
    const value = Buffer.allocUnsafe(count);
    this.buf.copy(value, 0, this.offset, this.offset + count);
    this.offset += count;
    return value;
  }
  /** A view into the frame, for payloads the caller consumes before the next frame. */
  view(count: number, field: string): Buffer {
    this.need(count, field);
    const value = this.buf.subarray(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }
  bytes(field: string): Buffer {
    return this.raw(this.u32(`${field}.length`), field);
  }
  /** A u32-length-prefixed view (see view()). */
  viewBytes(field: string): Buffer {
    return this.view(this.u32(`${field}.length`), field);
  }
  shortString(field: string): string {
    const length = this.u16(`${field}.length`);
    this.need(length, field);
    const value = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
  ids(field: string): NodeId[] {
    const count = this.u32(`${field}.length`);
    // Each id is 4 bytes: refuse a count the remaining bytes cannot hold before allocating for it.
    this.need(count * 4, field);
    const ids: NodeId[] = [];
    for (let i = 0; i < count; i++) ids.push(this.u32(field));
    return ids;
  }
  code<T>(table: ReadonlyMap<number, T>, field: string): T {
    const code = this.u8(field);
    const value = table.get(code);
    if (value === undefined) throw new CodecError('malformed', `unknown ${field} code ${code}`);
    return value;
  }
  remaining(): number {
    return this.end - this.offset;
  }
}

/** An entry from `r`, whose bytes are a private copy: data and context are views into it. */
function readEntry(r: Reader): Entry {
  const term = r.u64('entry.term');
  const index = r.u64('entry.index');
  const kind = r.code(ENTRY_KINDS, 'entry.kind');
  const data = r.viewBytes('entry.data');
  if (!r.bool('entry.hasChange')) return { term, index, kind, data };
  const change: ConfChange = {
    type: r.code(CONF_CHANGE_TYPES, 'change.type'),
    nodeId: r.u32('change.nodeId'),
    context: r.viewBytes('change.context'),
  };
  return { term, index, kind, data, change };
}

function readMessage(r: Reader): Message {
  const type = r.code(MESSAGE_TYPES, 'message type');
  const group = r.u32('group');
  const from = r.u32('from');
  const to = r.u32('to');
  const term = r.u64('term');
  const base = { group, from, to, term };
  switch (type) {
    case 'preVote':
      return { type, ...base, lastLogIndex: r.u64('lastLogIndex'), lastLogTerm: r.u64('lastLogTerm') };
    case 'vote':
      return {
        type,
        ...base,
        lastLogIndex: r.u64('lastLogIndex'),
        lastLogTerm: r.u64('lastLogTerm'),
        transfer: r.bool('transfer'),
      };
    case 'preVoteResp':
    case 'voteResp':
      return { type, ...base, reject: r.bool('reject') };
    case 'append': {
      const prevIndex = r.u64('prevIndex');
      const prevTerm = r.u64('prevTerm');
      const commit = r.u64('commit');
      const count = r.u32('entries.length');
      // The smallest entry is 22 bytes: refuse a count the frame cannot hold before looping on it.
      if (count * 22 > r.remaining()) throw new CodecError('malformed', `${count} entries cannot fit in ${r.remaining()} bytes`);
      const entries: Entry[] = [];
      if (count > 0) {
        // One copy of the rest of the message for all its entries, each entry's bytes a view into
        // it: one allocation per message instead of two per entry, and a decoded entry still pins
        // only its own message's bytes, never the socket read they arrived in.
        const start = r.offset;
        const copy = Buffer.from(r.view(r.remaining(), 'entries'));
        const inCopy = new Reader(copy, 0, copy.length);
        for (let i = 0; i < count; i++) entries.push(readEntry(inCopy));
        // Whatever follows the entries is the frame's to judge (trailing bytes).
        r.offset = start + inCopy.offset;
      }
      return { type, ...base, prevIndex, prevTerm, entries, commit };
    }
    case 'appendResp':
      return {
        type,
        ...base,
        reject: r.bool('reject'),
        index: r.u64('index'),
        hintIndex: r.u64('hintIndex'),
        hintTerm: r.u64('hintTerm'),
      };
    case 'heartbeat':
      return { type, ...base, commit: r.u64('commit'), readRound: r.u64('readRound') };
    case 'heartbeatResp':
      return { type, ...base, readRound: r.u64('readRound') };
    case 'snapshot': {
      const index = r.u64('snapshot.index');
      const snapshotTerm = r.u64('snapshot.term');
      const confState: ConfState = { voters: r.ids('voters'), learners: r.ids('learners'), removed: r.ids('removed') };
      const data = r.bytes('snapshot.data');
      return { type, ...base, snapshot: { meta: { index, term: snapshotTerm, confState }, data } };
    }
    case 'timeoutNow':
      return { type, ...base };
    default:
      return assertNever(type, 'message type');
  }
}

function readPayload(type: FrameType, r: Reader): Frame {
  switch (type) {
    case 'hello': {
      const clusterId = r.shortString('clusterId');
      const from = r.u32('from');
      const to = r.u32('to');
      const lane = r.code(LANES, 'lane');
      const nonce = r.raw(NONCE_BYTES, 'nonce');
      const listenHost = r.shortString('listenHost');
      const listenPort = r.u16('listenPort');
      if (r.remaining() === 0) return { type, clusterId, from, to, lane, nonce, listenHost, listenPort };
      const flags = r.u8('hello flags');
      return { type, clusterId, from, to, lane, nonce, listenHost, listenPort, logLost: (flags & HELLO_LOG_LOST) !== 0 };
    }
    case 'challenge':
      return { type, nonce: r.raw(NONCE_BYTES, 'nonce'), proof: r.raw(PROOF_BYTES, 'proof') };
    case 'auth':
      return { type, proof: r.raw(PROOF_BYTES, 'proof') };
    case 'accept':
      return { type };
    case 'refuse':
      return { type, reason: r.code(REFUSAL_REASONS, 'refusal reason'), detail: r.shortString('detail') };
    case 'message':
      return { type, message: readMessage(r) };
    case 'snapshotBegin': {
      const message = readMessage(r);
      if (message.type !== 'snapshot') throw new CodecError('malformed', `snapshotBegin carries a ${message.type} message`);
      return { type, message };
    }
    case 'snapshotChunk':
      return { type, data: r.view(r.remaining(), 'data') };
    case 'snapshotEnd':
      return { type, totalBytes: r.u64('totalBytes') };
    case 'snapshotResult':
      return { type, ok: r.bool('ok'), detail: r.shortString('detail') };
    default:
      return assertNever(type, 'frame type');
  }
}

/**
 * Decodes one whole frame (length prefix included) whose length field the caller has already
 * checked against `buf.length`. Returned byte fields are copies, except a snapshot chunk's data,
 * which is a view into `buf`.
 */
export function decodeFrame(buf: Buffer): Frame {
  if (buf.length < FRAME_OVERHEAD_BYTES) throw new CodecError('malformed', `frame of ${buf.length} bytes is too short`);
  const lengthField = buf.readUInt32BE(0);
  if (lengthField !== buf.length - 4) {
    throw new CodecError('malformed', `length field says ${lengthField} bytes follow, but ${buf.length - 4} do`);
  }
  const version = buf.readUInt8(4);
  if (version !== PROTOCOL_VERSION) {
    throw new CodecError('version', `unsupported protocol version ${version} (this node speaks ${PROTOCOL_VERSION})`);
  }
  const crcOffset = buf.length - FRAME_TRAILER_BYTES;
  const expected = buf.readUInt32BE(crcOffset);
  const actual = crc32(buf.subarray(4, crcOffset));
  if (expected !== actual) {
    throw new CodecError('checksum', `frame checksum mismatch: carried ${expected.toString(16)}, computed ${actual.toString(16)}`);
  }
  const code = buf.readUInt8(5);
  const type = FRAME_TYPES.get(code);
  if (type === undefined) throw new CodecError('frame-type', `unknown frame type ${code}`);
  const r = new Reader(buf, FRAME_HEADER_BYTES, crcOffset);
  const frame = readPayload(type, r);
  if (r.remaining() !== 0) throw new CodecError('malformed', `${r.remaining()} trailing bytes after a ${type} frame`);
  return frame;
}

/**
 * Reassembles frames from a byte stream cut at arbitrary points. Feed it with `push` and drain it
 * with `next` until that returns undefined. It buffers at most one frame plus one pushed chunk, and
 * refuses a frame whose length field exceeds `maxFrameBytes` as soon as the length is read, so a
 * peer cannot make it wait for (or allocate) more. After it has thrown once it keeps throwing.
 */
export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  /** Total bytes in `chunks`. */
  private bufferedBytes = 0;
  private failure: CodecError | undefined;

  /** The largest whole frame (length prefix included) accepted; may change between frames. */
  maxFrameBytes: number;

  constructor(options: { readonly maxFrameBytes: number }) {
    this.maxFrameBytes = options.maxFrameBytes;
  }

  get buffered(): number {
    return this.bufferedBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /** The next whole frame, or undefined until more bytes arrive. Throws CodecError on bad input. */
  next(): Frame | undefined {
    if (this.failure !== undefined) throw this.failure;
    if (this.bufferedBytes < 4) return undefined;
    const frameBytes = 4 + this.peekLength();
    try {
      if (frameBytes - 4 < MIN_LENGTH_FIELD) {
        throw new CodecError('malformed', `length field ${frameBytes - 4} is below the minimum ${MIN_LENGTH_FIELD}`);
      }
      if (frameBytes > this.maxFrameBytes) {
        throw new CodecError('oversize', `frame of ${frameBytes} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      if (this.bufferedBytes < frameBytes) return undefined;
      return decodeFrame(this.take(frameBytes));
    } catch (err) {
      if (err instanceof CodecError) this.failure = err;
      throw err;
    }
  }

  private peekLength(): number {
    let first = this.chunks[0] as Buffer;
    if (first.length < 4) {
      // Rare (a chunk boundary inside the length field): merge the head chunks.
      const merged = Buffer.concat(this.chunks);
      this.chunks.length = 0;
      this.chunks.push(merged);
      first = merged;
    }
    return first.readUInt32BE(0);
  }

  /** Removes and returns the first `count` buffered bytes, copying only when they span chunks. */
  private take(count: number): Buffer {
    const first = this.chunks[0] as Buffer;
    this.bufferedBytes -= count;
    if (first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[0] as Buffer;
      const want = count - filled;
      if (chunk.length <= want) {
        chunk.copy(out, filled);
        filled += chunk.length;
        this.chunks.shift();
      } else {
        chunk.copy(out, filled, 0, want);
        this.chunks[0] = chunk.subarray(want);
        filled += want;
      }
    }
    return out;
  }
}
