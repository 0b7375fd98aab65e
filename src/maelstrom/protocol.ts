// The Maelstrom wire protocol (https://github.com/jepsen-io/maelstrom/blob/main/doc/protocol.md):
// one JSON object per line, `{"src", "dest", "body"}`, where the body has a `type`, and
// requests carry a `msg_id` that the reply names in `in_reply_to`. This module only parses and
// validates; it knows nothing of Raft. Malformed input is an operating error (a typed
// MaelstromProtocolError with a stable code), never an assertion.

/** Any JSON value. Maelstrom's lin-kv workload uses integers for keys and values, but any goes. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
export type JsonObject = { readonly [key: string]: Json };

/** A message body: `type` plus whatever fields that type has. */
export type Body = JsonObject & { readonly type: string };

export interface Envelope {
  readonly src: string;
  readonly dest: string;
  readonly body: Body;
}

/**
 * Maelstrom's error codes. Definite errors promise the operation did not happen (the checker
 * drops it); indefinite ones (timeout, crash) mean it may have, so the checker lets it take
 * effect at any point after its call. Answering a write that may have happened with a definite
 * code would let the checker reject a correct history, or accept a wrong one.
 */
export const ErrorCode = {
  timeout: 0,
  nodeNotFound: 1,
  notSupported: 10,
  temporarilyUnavailable: 11,
  malformedRequest: 12,
  crash: 13,
  abort: 14,
  keyDoesNotExist: 20,
  keyAlreadyExists: 21,
  preconditionFailed: 22,
  txnConflict: 30,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const indefiniteCodes: ReadonlySet<number> = new Set([ErrorCode.timeout, ErrorCode.crash]);

/** Whether an error code promises that the operation did not take effect. */
export function isDefiniteError(code: number): boolean {
  return !indefiniteCodes.has(code);
}

export type ProtocolErrorCode = 'bad-json' | 'bad-envelope' | 'bad-body';

export class MaelstromProtocolError extends Error {
  constructor(readonly code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'MaelstromProtocolError';
  }
}

/** Parses one line of standard input into an envelope; throws MaelstromProtocolError. */
export function parseEnvelope(line: string): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new MaelstromProtocolError('bad-json', `not JSON: ${(error as Error).message}`);
  }
  if (!isObject(value)) throw new MaelstromProtocolError('bad-envelope', 'a message must be a JSON object');
  const { src, dest, body } = value;
  if (typeof src !== 'string') throw new MaelstromProtocolError('bad-envelope', '`src` must be a string');
  if (typeof dest !== 'string') throw new MaelstromProtocolError('bad-envelope', '`dest` must be a string');
  if (!isObject(body)) throw new MaelstromProtocolError('bad-envelope', '`body` must be an object');
  if (typeof body.type !== 'string') throw new MaelstromProtocolError('bad-body', '`body.type` must be a string');
  return { src, dest, body: body as Body };
}

export function isObject(value: unknown): value is { readonly [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A body's `msg_id`, when it is a non-negative integer. */
export function messageId(body: Body): number | undefined {
  const id = body.msg_id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

/** The lin-kv operations (Maelstrom's `lin-kv` workload and service). */
export type KvOp =
  | { readonly f: 'read'; readonly key: Json }
  | { readonly f: 'write'; readonly key: Json; readonly value: Json }
  | { readonly f: 'cas'; readonly key: Json; readonly from: Json; readonly to: Json; readonly createIfNotExists: boolean };

export type KvWriteOp = Exclude<KvOp, { readonly f: 'read' }>;

export function isKvRequestType(type: string): type is KvOp['f'] {
  return type === 'read' || type === 'write' || type === 'cas';
}

/** Reads a lin-kv request body; throws MaelstromProtocolError('bad-body') naming a missing field. */
export function parseKvOp(body: Body): KvOp {
  const field = (name: string): Json => {
    const value = body[name];
    if (value === undefined) throw new MaelstromProtocolError('bad-body', `\`${body.type}\` needs a \`${name}\` field`);
    return value;
  };
  switch (body.type) {
    case 'read':
      return { f: 'read', key: field('key') };
    case 'write':
      return { f: 'write', key: field('key'), value: field('value') };
    case 'cas':
      return { f: 'cas', key: field('key'), from: field('from'), to: field('to'), createIfNotExists: body.create_if_not_exists === true };
    default:
      throw new MaelstromProtocolError('bad-body', `not a lin-kv request: ${JSON.stringify(body.type)}`);
  }
}

/** The request body that carries `op` (what a proxy sends on to the leader). */
export function kvOpBody(op: KvOp): Body {
  switch (op.f) {
    case 'read':
      return { type: 'read', key: op.key };
    case 'write':
      return { type: 'write', key: op.key, value: op.value };
    case 'cas':
      return op.createIfNotExists
        ? { type: 'cas', key: op.key, from: op.from, to: op.to, create_if_not_exists: true }
        : { type: 'cas', key: op.key, from: op.from, to: op.to };
    default:
      return assertNever(op, 'kv op');
  }
}

export function errorBody(code: ErrorCode, text: string): Body {
  return { type: 'error', code, text };
}

function assertNever(value: never, what: string): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}
