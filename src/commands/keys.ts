// Generic key commands (Redis db.c and expire.c): deletion, existence, renaming, copying between
// databases, expiry with NX/XX/GT/LT, iteration (KEYS, SCAN, RANDOMKEY) and whole-database
// commands. Plus SELECT, PING, ECHO and TIME as they run inside a transaction.

import type { Reply } from '../resp/reply.js';
import { DB_COUNT } from '../state/keyspace.js';
import { globMatch, matchesAll } from '../state/glob.js';
import type { ExecContext, Handler } from './context.js';
import {
  ERR_DB_RANGE, ERR_NOT_INTEGER, ERR_NO_SUCH_KEY, ERR_SAME_OBJECT, ERR_SYNTAX, LLONG_MAX, LLONG_MIN,
  NULL_BULK, OK, ONE, ZERO, bulk, bulkText, clampExpiryMs, error, integer, invalidExpireError, isWord, keyBytes, keyOf,
  parseCursor, parseInt32, parseLongLong,
} from './parse.js';

function validDb(index: number): boolean {
  return index >= 0 && index < DB_COUNT;
}

const del: Handler = (ctx, argv) => {
  let deleted = 0;
  for (let j = 1; j < argv.length; j++) if (ctx.ks.remove(ctx.db, keyOf(argv[j]!))) deleted++;
  return integer(deleted);
};

/** EXISTS and TOUCH: each argument counts, repeated ones again. */
const exists: Handler = (ctx, argv) => {
  let count = 0;
  for (let j = 1; j < argv.length; j++) if (ctx.ks.lookup(ctx.db, keyOf(argv[j]!)) !== undefined) count++;
  return integer(count);
};

const type: Handler = (ctx, argv) => {
  const entry = ctx.ks.lookup(ctx.db, keyOf(argv[1]!));
  return { kind: 'simple', value: entry === undefined ? 'none' : 'string' };
};

const keys: Handler = (ctx, argv) => {
  const pattern = argv[1]!;
  const all = matchesAll(pattern);
  const out: Reply[] = [];
  for (const key of ctx.ks.liveKeys(ctx.db, ctx.nowMs)) {
    const bytes = keyBytes(key);
    if (all || globMatch(pattern, bytes)) out.push(bulk(bytes));
  }
  return { kind: 'array', value: out };
};

const scan: Handler = (ctx, argv) => {
  const cursor = parseCursor(argv[1]!);
  if (cursor === undefined) return error('ERR invalid cursor');
  let count = 10;
  let pattern: Buffer | undefined;
  let typeName: string | undefined;
  for (let i = 2; i < argv.length;) {
    const remaining = argv.length - i;
    const opt = argv[i]!;
    if (isWord(opt, 'count') && remaining >= 2) {
      const parsed = parseLongLong(argv[i + 1]!);
      if (parsed === undefined) return ERR_NOT_INTEGER;
      if (parsed < 1n) return ERR_SYNTAX;
      count = parsed > 1_000_000_000n ? 1_000_000_000 : Number(parsed);
      i += 2;
    } else if (isWord(opt, 'match') && remaining >= 2) {
      pattern = matchesAll(argv[i + 1]!) ? undefined : argv[i + 1]!;
      i += 2;
    } else if (isWord(opt, 'type') && remaining >= 2) {
      typeName = argv[i + 1]!.toString('latin1').toLowerCase();
      i += 2;
    } else {
      return ERR_SYNTAX;
    }
  }
  const found: Reply[] = [];
  const next = ctx.ks.scan(ctx.db, cursor, count, ctx.nowMs, (key) => {
    const bytes = keyBytes(key);
    if (pattern !== undefined && !globMatch(pattern, bytes)) return;
    // Every value is a string; Redis 7.0 filters out an unknown type name rather than failing.
    if (typeName !== undefined && typeName !== 'string') return;
    found.push(bulk(bytes));
  });
  return { kind: 'array', value: [bulkText(next.toString()), { kind: 'array', value: found }] };
};

const randomkey: Handler = (ctx) => {
  const key = ctx.ks.randomKey(ctx.db, ctx.nowMs, ctx.random());
  return key === undefined ? NULL_BULK : bulk(keyBytes(key));
};

const dbsize: Handler = (ctx) => integer(ctx.ks.liveCount(ctx.db, ctx.nowMs));

function renameGeneric(ctx: ExecContext, argv: readonly Buffer[], nx: boolean): Reply {
  const source = keyOf(argv[1]!);
  const target = keyOf(argv[2]!);
  const entry = ctx.ks.lookup(ctx.db, source);
  if (entry === undefined) return ERR_NO_SUCH_KEY;
  if (source === target) return nx ? ZERO : OK;
  if (ctx.ks.lookup(ctx.db, target) !== undefined) {
    if (nx) return ZERO;
    ctx.ks.remove(ctx.db, target);
  }
  ctx.ks.putEntry(ctx.db, target, entry);
  ctx.ks.remove(ctx.db, source);
  return nx ? ONE : OK;
}

