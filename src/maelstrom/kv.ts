// The lin-kv state machine that every Maelstrom node applies committed entries to, and the
// encoding of those entries. Applying is deterministic, so every replica computes the same reply
// for a write or a cas (a cas's outcome is decided at apply time, in log order, not when the
// request arrives). Keys and values are any JSON; two are equal when their JSON texts are.
import { ErrorCode, errorBody, isObject, type Body, type Json, type KvOp, type KvWriteOp } from './protocol.js';

/** What a Raft entry carries: the operation, and an id naming the request for log readers. */
export interface KvCommand {
  /** `<node>:<sequence>`: which node proposed it; purely for tracing and a cross-check. */
  readonly id: string;
  readonly op: KvWriteOp;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

export class KvCommandError extends Error {
  readonly code = 'bad-command';
  constructor(message: string) {
    super(message);
    this.name = 'KvCommandError';
  }
}

/** Decodes an entry's data. Entries are only written by encodeCommand, so failures are bugs. */
export function decodeCommand(data: Uint8Array): KvCommand {
  const value: unknown = JSON.parse(decoder.decode(data));
  if (!isObject(value) || typeof value.id !== 'string' || !isObject(value.op)) {
    throw new KvCommandError(`entry is not a command: ${decoder.decode(data).slice(0, 200)}`);
  }
  const op = value.op;
  if (op.f === 'write' && op.key !== undefined && op.value !== undefined) return { id: value.id, op: { f: 'write', key: op.key, value: op.value } };
  if (op.f === 'cas' && op.key !== undefined && op.from !== undefined && op.to !== undefined) {
    return { id: value.id, op: { f: 'cas', key: op.key, from: op.from, to: op.to, createIfNotExists: op.createIfNotExists === true } };
  }
  throw new KvCommandError(`entry has no write or cas: ${decoder.decode(data).slice(0, 200)}`);
}

export class LinKvStore {
  /** Values by the JSON text of their key. */
  private values = new Map<string, Json>();

  get size(): number {
    return this.values.size;
  }

  /** The reply to a read, as of everything applied so far. */
  read(key: Json): Body {
    const value = this.values.get(JSON.stringify(key));
    if (value === undefined) return errorBody(ErrorCode.keyDoesNotExist, `key ${JSON.stringify(key)} does not exist`);
    return { type: 'read_ok', value };
  }

  /** Applies a committed write or cas and returns the reply its client gets. */
  apply(op: KvWriteOp): Body {
    const slot = JSON.stringify(op.key);
    switch (op.f) {
      case 'write':
        this.values.set(slot, op.value);
        return { type: 'write_ok' };
      case 'cas': {
        const current = this.values.get(slot);
        if (current === undefined) {
          if (!op.createIfNotExists) return errorBody(ErrorCode.keyDoesNotExist, `key ${slot} does not exist`);
          this.values.set(slot, op.to);
          return { type: 'cas_ok' };
        }
        if (JSON.stringify(current) !== JSON.stringify(op.from)) {
          return errorBody(ErrorCode.preconditionFailed, `expected ${JSON.stringify(op.from)}, but had ${JSON.stringify(current)}`);
        }
        this.values.set(slot, op.to);
        return { type: 'cas_ok' };
      }
      default:
        return assertNever(op);
    }
  }

  /** The whole store, for a Raft snapshot. */
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.values]));
  }

  /** Replaces the store with a snapshot's image; throws KvCommandError when it is not one. */
  restore(data: Uint8Array): void {
    const pairs: unknown = JSON.parse(decoder.decode(data));
    if (!Array.isArray(pairs)) throw new KvCommandError('snapshot image is not an array');
    const values = new Map<string, Json>();
    for (const pair of pairs as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
        throw new KvCommandError('snapshot image holds something other than [key, value] pairs');
      }
      values.set(pair[0], pair[1] as Json);
    }
    this.values = values;
  }
}

/** Whether a request changes the store, and so must go through the log. */
export function isWriteOp(op: KvOp): op is KvWriteOp {
  return op.f !== 'read';
}

function assertNever(value: never): never {
  throw new Error(`unhandled kv op: ${JSON.stringify(value)}`);
}
