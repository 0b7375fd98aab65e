// Raft messages as JSON, for Maelstrom's network: peers exchange `{"type":"raft","msg":...}`
// bodies. A Message is already plain data apart from its Uint8Array fields (entry payloads,
// conf-change contexts, snapshot images), which travel as base64 strings. Decoding validates
// every field, since a bad peer message must be dropped with a log line, not reach the core.
import {
  assertNever,
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryKind,
  type Message,
  type Snapshot,
} from '../raft/index.js';
import { isObject, type Json, type JsonObject } from './protocol.js';

export class RaftCodecError extends Error {
  readonly code = 'bad-raft-message';
  constructor(message: string) {
    super(message);
    this.name = 'RaftCodecError';
  }
}

export function encodeRaftMessage(m: Message): JsonObject {
  switch (m.type) {
    case 'append':
      return { ...m, entries: m.entries.map(encodeEntry) };
    case 'snapshot':
      return { ...m, snapshot: encodeSnapshot(m.snapshot) };
    case 'preVote':
    case 'vote':
    case 'preVoteResp':
    case 'voteResp':
    case 'appendResp':
    case 'heartbeat':
    case 'heartbeatResp':
    case 'timeoutNow':
      // Numbers, booleans and the type: JSON as they are.
      return { ...m };
    default:
      return assertNever(m, 'message type');
  }
}

/** The inverse of encodeRaftMessage; throws RaftCodecError on anything malformed. */
export function decodeRaftMessage(value: unknown): Message {
  const o = object(value, 'raft message');
  const base = { group: count(o, 'group'), from: count(o, 'from'), to: count(o, 'to'), term: count(o, 'term') };
  const type = o.type;
  switch (type) {
    case 'preVote':
      return { ...base, type, lastLogIndex: count(o, 'lastLogIndex'), lastLogTerm: count(o, 'lastLogTerm') };
    case 'vote':
      return { ...base, type, lastLogIndex: count(o, 'lastLogIndex'), lastLogTerm: count(o, 'lastLogTerm'), transfer: flag(o, 'transfer') };
    case 'preVoteResp':
    case 'voteResp':
      return { ...base, type, reject: flag(o, 'reject') };
    case 'append':
      return {
        ...base,
        type,
        prevIndex: count(o, 'prevIndex'),
        prevTerm: count(o, 'prevTerm'),
        entries: list(o, 'entries').map(decodeEntry),
        commit: count(o, 'commit'),
      };
    case 'appendResp':
      return {
        ...base,
        type,
        reject: flag(o, 'reject'),
        index: count(o, 'index'),
        hintIndex: count(o, 'hintIndex'),
        hintTerm: count(o, 'hintTerm'),
      };
    case 'heartbeat':
      return { ...base, type, commit: count(o, 'commit'), readRound: count(o, 'readRound') };
    case 'heartbeatResp':
      return { ...base, type, readRound: count(o, 'readRound') };
    case 'snapshot':
      return { ...base, type, snapshot: decodeSnapshot(o.snapshot) };
    case 'timeoutNow':
      return { ...base, type };
    default:
      throw new RaftCodecError(`unknown raft message type ${JSON.stringify(type)}`);
  }
}

function encodeEntry(entry: Entry): JsonObject {
  const fields = { term: entry.term, index: entry.index, kind: entry.kind, data: toBase64(entry.data) };
  if (!entry.change) return fields;
  const { type, nodeId, context } = entry.change;
  return { ...fields, change: { type, nodeId, context: toBase64(context) } };
}

function decodeEntry(value: Json): Entry {
  const o = object(value, 'entry');
  const kind = o.kind;
  if (!isEntryKind(kind)) throw new RaftCodecError(`bad entry kind ${JSON.stringify(kind)}`);
  const fields = { term: count(o, 'term'), index: count(o, 'index'), kind, data: bytes(o, 'data') };
  if (o.change === undefined) return fields;
  return { ...fields, change: decodeConfChange(o.change) };
}

function isEntryKind(value: Json | undefined): value is EntryKind {
  return value === 'normal' || value === 'noop' || value === 'conf';
}

function decodeConfChange(value: Json): ConfChange {
  const o = object(value, 'conf change');
  const type = o.type;
  if (type !== 'addLearner' && type !== 'promote' && type !== 'remove') {
    throw new RaftCodecError(`bad conf change type ${JSON.stringify(type)}`);
  }
  return { type, nodeId: count(o, 'nodeId'), context: bytes(o, 'context') };
}

function encodeSnapshot(snapshot: Snapshot): JsonObject {
  const { index, term, confState } = snapshot.meta;
  const conf = { voters: [...confState.voters], learners: [...confState.learners], removed: [...confState.removed] };
  return { meta: { index, term, confState: conf }, data: toBase64(snapshot.data) };
}

function decodeSnapshot(value: Json | undefined): Snapshot {
  const o = object(value, 'snapshot');
  const meta = object(o.meta, 'snapshot meta');
  const conf = object(meta.confState, 'conf state');
  const confState: ConfState = { voters: ids(conf, 'voters'), learners: ids(conf, 'learners'), removed: ids(conf, 'removed') };
  return { meta: { index: count(meta, 'index'), term: count(meta, 'term'), confState }, data: bytes(o, 'data') };
}

function toBase64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

function bytes(o: JsonObject, name: string): Uint8Array {
  const text = o[name];
  if (typeof text !== 'string' || text.length % 4 !== 0 || !base64Pattern.test(text)) {
    throw new RaftCodecError(`\`${name}\` must be a base64 string`);
  }
  const buffer = Buffer.from(text, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function object(value: Json | unknown, what: string): JsonObject {
  if (!isObject(value)) throw new RaftCodecError(`${what} must be an object`);
  return value;
}

/** A non-negative safe integer: ids, terms and indexes. */
function count(o: JsonObject, name: string): number {
  const value = o[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RaftCodecError(`\`${name}\` must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function flag(o: JsonObject, name: string): boolean {
  const value = o[name];
  if (typeof value !== 'boolean') throw new RaftCodecError(`\`${name}\` must be a boolean`);
  return value;
}

function list(o: JsonObject, name: string): readonly Json[] {
  const value = o[name];
  if (!Array.isArray(value)) throw new RaftCodecError(`\`${name}\` must be an array`);
  return value as readonly Json[];
}

function ids(o: JsonObject, name: string): number[] {
  return list(o, name).map((id, position) => {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
      throw new RaftCodecError(`\`${name}[${position}]\` must be a positive integer`);
    }
    return id;
  });
}
