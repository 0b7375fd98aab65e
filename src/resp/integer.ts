// Redis's strict integer syntax (util.c `string2ll`), shared by the request parser (multibulk
// and bulk lengths) and by the connection commands (SELECT, HELLO, CLIENT KILL ID, ...). It is
// stricter than Number(): no sign but '-', no leading zeros, no spaces, at most 20 characters,
// and the value must fit a signed 64-bit integer. "-0" is rejected, as in Redis.

const LLONG_MAX = 9223372036854775807n;
const LLONG_MIN = -9223372036854775808n;
/** Redis's LONG_STR_SIZE: a string this long or longer is never a valid long long. */
const LONG_STR_SIZE = 21;
/** Up to this many digits a JavaScript number holds the value exactly. */
const SAFE_DIGITS = 15;

/**
 * Parses bytes [start, end) of `bytes` as Redis's string2ll would. Returns NaN where Redis would
 * fail. Values beyond 2^53 are returned rounded (their sign and size class are exact), which is
 * enough for every caller: such values are rejected by range checks anyway.
 */
export function parseLongLong(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length <= 0 || length >= LONG_STR_SIZE) return NaN;
  if (length === 1 && bytes[start] === 0x30) return 0;
  let index = start;
  let negative = false;
  if (bytes[index] === 0x2d) {
    negative = true;
    index++;
    if (index === end) return NaN;
  }
  const first = bytes[index]!;
  if (first < 0x31 || first > 0x39) return NaN;
  if (end - index > SAFE_DIGITS) return parseLongLongSlow(bytes, index, end, negative);
  let value = first - 0x30;
  for (index++; index < end; index++) {
    const digit = bytes[index]! - 0x30;
    if (digit < 0 || digit > 9) return NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

function parseLongLongSlow(bytes: Uint8Array, start: number, end: number, negative: boolean): number {
  let value = 0n;
  for (let index = start; index < end; index++) {
    const digit = bytes[index]! - 0x30;
    if (digit < 0 || digit > 9) return NaN;
    value = value * 10n + BigInt(digit);
  }
  if (negative) value = -value;
  if (value > LLONG_MAX || value < LLONG_MIN) return NaN;
  return Number(value);
}

/** string2ll over a whole argument. */
export function parseLongLongArg(arg: Uint8Array): number {
  return parseLongLong(arg, 0, arg.length);
}

/**
 * string2ll over a whole argument, exactly, as a bigint (null where Redis would fail). For callers
 * that must tell 2^63-1 from 2^63-2.
 */
export function parseLongLongExact(arg: Uint8Array): bigint | null {
  const approximate = parseLongLong(arg, 0, arg.length);
  if (Number.isNaN(approximate)) return null;
  if (Number.isSafeInteger(approximate)) return BigInt(approximate);
  return BigInt(Buffer.from(arg.buffer, arg.byteOffset, arg.length).toString('latin1'));
}
