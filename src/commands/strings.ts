// String commands (Redis t_string.c), with Redis 7.0's argument order of checks and its exact
// errors; SET also takes Valkey 8.1's IFEQ. Relative expiry times become absolute here, from the
// entry's clock (ctx.nowMs), so every replica stores the same absolute time.

import type { Reply } from '../resp/reply.js';
import { STRING_VALUE_BYTES_MAX, valueBytes, valueLength, type Entry } from '../state/keyspace.js';
import type { ExecContext, Handler } from './context.js';
import {
  addLongDouble, formatLongDoubleHuman, parseLongDouble, type LongDouble,
} from './long-double.js';
import {
  EMPTY_BULK, ERR_NOT_FLOAT, ERR_NOT_INTEGER, ERR_OVERFLOW, ERR_STRING_TOO_LONG, ERR_SYNTAX,
  LLONG_MAX, LLONG_MIN, NULL_BULK, OK, ONE, ZERO, arityError, bulk, error, integer,
  clampExpiryMs, invalidExpireError, isWord, keyOf, parseLongLong,
} from './parse.js';

const F_NX = 1 << 0;
const F_XX = 1 << 1;
const F_GET = 1 << 2;
const F_KEEPTTL = 1 << 3;
const F_PERSIST = 1 << 4;
const F_EX = 1 << 5;
const F_PX = 1 << 6;
const F_EXAT = 1 << 7;
const F_PXAT = 1 << 8;
const F_IFEQ = 1 << 9;
const F_ANY_EXPIRE = F_EX | F_PX | F_EXAT | F_PXAT;
/** The SET options that look at the key's current value; without them SET just overwrites. */
const F_READS_EXISTING = F_NX | F_XX | F_GET | F_KEEPTTL | F_IFEQ;

interface ExtendedArgs {
  flags: number;
  expire: Buffer | undefined;
  compare: Buffer | undefined;
}

/** Redis parseExtendedStringArgumentsOrReply, for SET (`forSet`) and GETEX. */
function parseExtended(argv: readonly Buffer[], forSet: boolean): ExtendedArgs | Reply {
  let flags = 0;
  let expire: Buffer | undefined;
  let compare: Buffer | undefined;
  for (let j = forSet ? 3 : 2; j < argv.length; j++) {
    const opt = argv[j]!;
    const next = j === argv.length - 1 ? undefined : argv[j + 1];
    if (forSet && isWord(opt, 'nx') && !(flags & (F_XX | F_IFEQ))) {
      flags |= F_NX;
    } else if (forSet && isWord(opt, 'xx') && !(flags & (F_NX | F_IFEQ))) {
      flags |= F_XX;
    } else if (forSet && isWord(opt, 'ifeq') && next !== undefined && !(flags & (F_NX | F_XX | F_IFEQ))) {
      flags |= F_IFEQ;
      compare = next;
      j++;
    } else if (forSet && isWord(opt, 'get')) {
      flags |= F_GET;
    } else if (forSet && isWord(opt, 'keepttl') && !(flags & (F_PERSIST | F_ANY_EXPIRE))) {
      flags |= F_KEEPTTL;
    } else if (!forSet && isWord(opt, 'persist') && !(flags & (F_ANY_EXPIRE | F_KEEPTTL))) {
      flags |= F_PERSIST;
    } else if (isWord(opt, 'ex') && !(flags & (F_KEEPTTL | F_PERSIST | F_EXAT | F_PX | F_PXAT)) && next !== undefined) {
      flags |= F_EX;
      expire = next;
      j++;
    } else if (isWord(opt, 'px') && !(flags & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PXAT)) && next !== undefined) {
      flags |= F_PX;
      expire = next;
      j++;
    } else if (isWord(opt, 'exat') && !(flags & (F_KEEPTTL | F_PERSIST | F_EX | F_PX | F_PXAT)) && next !== undefined) {
      flags |= F_EXAT;
      expire = next;
      j++;
    } else if (isWord(opt, 'pxat') && !(flags & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PX)) && next !== undefined) {
      flags |= F_PXAT;
      expire = next;
      j++;
    } else {
      return ERR_SYNTAX;
    }
  }
  return { flags, expire, compare };
}