const rename: Handler = (ctx, argv) => renameGeneric(ctx, argv, false);
const renamenx: Handler = (ctx, argv) => renameGeneric(ctx, argv, true);

const move: Handler = (ctx, argv) => {
  const target = parseInt32(argv[2]!);
  if (target === undefined) return ERR_NOT_INTEGER;
  if (!validDb(target)) return ERR_DB_RANGE;
  if (target === ctx.db) return ERR_SAME_OBJECT;
  const key = keyOf(argv[1]!);
  const entry = ctx.ks.lookup(ctx.db, key);
  if (entry === undefined) return ZERO;
  if (ctx.ks.lookup(target, key) !== undefined) return ZERO;
  ctx.ks.putEntry(target, key, entry);
  ctx.ks.remove(ctx.db, key);
  return ONE;
};

const copy: Handler = (ctx, argv) => {
  let target = ctx.db;
  let replace = false;
  for (let j = 3; j < argv.length; j++) {
    const additional = argv.length - j - 1;
    if (isWord(argv[j]!, 'replace')) {
      replace = true;
    } else if (isWord(argv[j]!, 'db') && additional >= 1) {
      const parsed = parseInt32(argv[j + 1]!);
      if (parsed === undefined) return ERR_NOT_INTEGER;
      if (!validDb(parsed)) return ERR_DB_RANGE;
      target = parsed;
      j++;
    } else {
      return ERR_SYNTAX;
    }
  }
  const source = keyOf(argv[1]!);
  const destination = keyOf(argv[2]!);
  if (target === ctx.db && source === destination) return ERR_SAME_OBJECT;
  const entry = ctx.ks.lookup(ctx.db, source);
  if (entry === undefined) return ZERO;
  if (ctx.ks.lookup(target, destination) !== undefined) {
    if (!replace) return ZERO;
    ctx.ks.remove(target, destination);
  }
  ctx.ks.putEntry(target, destination, entry);
  return ONE;
};

