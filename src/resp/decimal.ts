// Decimal numbers written straight into bytes: RESP's length headers and integers, the proxy's
// forwarded commands and the benchmark's keys. A template string or toString() would allocate a
// string per number on paths that run once per command.

/** Number of decimal digits of a non-negative safe integer. */
export function decimalDigitCount(value: number): number {
  let digits = 1;
  let rest = value;
  while (rest >= 10) {
    rest = Math.floor(rest / 10);
    digits++;
  }
  return digits;
}

/** Writes `value` (a non-negative safe integer) in decimal at `offset`; returns the end offset. */
export function writeDecimal(target: Uint8Array, offset: number, value: number): number {
  const end = offset + decimalDigitCount(value);
  let rest = value;
  let position = end;
  do {
    const quotient = Math.floor(rest / 10);
    target[--position] = 0x30 + (rest - quotient * 10);
    rest = quotient;
  } while (rest > 0);
  return end;
}