function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'kind' in value;
}

/**
 * Redis getExpireMillisecondsOrReply: a positive integer, in seconds or ms, relative (EX/PX, made
 * absolute from the entry's clock) or absolute (EXAT/PXAT). Returns absolute ms or an error.
 */
function expireMs(ctx: ExecContext, arg: Buffer, flags: number, command: string): number | Reply {
  const value = parseLongLong(arg);
  if (value === undefined) return ERR_NOT_INTEGER;
  const seconds = (flags & (F_EX | F_EXAT)) !== 0;
  if (value <= 0n || (seconds && value > LLONG_MAX / 1000n)) return invalidExpireError(command);
  let ms = seconds ? value * 1000n : value;
  if (flags & (F_EX | F_PX)) ms += BigInt(ctx.nowMs);
  // C signed overflow wraps negative; Redis then rejects it.
  if (ms > LLONG_MAX || ms <= 0n) return invalidExpireError(command);
  return clampExpiryMs(ms);
}

function valueEquals(entry: Entry, bytes: Buffer): boolean {
  const value = entry.value;
  if (typeof value !== 'string') return value.equals(bytes);
  return value.length === bytes.length && value === bytes.toString('latin1');
}

/** SET and the commands that are SET with fixed options. */
function setGeneric(
  ctx: ExecContext, command: string, flags: number, key: Buffer, value: Buffer,
  expireArg: Buffer | undefined, compare: Buffer | undefined, okReply: Reply, abortReply: Reply,
): Reply {
  let expiresAtMs = 0;
  if (expireArg !== undefined) {
    const ms = expireMs(ctx, expireArg, flags, command);
    if (isReply(ms)) return ms;
    expiresAtMs = ms;
  }
  const name = keyOf(key);
  if ((flags & F_READS_EXISTING) === 0) {
    // A plain SET: put() replaces whatever is there (live, expired or absent) the same way, so
    // looking the key up first would only cost a second hash and map lookup.
    ctx.ks.put(ctx.db, name, value, expiresAtMs);
    return okReply;
  }
  const existing = ctx.ks.lookup(ctx.db, name);
  // SET ... GET replies with the old value whatever happens next (built only for GET: a plain
  // SET over an existing key would convert the old value for nothing).
  const getReply: Reply = existing === undefined || !(flags & F_GET) ? NULL_BULK : bulk(valueBytes(existing));
  const found = existing !== undefined;
  if ((flags & F_NX && found) || (flags & F_XX && !found)) {
    return flags & F_GET ? getReply : abortReply;
  }
  if (flags & F_IFEQ && (existing === undefined || !valueEquals(existing, compare!))) {
    return flags & F_GET ? getReply : abortReply;
  }
  if (flags & F_KEEPTTL && existing !== undefined && expireArg === undefined) expiresAtMs = existing.expiresAtMs;
  ctx.ks.put(ctx.db, name, value, expiresAtMs);
  return flags & F_GET ? getReply : okReply;
}

const set: Handler = (ctx, argv) => {
  const parsed = parseExtended(argv, true);
  if (isReply(parsed)) return parsed;
  return setGeneric(ctx, 'set', parsed.flags, argv[1]!, argv[2]!, parsed.expire, parsed.compare, OK, NULL_BULK);
};

const setnx: Handler = (ctx, argv) => setGeneric(ctx, 'setnx', F_NX, argv[1]!, argv[2]!, undefined, undefined, ONE, ZERO);
const setex: Handler = (ctx, argv) => setGeneric(ctx, 'setex', F_EX, argv[1]!, argv[3]!, argv[2]!, undefined, OK, NULL_BULK);
const psetex: Handler = (ctx, argv) => setGeneric(ctx, 'psetex', F_PX, argv[1]!, argv[3]!, argv[2]!, undefined, OK, NULL_BULK);

const get: Handler = (ctx, argv) => {
  const entry = ctx.ks.lookup(ctx.db, keyOf(argv[1]!));
  return entry === undefined ? NULL_BULK : bulk(valueBytes(entry));
};