const EXPIRE_NX = 1;
const EXPIRE_XX = 2;
const EXPIRE_GT = 4;
const EXPIRE_LT = 8;

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis expireGenericCommand). `baseMs` is 0 for the AT forms. */
function expireGeneric(ctx: ExecContext, argv: readonly Buffer[], command: string, baseMs: number, seconds: boolean): Reply {
  let flags = 0;
  for (let j = 3; j < argv.length; j++) {
    const opt = argv[j]!;
    if (isWord(opt, 'nx')) flags |= EXPIRE_NX;
    else if (isWord(opt, 'xx')) flags |= EXPIRE_XX;
    else if (isWord(opt, 'gt')) flags |= EXPIRE_GT;
    else if (isWord(opt, 'lt')) flags |= EXPIRE_LT;
    else return error(`ERR Unsupported option ${cString(opt)}`);
  }
  if (flags & EXPIRE_NX && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) {
    return error('ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  if (flags & EXPIRE_GT && flags & EXPIRE_LT) {
    return error('ERR GT and LT options at the same time are not compatible');
  }
  const parsed = parseLongLong(argv[2]!);
  if (parsed === undefined) return ERR_NOT_INTEGER;
  let when = parsed;
  if (seconds) {
    if (when > LLONG_MAX / 1000n || when < LLONG_MIN / 1000n) return invalidExpireError(command);
    when *= 1000n;
  }
  const base = BigInt(baseMs);
  if (when > LLONG_MAX - base) return invalidExpireError(command);
  when += base;
  const key = keyOf(argv[1]!);
  const entry = ctx.ks.lookup(ctx.db, key);
  if (entry === undefined) return ZERO;
  if (flags !== 0) {
    const current = entry.expiresAtMs === 0 ? -1n : BigInt(entry.expiresAtMs);
    if (flags & EXPIRE_NX && current !== -1n) return ZERO;
    if (flags & EXPIRE_XX && current === -1n) return ZERO;
    if (flags & EXPIRE_GT && (when <= current || current === -1n)) return ZERO;
    if (flags & EXPIRE_LT && current !== -1n && when >= current) return ZERO;
  }
  if (when <= BigInt(ctx.nowMs)) {
    ctx.ks.remove(ctx.db, key);
    return ONE;
  }
  ctx.ks.setExpiry(ctx.db, key, entry, clampExpiryMs(when));
  return ONE;
}

/** Like C's "%s": stops at the first NUL byte. */
function cString(arg: Buffer): string {
  const nul = arg.indexOf(0);
  return (nul < 0 ? arg : arg.subarray(0, nul)).toString('latin1');
}

const expire: Handler = (ctx, argv) => expireGeneric(ctx, argv, 'expire', ctx.nowMs, true);
const pexpire: Handler = (ctx, argv) => expireGeneric(ctx, argv, 'pexpire', ctx.nowMs, false);
const expireat: Handler = (ctx, argv) => expireGeneric(ctx, argv, 'expireat', 0, true);
const pexpireat: Handler = (ctx, argv) => expireGeneric(ctx, argv, 'pexpireat', 0, false);

/** TTL, PTTL, EXPIRETIME, PEXPIRETIME (Redis ttlGenericCommand). */
function ttlGeneric(ctx: ExecContext, argv: readonly Buffer[], outputMs: boolean, outputAbsolute: boolean): Reply {
  const entry = ctx.ks.lookup(ctx.db, keyOf(argv[1]!));
  if (entry === undefined) return integer(-2);
  if (entry.expiresAtMs === 0) return integer(-1);
  let ttl = outputAbsolute ? entry.expiresAtMs : entry.expiresAtMs - ctx.nowMs;
  if (ttl < 0) ttl = 0;
  return integer(outputMs ? ttl : Math.floor((ttl + 500) / 1000));
}

const ttl: Handler = (ctx, argv) => ttlGeneric(ctx, argv, false, false);
const pttl: Handler = (ctx, argv) => ttlGeneric(ctx, argv, true, false);
const expiretime: Handler = (ctx, argv) => ttlGeneric(ctx, argv, false, true);
const pexpiretime: Handler = (ctx, argv) => ttlGeneric(ctx, argv, true, true);

const persist: Handler = (ctx, argv) => {
  const key = keyOf(argv[1]!);
  const entry = ctx.ks.lookup(ctx.db, key);
  if (entry === undefined || entry.expiresAtMs === 0) return ZERO;
  ctx.ks.setExpiry(ctx.db, key, entry, 0);
  return ONE;
};

/** FLUSHDB and FLUSHALL take an optional ASYNC or SYNC (Redis getFlushCommandFlags). */
function flushArgsValid(argv: readonly Buffer[]): boolean {
  if (argv.length === 1) return true;
  return argv.length === 2 && (isWord(argv[1]!, 'sync') || isWord(argv[1]!, 'async'));
}

const flushdb: Handler = (ctx, argv) => {
  if (!flushArgsValid(argv)) return ERR_SYNTAX;
  ctx.ks.flush(ctx.db);
  return OK;
};

const flushall: Handler = (ctx, argv) => {
  if (!flushArgsValid(argv)) return ERR_SYNTAX;
  for (let db = 0; db < DB_COUNT; db++) ctx.ks.flush(db);
  return OK;
};

const swapdb: Handler = (ctx, argv) => {
  const first = parseInt32(argv[1]!);
  if (first === undefined) return error('ERR invalid first DB index');
  const second = parseInt32(argv[2]!);
  if (second === undefined) return error('ERR invalid second DB index');
  if (!validDb(first) || !validDb(second)) return ERR_DB_RANGE;
  ctx.ks.swap(first, second);
  return OK;
};

/** SELECT inside a transaction: later commands of the same EXEC run in the new database. */
const select: Handler = (ctx, argv) => {
  const index = parseInt32(argv[1]!);
  if (index === undefined) return ERR_NOT_INTEGER;
  if (!validDb(index)) return ERR_DB_RANGE;
  ctx.db = index;
  return OK;
};

const ping: Handler = (_ctx, argv) => {
  if (argv.length > 2) return error("ERR wrong number of arguments for 'ping' command");
  return argv.length === 1 ? { kind: 'simple', value: 'PONG' } : bulk(argv[1]!);
};
const echo: Handler = (_ctx, argv) => bulk(argv[1]!);

/** TIME inside a transaction answers the entry's clock, the same on every replica. */
const time: Handler = (ctx) => {
  const seconds = Math.floor(ctx.nowMs / 1000);
  const micros = (ctx.nowMs - seconds * 1000) * 1000;
  return { kind: 'array', value: [bulkText(String(seconds)), bulkText(String(micros))] };
};

export const KEY_HANDLERS: ReadonlyMap<string, Handler> = new Map([
  ['del', del], ['unlink', del], ['exists', exists], ['touch', exists], ['type', type],
  ['keys', keys], ['scan', scan], ['randomkey', randomkey], ['dbsize', dbsize],
  ['rename', rename], ['renamenx', renamenx], ['move', move], ['copy', copy],
  ['expire', expire], ['pexpire', pexpire], ['expireat', expireat], ['pexpireat', pexpireat],
  ['ttl', ttl], ['pttl', pttl], ['expiretime', expiretime], ['pexpiretime', pexpiretime],
  ['persist', persist], ['flushdb', flushdb], ['flushall', flushall], ['swapdb', swapdb],
  ['select', select], ['ping', ping], ['echo', echo], ['time', time],
]);
