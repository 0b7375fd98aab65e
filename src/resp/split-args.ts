// The argument splitter for inline commands, a byte-for-byte port of Redis's `sdssplitargs`
// (sds.c), so that what a user types into telnet splits exactly as Redis splits it:
//   - arguments are separated by whitespace;
//   - "double quotes" understand \n \r \t \b \a, \xHH and \<any> escapes;
//   - 'single quotes' understand only \' ;
//   - a closing quote must be followed by whitespace or the end of the line;
//   - quotes may open in the middle of an argument: foo"bar" is one argument, foobar;
//   - a NUL byte ends the line, because Redis works on a C string here.
// An unterminated quote or a closing quote followed by something else makes the whole line
// invalid (null), which the caller turns into "Protocol error: unbalanced quotes in request".

/** C's isspace() in the C locale: space, \t, \n, \v, \f, \r. */
function isSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
}

/** Splits one inline request line (without its line terminator). Null when quotes are unbalanced. */
export function splitArgs(line: Uint8Array): Buffer[] | null {
  // Reading past the end behaves as reading C's terminating NUL.
  const at = (index: number): number => (index < line.length ? line[index]! : 0);
  const args: Buffer[] = [];
  let index = 0;
  for (;;) {
    while (at(index) !== 0 && isSpace(at(index))) index++;
    if (at(index) === 0) return args;
    const current: number[] = [];
    let inDoubleQuotes = false;
    let inSingleQuotes = false;
    let done = false;
    while (!done) {
      const byte = at(index);
      if (inDoubleQuotes) {
        if (byte === 0x5c && at(index + 1) === 0x78 && hexValue(at(index + 2)) >= 0 && hexValue(at(index + 3)) >= 0) {
          current.push(hexValue(at(index + 2)) * 16 + hexValue(at(index + 3)));
          index += 3;
        } else if (byte === 0x5c && at(index + 1) !== 0) {
          index++;
          current.push(unescape(at(index)));
        } else if (byte === 0x22) {
          const next = at(index + 1);
          if (next !== 0 && !isSpace(next)) return null;
          done = true;
        } else if (byte === 0) {
          return null;
        } else {
          current.push(byte);
        }
      } else if (inSingleQuotes) {
        if (byte === 0x5c && at(index + 1) === 0x27) {
          index++;
          current.push(0x27);
        } else if (byte === 0x27) {
          const next = at(index + 1);
          if (next !== 0 && !isSpace(next)) return null;
          done = true;
        } else if (byte === 0) {
          return null;
        } else {
          current.push(byte);
        }
      } else {
        switch (byte) {
          case 0x20:
          case 0x0a:
          case 0x0d:
          case 0x09:
          case 0x00:
            done = true;
            break;
          case 0x22:
            inDoubleQuotes = true;
            break;
          case 0x27:
            inSingleQuotes = true;
            break;
          default:
            current.push(byte);
        }
      }
      if (at(index) !== 0) index++;
    }
    args.push(Buffer.from(current));
  }
}

function unescape(byte: number): number {
  switch (byte) {
    case 0x6e: return 0x0a; // \n
    case 0x72: return 0x0d; // \r
    case 0x74: return 0x09; // \t
    case 0x62: return 0x08; // \b
    case 0x61: return 0x07; // \a
    default: return byte;
  }
}