const getset: Handler = (ctx, argv) => {
  const name = keyOf(argv[1]!);
  const entry = ctx.ks.lookup(ctx.db, name);
  ctx.ks.put(ctx.db, name, argv[2]!, 0);
  return entry === undefined ? NULL_BULK : bulk(valueBytes(entry));
};

const getdel: Handler = (ctx, argv) => {
  const name = keyOf(argv[1]!);
  const entry = ctx.ks.lookup(ctx.db, name);
  if (entry === undefined) return NULL_BULK;
  ctx.ks.remove(ctx.db, name);
  return bulk(valueBytes(entry));
};

const getex: Handler = (ctx, argv) => {
  const parsed = parseExtended(argv, false);
  if (isReply(parsed)) return parsed;
  const name = keyOf(argv[1]!);
  const entry = ctx.ks.lookup(ctx.db, name);
  if (entry === undefined) return NULL_BULK;
  let expiresAtMs = 0;
  if (parsed.expire !== undefined) {
    const ms = expireMs(ctx, parsed.expire, parsed.flags, 'getex');
    if (isReply(ms)) return ms;
    expiresAtMs = ms;
  }
  const reply = bulk(valueBytes(entry));
  if (parsed.flags & (F_EXAT | F_PXAT) && expiresAtMs <= ctx.nowMs) {
    // An absolute time already passed deletes the key (Redis checkAlreadyExpired).
    ctx.ks.remove(ctx.db, name);
  } else if (parsed.expire !== undefined) {
    ctx.ks.setExpiry(ctx.db, name, entry, expiresAtMs);
  } else if (parsed.flags & F_PERSIST && entry.expiresAtMs !== 0) {
    ctx.ks.setExpiry(ctx.db, name, entry, 0);
  }
  return reply;
};

const mget: Handler = (ctx, argv) => ({
  kind: 'array',
  value: argv.slice(1).map((key) => {
    const entry = ctx.ks.lookup(ctx.db, keyOf(key));
    return entry === undefined ? NULL_BULK : bulk(valueBytes(entry));
  }),
});

const mset: Handler = (ctx, argv) => {
  if (argv.length % 2 === 0) return arityError('mset');
  for (let j = 1; j < argv.length; j += 2) ctx.ks.put(ctx.db, keyOf(argv[j]!), argv[j + 1]!, 0);
  return OK;
};

const msetnx: Handler = (ctx, argv) => {
  if (argv.length % 2 === 0) return arityError('msetnx');
  for (let j = 1; j < argv.length; j += 2) {
    if (ctx.ks.lookup(ctx.db, keyOf(argv[j]!)) !== undefined) return ZERO;
  }
  for (let j = 1; j < argv.length; j += 2) ctx.ks.put(ctx.db, keyOf(argv[j]!), argv[j + 1]!, 0);
  return ONE;
};

const append: Handler = (ctx, argv) => {
  const name = keyOf(argv[1]!);
  const suffix = argv[2]!;
  const entry = ctx.ks.lookup(ctx.db, name);
  if (entry === undefined) {
    ctx.ks.put(ctx.db, name, suffix, 0);
    return integer(suffix.length);
  }
  const length = valueLength(entry) + suffix.length;
  if (length > ctx.maxStringBytes) return ERR_STRING_TOO_LONG;
  const value = typeof entry.value === 'string' && length <= STRING_VALUE_BYTES_MAX
    ? entry.value + suffix.toString('latin1')
    : Buffer.concat([valueBytes(entry), suffix], length);
  ctx.ks.put(ctx.db, name, value, entry.expiresAtMs);
  return integer(length);
};

const strlen: Handler = (ctx, argv) => {
  const entry = ctx.ks.lookup(ctx.db, keyOf(argv[1]!));
  return integer(entry === undefined ? 0 : valueLength(entry));
};

/** INCR, DECR, INCRBY and DECRBY share this worker (Redis incrDecrCommand). */
function incrDecr(ctx: ExecContext, key: Buffer, increment: bigint): Reply {
  const name = keyOf(key);
  const entry = ctx.ks.lookup(ctx.db, name);
  let value = 0n;
  if (entry !== undefined) {
    const parsed = parseLongLong(valueBytes(entry));
    if (parsed === undefined) return ERR_NOT_INTEGER;
    value = parsed;
  }
  if ((increment < 0n && value < 0n && increment < LLONG_MIN - value)
    || (increment > 0n && value > 0n && increment > LLONG_MAX - value)) {
    return ERR_OVERFLOW;
  }
  value += increment;
  ctx.ks.put(ctx.db, name, value.toString(), entry?.expiresAtMs ?? 0);
  return integer(value);
}

