// INCRBYFLOAT computes in C `long double`, which on the x86-64 builds Redis ships is the x87
// 80-bit format: a 64-bit significand. Its reply is `%.17Lf` with trailing zeros removed. Doing the
// same arithmetic in JS doubles gives different digits (10.5 + 0.1 prints 10.59999999999999964
// instead of 10.6), so this module emulates the format exactly with bigint arithmetic: parse as
// strtold does (round to nearest, ties to even), add exactly and round once, print exactly.

const SIGNIFICAND_BITS = 64n;
/** Smallest and largest binary exponents of a normal x87 extended value (value = m * 2^e, 2^63 <= m < 2^64). */
const EXPONENT_MIN = -16382n - 63n;
const EXPONENT_MAX = 16383n - 63n;

/** A finite long double: (-1)^negative * significand * 2^exponent; significand 0 means zero. */
export interface LongDouble {
  readonly negative: boolean;
  readonly significand: bigint;
  readonly exponent: bigint;
}

export type ParsedLongDouble = LongDouble | 'inf' | '-inf';

function bitLength(value: bigint): bigint {
  return BigInt(value.toString(2).length);
}

/** Rounds numerator/denominator (positive) to a 64-bit significand, ties to even. */
function roundRational(negative: boolean, numerator: bigint, denominator: bigint): LongDouble | 'overflow' | 'underflow' {
  if (numerator === 0n) return { negative, significand: 0n, exponent: 0n };
  // Choose e so that numerator / (denominator * 2^e) lies in [2^63, 2^64).
  let exponent = bitLength(numerator) - bitLength(denominator) - SIGNIFICAND_BITS;
  const scaled = (e: bigint): [bigint, bigint] =>
    e >= 0n ? [numerator, denominator << e] : [numerator << -e, denominator];
  let [n, d] = scaled(exponent);
  while (n / d >= 1n << SIGNIFICAND_BITS) {
    exponent++;
    [n, d] = scaled(exponent);
  }
  while (n / d < 1n << (SIGNIFICAND_BITS - 1n)) {
    exponent--;
    [n, d] = scaled(exponent);
  }
  let significand = n / d;
  const remainder2 = (n % d) * 2n;
  if (remainder2 > d || (remainder2 === d && (significand & 1n) === 1n)) significand++;
  if (significand === 1n << SIGNIFICAND_BITS) {
    significand >>= 1n;
    exponent++;
  }
  if (exponent > EXPONENT_MAX) return 'overflow';
  if (exponent < EXPONENT_MIN) return 'underflow';
  return { negative, significand, exponent };
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * Redis string2ld: strtold over the whole argument, rejecting a leading space, trailing bytes,
 * NaN, overflow and underflow to zero. Returns undefined when Redis replies "not a valid float".
 */
export function parseLongDouble(arg: Uint8Array): ParsedLongDouble | undefined {
  const length = arg.length;
  if (length === 0 || length >= 5 * 1024) return undefined;
  if (isSpace(arg[0]!)) return undefined;
  const text = Buffer.from(arg).toString('latin1');
  let i = 0;
  let negative = false;
  if (text[i] === '+' || text[i] === '-') {
    negative = text[i] === '-';
    i++;
  }
  const rest = text.slice(i).toLowerCase();
  if (rest === 'inf' || rest === 'infinity') return negative ? '-inf' : 'inf';
  if (rest.startsWith('nan')) return undefined;
  if (rest.startsWith('0x')) return parseHex(negative, rest.slice(2));
  const match = /^(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/.exec(rest);
  if (match === null) return undefined;
  const intDigits = match[1] ?? '';
  const fracDigits = match[2] ?? '';
  if (intDigits.length === 0 && fracDigits.length === 0) return undefined;
  const digits = BigInt((intDigits + fracDigits) || '0');
  let exponent10 = -BigInt(fracDigits.length);
  if (match[3] !== undefined) {
    const e = BigInt(match[3]);
    // Far outside the range either way; keep the arithmetic bounded.
    if (e > 100000n) return digits === 0n ? { negative, significand: 0n, exponent: 0n } : undefined;
    if (e < -100000n) return undefined;
    exponent10 += e;
  }
  if (digits === 0n) return { negative, significand: 0n, exponent: 0n };
  const rounded = exponent10 >= 0n
    ? roundRational(negative, digits * 10n ** exponent10, 1n)
    : roundRational(negative, digits, 10n ** -exponent10);
  if (rounded === 'overflow' || rounded === 'underflow') return undefined;
  return rounded;
}

function parseHex(negative: boolean, text: string): ParsedLongDouble | undefined {
  const match = /^([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/.exec(text);
  if (match === null) return undefined;
  const intDigits = match[1] ?? '';
  const fracDigits = match[2] ?? '';
  if (intDigits.length === 0 && fracDigits.length === 0) return undefined;
  const mantissa = BigInt(`0x${intDigits + fracDigits || '0'}`);
  if (mantissa === 0n) return { negative, significand: 0n, exponent: 0n };
  const exponent2 = -4n * BigInt(fracDigits.length) + BigInt(match[3] ?? '0');
  if (exponent2 > 100000n) return undefined;
  if (exponent2 < -100000n) return undefined;
  const rounded = exponent2 >= 0n
    ? roundRational(negative, mantissa << exponent2, 1n)
    : roundRational(negative, mantissa, 1n << -exponent2);
  if (rounded === 'overflow' || rounded === 'underflow') return undefined;
  return rounded;
}

/** a + b, rounded once to a long double; 'overflow' where C would produce infinity. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | 'overflow' {
  const exponent = a.exponent < b.exponent ? a.exponent : b.exponent;
  const signed = (x: LongDouble): bigint => (x.negative ? -x.significand : x.significand) << (x.exponent - exponent);
  const sum = signed(a) + signed(b);
  if (sum === 0n) {
    // IEEE: x + (-x) is +0 in round-to-nearest; -0 + -0 is -0.
    return { negative: a.negative && b.negative, significand: 0n, exponent: 0n };
  }
  const negative = sum < 0n;
  const magnitude = negative ? -sum : sum;
  const rounded = exponent >= 0n
    ? roundRational(negative, magnitude << exponent, 1n)
    : roundRational(negative, magnitude, 1n << -exponent);
  if (rounded === 'overflow') return 'overflow';
  // A sum of two normal values cannot underflow below the smaller exponent.
  if (rounded === 'underflow') throw new Error('assertion: long double sum underflowed');
  return rounded;
}

/**
 * Redis ld2string(LD_STR_HUMAN): `%.17Lf` (exact value rounded to 17 decimals, ties to even as
 * glibc does in round-to-nearest), trailing zeros and a trailing '.' removed, "-0" printed "0".
 */
export function formatLongDoubleHuman(value: LongDouble): string {
  const scale = 10n ** 17n;
  let numerator = value.significand * scale;
  let denominator = 1n;
  if (value.exponent >= 0n) numerator <<= value.exponent;
  else denominator <<= -value.exponent;
  let scaled = numerator / denominator;
  const remainder2 = (numerator % denominator) * 2n;
  if (remainder2 > denominator || (remainder2 === denominator && (scaled & 1n) === 1n)) scaled++;
  const digits = scaled.toString().padStart(18, '0');
  const intPart = digits.slice(0, digits.length - 17);
  const fracPart = digits.slice(digits.length - 17).replace(/0+$/, '');
  let text = fracPart.length > 0 ? `${intPart}.${fracPart}` : intPart;
  if (value.negative) text = `-${text}`;
  if (text === '-0') text = '0';
  return text;
}
