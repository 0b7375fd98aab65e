// Redis's glob-style matcher (util.c `stringmatchlen`, as of Redis 7.0.15) over raw bytes, used by
// KEYS, SCAN MATCH and COMMAND LIST FILTERBY PATTERN. It is a faithful port rather than a
// translation to RegExp because Redis's corner cases are part of the reply: an unterminated
// `[` class, a trailing backslash, reversed ranges (`[z-a]`), and ranges compared as signed chars.

/** Redis compares bytes as C `char`, which is signed on the platforms it ships on. */
function signedByte(byte: number): number {
  return (byte << 24) >> 24;
}

function lower(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte + 32 : byte;
}

/** Recursion bound (Redis 7.2 adds the same protection against abusive patterns). */
const NESTING_MAX = 1000;

interface MatchState {
  skipLongerMatches: boolean;
}

function matchAt(
  pattern: Uint8Array, patternStart: number, subject: Uint8Array, subjectStart: number,
  nocase: boolean, state: MatchState, nesting: number,
): boolean {
  if (nesting > NESTING_MAX) return false;
  let p = patternStart;
  let s = subjectStart;
  // Reading past the end yields 0, as C reads the NUL terminator of an sds string.
  const at = (index: number): number => (index < pattern.length ? pattern[index]! : 0);
  while (p < pattern.length && s < subject.length) {
    const c = pattern[p]!;
    if (c === 0x2a /* * */) {
      while (p < pattern.length && at(p + 1) === 0x2a) p++;
      if (p === pattern.length - 1) return true;
      while (s < subject.length) {
        if (matchAt(pattern, p + 1, subject, s, nocase, state, nesting + 1)) return true;
        if (state.skipLongerMatches) return false;
        s++;
      }
      // No match for the rest of the pattern anywhere in the rest of the subject: an earlier
      // `*` matching more could not help either (CVE-2022-36021).
      state.skipLongerMatches = true;
      return false;
    } else if (c === 0x3f /* ? */) {
      s++;
    } else if (c === 0x5b /* [ */) {
      p++;
      const not = at(p) === 0x5e; /* ^ */
      if (not) p++;
      let match = false;
      const sc = subject[s]!;
      for (;;) {
        if (at(p) === 0x5c /* \ */ && pattern.length - p >= 2) {
          p++;
          if (at(p) === sc) match = true;
        } else if (at(p) === 0x5d /* ] */) {
          break;
        } else if (p >= pattern.length) {
          p--;
          break;
        } else if (pattern.length - p >= 3 && at(p + 1) === 0x2d /* - */) {
          let start = signedByte(at(p));
          let end = signedByte(at(p + 2));
          let ch = signedByte(sc);
          if (start > end) [start, end] = [end, start];
          if (nocase) {
            start = lower(start);
            end = lower(end);
            ch = lower(ch);
          }
          p += 2;
          if (ch >= start && ch <= end) match = true;
        } else if (nocase ? lower(at(p)) === lower(sc) : at(p) === sc) {
          match = true;
        }
        p++;
      }
      if (not) match = !match;
      if (!match) return false;
      s++;
    } else {
      if (c === 0x5c /* \ */ && pattern.length - p >= 2) p++;
      const pc = at(p);
      const sc = subject[s]!;
      if (nocase ? lower(pc) !== lower(sc) : pc !== sc) return false;
      s++;
    }
    p++;
    if (s === subject.length) {
      while (at(p) === 0x2a) p++;
      break;
    }
  }
  return p >= pattern.length && s === subject.length;
}

/** Whether `subject` matches the Redis glob `pattern`. */
export function globMatch(pattern: Uint8Array, subject: Uint8Array, nocase = false): boolean {
  return matchAt(pattern, 0, subject, 0, nocase, { skipLongerMatches: false }, 0);
}

/** Whether the pattern matches every string (Redis's fast path for `KEYS *`). */
export function matchesAll(pattern: Uint8Array): boolean {
  return pattern.length === 1 && pattern[0] === 0x2a;
}