const incr: Handler = (ctx, argv) => incrDecr(ctx, argv[1]!, 1n);
const decr: Handler = (ctx, argv) => incrDecr(ctx, argv[1]!, -1n);

const incrby: Handler = (ctx, argv) => {
  const increment = parseLongLong(argv[2]!);
  if (increment === undefined) return ERR_NOT_INTEGER;
  return incrDecr(ctx, argv[1]!, increment);
};

const decrby: Handler = (ctx, argv) => {
  const decrement = parseLongLong(argv[2]!);
  if (decrement === undefined) return ERR_NOT_INTEGER;
  if (decrement === LLONG_MIN) return error('ERR decrement would overflow');
  return incrDecr(ctx, argv[1]!, -decrement);
};

const ZERO_LD: LongDouble = { negative: false, significand: 0n, exponent: 0n };

const incrbyfloat: Handler = (ctx, argv) => {
  const name = keyOf(argv[1]!);
  const entry = ctx.ks.lookup(ctx.db, name);
  const current = entry === undefined ? ZERO_LD : parseLongDouble(valueBytes(entry));
  const increment = parseLongDouble(argv[2]!);
  if (current === undefined || increment === undefined) return ERR_NOT_FLOAT;
  const nanOrInf = error('ERR increment would produce NaN or Infinity');
  if (typeof current === 'string' || typeof increment === 'string') return nanOrInf;
  const sum = addLongDouble(current, increment);
  if (sum === 'overflow') return nanOrInf;
  const text = formatLongDoubleHuman(sum);
  if (text.length > ctx.maxStringBytes) return ERR_STRING_TOO_LONG;
  ctx.ks.put(ctx.db, name, text, entry?.expiresAtMs ?? 0);
  return bulk(Buffer.from(text, 'latin1'));
};

const getrange: Handler = (ctx, argv) => {
  let start = parseLongLong(argv[2]!);
  if (start === undefined) return ERR_NOT_INTEGER;
  let end = parseLongLong(argv[3]!);
  if (end === undefined) return ERR_NOT_INTEGER;
  const entry = ctx.ks.lookup(ctx.db, keyOf(argv[1]!));
  if (entry === undefined) return EMPTY_BULK;
  const length = BigInt(valueLength(entry));
  if (start < 0n && end < 0n && start > end) return EMPTY_BULK;
  if (start < 0n) start += length;
  if (end < 0n) end += length;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= length) end = length - 1n;
  if (start > end || length === 0n) return EMPTY_BULK;
  if (typeof entry.value === 'string') return bulk(Buffer.from(entry.value.slice(Number(start), Number(end) + 1), 'latin1'));
  return bulk(entry.value.subarray(Number(start), Number(end) + 1));
};

const setrange: Handler = (ctx, argv) => {
  const offsetBig = parseLongLong(argv[2]!);
  if (offsetBig === undefined) return ERR_NOT_INTEGER;
  if (offsetBig < 0n) return error('ERR offset is out of range');
  const name = keyOf(argv[1]!);
  const patch = argv[3]!;
  const entry = ctx.ks.lookup(ctx.db, name);
  const oldLength = entry === undefined ? 0 : valueLength(entry);
  if (patch.length === 0) return integer(oldLength);
  if (offsetBig + BigInt(patch.length) > BigInt(ctx.maxStringBytes)) return ERR_STRING_TOO_LONG;
  const offset = Number(offsetBig);
  const length = Math.max(oldLength, offset + patch.length);
  const value = Buffer.alloc(length);
  if (entry !== undefined) valueBytes(entry).copy(value, 0);
  patch.copy(value, offset);
  ctx.ks.put(ctx.db, name, value, entry?.expiresAtMs ?? 0);
  return integer(length);
};

