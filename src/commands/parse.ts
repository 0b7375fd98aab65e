// Argument parsing with Redis's exact rules (util.c string2ll, strtoul for cursors) and the
// reply helpers every handler shares. Integers are bigint where Redis uses long long, so that the
// whole signed 64-bit range parses, overflows and prints as in Redis.

import type { Reply } from '../resp/reply.js';
import { latin1 } from '../state/keyspace.js';

export const LLONG_MAX = 9223372036854775807n;
export const LLONG_MIN = -9223372036854775808n;
export const INT_MAX = 2147483647n;
export const INT_MIN = -2147483648n;
const ULONG_MAX = 18446744073709551615n;

export const OK: Reply = { kind: 'simple', value: 'OK' };
export const NULL_BULK: Reply = { kind: 'null' };
export const NULL_ARRAY: Reply = { kind: 'nullArray' };
export const ZERO: Reply = { kind: 'integer', value: 0 };
export const ONE: Reply = { kind: 'integer', value: 1 };
export const EMPTY_BULK: Reply = { kind: 'bulk', value: Buffer.alloc(0) };

export const ERR_SYNTAX: Reply = { kind: 'error', value: 'ERR syntax error' };
export const ERR_NOT_INTEGER: Reply = { kind: 'error', value: 'ERR value is not an integer or out of range' };
export const ERR_NOT_FLOAT: Reply = { kind: 'error', value: 'ERR value is not a valid float' };
export const ERR_OVERFLOW: Reply = { kind: 'error', value: 'ERR increment or decrement would overflow' };
export const ERR_NO_SUCH_KEY: Reply = { kind: 'error', value: 'ERR no such key' };
export const ERR_SAME_OBJECT: Reply = { kind: 'error', value: 'ERR source and destination objects are the same' };
export const ERR_DB_RANGE: Reply = { kind: 'error', value: 'ERR DB index is out of range' };
export const ERR_WRONG_TYPE: Reply = {
  kind: 'error', value: 'WRONGTYPE Operation against a key holding the wrong kind of value',
};
export const ERR_STRING_TOO_LONG: Reply = {
  kind: 'error', value: 'ERR string exceeds maximum allowed size (proto-max-bulk-len)',
};

export function error(message: string): Reply {
  return { kind: 'error', value: message };
}

export function integer(value: number | bigint): Reply {
  return { kind: 'integer', value };
}

export function bulk(value: Buffer): Reply {
  return { kind: 'bulk', value };
}

export function bulkText(text: string): Reply {
  return { kind: 'bulk', value: Buffer.from(text, 'latin1') };
}

export function arityError(name: string): Reply {
  return error(`ERR wrong number of arguments for '${name}' command`);
}

export function invalidExpireError(name: string): Reply {
  return error(`ERR invalid expire time in '${name}' command`);
}

/**
 * Redis string2ll: an optional '-', then digits with no leading zero (except "0" itself), no
 * spaces, no '+', within the signed 64-bit range. Anything else is not an integer.
 */
export function parseLongLong(arg: Uint8Array): bigint | undefined {
  const length = arg.length;
  if (length === 0 || length > 20) return undefined;
  if (length === 1 && arg[0] === 0x30) return 0n;
  let i = 0;
  const negative = arg[0] === 0x2d;
  if (negative) {
    i = 1;
    if (length === 1) return undefined;
  }
  const first = arg[i]!;
  if (first < 0x31 || first > 0x39) return undefined;
  // Doubles hold 15 decimal digits exactly; accumulate the rest as bigint.
  let small = 0;
  const smallEnd = Math.min(length, i + 15);
  for (; i < smallEnd; i++) {
    const c = arg[i]!;
    if (c < 0x30 || c > 0x39) return undefined;
    small = small * 10 + (c - 0x30);
  }
  let value = BigInt(small);
  for (; i < length; i++) {
    const c = arg[i]!;
    if (c < 0x30 || c > 0x39) return undefined;
    value = value * 10n + BigInt(c - 0x30);
  }
  if (negative) {
    value = -value;
    return value < LLONG_MIN ? undefined : value;
  }
  return value > LLONG_MAX ? undefined : value;
}

/** Redis getIntFromObject: a long long within the C int range. */
export function parseInt32(arg: Uint8Array): number | undefined {
  const value = parseLongLong(arg);
  if (value === undefined || value < INT_MIN || value > INT_MAX) return undefined;
  return Number(value);
}

/**
 * Redis parseScanCursorOrReply (strtoul): optional sign, decimal digits, no leading space, no
 * trailing garbage, within 64 bits; "-N" wraps modulo 2^64 and "" is cursor 0, as in C.
 */
export function parseCursor(arg: Uint8Array): bigint | undefined {
  const length = arg.length;
  let i = 0;
  if (length > 0 && (arg[0] === 0x20 || (arg[0]! >= 0x09 && arg[0]! <= 0x0d))) return undefined;
  let negative = false;
  if (i < length && (arg[i] === 0x2b || arg[i] === 0x2d)) {
    negative = arg[i] === 0x2d;
    i++;
  }
  const digitsStart = i;
  let value = 0n;
  for (; i < length; i++) {
    const c = arg[i]!;
    if (c < 0x30 || c > 0x39) return undefined;
    value = value * 10n + BigInt(c - 0x30);
    if (value > ULONG_MAX) return undefined;
  }
  if (i === digitsStart) {
    // strtoul parsed nothing: the end pointer is the start, valid only for the empty string.
    return length === 0 ? 0n : undefined;
  }
  return negative ? (ULONG_MAX + 1n - value) % (ULONG_MAX + 1n) : value;
}

/**
 * Case-insensitive comparison of an option with a lower-case ASCII word. Like Redis's strcasecmp
 * on sds strings, the argument ends at its first NUL byte ("nx\0junk" reads as NX).
 */
export function isWord(arg: Uint8Array, lowerWord: string): boolean {
  const nul = arg.indexOf(0);
  const length = nul < 0 ? arg.length : nul;
  if (length !== lowerWord.length) return false;
  for (let i = 0; i < length; i++) {
    let c = arg[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 32;
    if (c !== lowerWord.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Absolute expiry times are stored as doubles, exact up to 2^53 ms (year 287396). Later times (a
 * client can ask for up to 2^63 - 1) are stored as that maximum: the key still never expires in
 * practice; only PEXPIRETIME shows the difference (docs/compatibility.md).
 */
export function clampExpiryMs(ms: bigint): number {
  return ms > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(ms);
}

/** A key as the keyspace stores it: its bytes as a latin1 string (on the path of every command that names a key). */
export function keyOf(arg: Buffer): string {
  return latin1(arg, 0, arg.length);
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

/** A value stored in the keyspace must own its bytes (argv may be slices of a whole log entry). */
export function ownBytes(arg: Buffer): Buffer {
  if (arg.byteOffset === 0 && arg.length === arg.buffer.byteLength) return arg;
  return Buffer.from(arg);
}
