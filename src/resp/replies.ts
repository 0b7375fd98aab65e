// Constructors and shared constants for Reply values. Constant replies are frozen singletons, so
// the hot path allocates nothing for +OK, :0, :1 or a null, and the encoder recognises them and
// writes precomputed bytes (encoder.ts ENCODED).

import type { Reply } from './reply.js';

export const OK: Reply = Object.freeze({ kind: 'simple', value: 'OK' });
export const PONG: Reply = Object.freeze({ kind: 'simple', value: 'PONG' });
export const QUEUED: Reply = Object.freeze({ kind: 'simple', value: 'QUEUED' });
export const ZERO: Reply = Object.freeze({ kind: 'integer', value: 0 });
export const ONE: Reply = Object.freeze({ kind: 'integer', value: 1 });
export const NULL: Reply = Object.freeze({ kind: 'null' });
export const NULL_ARRAY: Reply = Object.freeze({ kind: 'nullArray' });
export const EMPTY_ARRAY: Reply = Object.freeze({ kind: 'array', value: Object.freeze([]) });

export const SYNTAX_ERROR: Reply = Object.freeze({ kind: 'error', value: 'ERR syntax error' });
export const NOT_AN_INTEGER: Reply = Object.freeze({ kind: 'error', value: 'ERR value is not an integer or out of range' });

export function simple(value: string): Reply {
  return { kind: 'simple', value };
}

/**
 * An error reply. `message` is the whole line after the dash; like Redis's addReplyError, a
 * message that does not start with an error code gets "ERR " in front ("NOAUTH ...", "WRONGTYPE
 * ..." and "EXECABORT ..." are passed with their code).
 */
export function error(message: string): Reply {
  return { kind: 'error', value: message };
}

export function integer(value: number | bigint): Reply {
  if (value === 0) return ZERO;
  if (value === 1) return ONE;
  return { kind: 'integer', value };
}

export function bulk(value: Buffer): Reply {
  return { kind: 'bulk', value };
}

/** A bulk string of text, written as latin1 (one byte per char): for ASCII text and byte strings. */
export function bulkText(value: string): Reply {
  return { kind: 'bulk', value: Buffer.from(value, 'latin1') };
}

export function array(value: readonly Reply[]): Reply {
  return value.length === 0 ? EMPTY_ARRAY : { kind: 'array', value };
}

export function verbatimText(value: string, format = 'txt'): Reply {
  return { kind: 'verbatim', format, value: Buffer.from(value, 'latin1') };
}