/** LCS (Redis 7.0 lcsCommand): the classic dynamic-programming table, walked back from the end. */
const lcs: Handler = (ctx, argv) => {
  const entryA = ctx.ks.lookup(ctx.db, keyOf(argv[1]!));
  const entryB = ctx.ks.lookup(ctx.db, keyOf(argv[2]!));
  const a = entryA === undefined ? Buffer.alloc(0) : valueBytes(entryA);
  const b = entryB === undefined ? Buffer.alloc(0) : valueBytes(entryB);
  let getIdx = false;
  let getLen = false;
  let withMatchLen = false;
  let minMatchLen = 0n;
  for (let j = 3; j < argv.length; j++) {
    const opt = argv[j]!;
    const moreArgs = argv.length - 1 - j;
    if (isWord(opt, 'idx')) getIdx = true;
    else if (isWord(opt, 'len')) getLen = true;
    else if (isWord(opt, 'withmatchlen')) withMatchLen = true;
    else if (isWord(opt, 'minmatchlen') && moreArgs > 0) {
      const parsed = parseLongLong(argv[j + 1]!);
      if (parsed === undefined) return ERR_NOT_INTEGER;
      minMatchLen = parsed < 0n ? 0n : parsed;
      j++;
    } else {
      return ERR_SYNTAX;
    }
  }
  if (getIdx && getLen) return error('ERR If you want both the length and indexes, please just use IDX.');
  const aLen = a.length;
  const bLen = b.length;
  const cells = (aLen + 1) * (bLen + 1);
  if (cells * 4 > ctx.maxStringBytes) {
    return error('ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len');
  }
  const table = new Uint32Array(cells);
  const width = bLen + 1;
  for (let i = 1; i <= aLen; i++) {
    for (let j = 1; j <= bLen; j++) {
      table[i * width + j] = a[i - 1] === b[j - 1]
        ? table[(i - 1) * width + j - 1]! + 1
        : Math.max(table[(i - 1) * width + j]!, table[i * width + j - 1]!);
    }
  }
  const total = table[aLen * width + bLen]!;
  const computeLcs = getIdx || !getLen;
  const result = Buffer.alloc(computeLcs ? total : 0);
  const matches: Reply[] = [];
  let idx = total;
  let aStart = aLen; // aLen means "no range open".
  let aEnd = 0;
  let bStart = 0;
  let bEnd = 0;
  let i = aLen;
  let j = bLen;
  while (computeLcs && i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      result[idx - 1] = a[i - 1]!;
      if (aStart === aLen) {
        aStart = i - 1;
        aEnd = i - 1;
        bStart = j - 1;
        bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else {
        emit = true;
      }
      if (aStart === 0 || bStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      if (table[(i - 1) * width + j]! > table[i * width + j - 1]!) i--;
      else j--;
      if (aStart !== aLen) emit = true;
    }
    if (emit) {
      const matchLen = aEnd - aStart + 1;
      if (getIdx && (minMatchLen === 0n || BigInt(matchLen) >= minMatchLen)) {
        const range: Reply[] = [
          { kind: 'array', value: [integer(aStart), integer(aEnd)] },
          { kind: 'array', value: [integer(bStart), integer(bEnd)] },
        ];
        if (withMatchLen) range.push(integer(matchLen));
        matches.push({ kind: 'array', value: range });
      }
      aStart = aLen;
    }
  }
  if (getIdx) {
    return {
      kind: 'map',
      value: [
        [bulk(Buffer.from('matches')), { kind: 'array', value: matches }],
        [bulk(Buffer.from('len')), integer(total)],
      ],
    };
  }
  if (getLen) return integer(total);
  return bulk(result);
};

export const STRING_HANDLERS: ReadonlyMap<string, Handler> = new Map([
  ['get', get], ['set', set], ['setnx', setnx], ['setex', setex], ['psetex', psetex],
  ['getset', getset], ['getdel', getdel], ['getex', getex], ['mget', mget], ['mset', mset],
  ['msetnx', msetnx], ['append', append], ['strlen', strlen], ['incr', incr], ['decr', decr],
  ['incrby', incrby], ['decrby', decrby], ['incrbyfloat', incrbyfloat], ['getrange', getrange],
  ['substr', getrange], ['setrange', setrange], ['lcs', lcs],
]);
