// Test helper: seeded random command sequences over every data command the state machine runs,
// with edge values and errors (bad integers, syntax errors, wrong arity, out-of-range databases).
// Keys come from a small pool so commands collide. Expiry times are long or already past, never a
// few ms ahead, so a reply does not depend on which of two servers reads the clock a ms later.

export type Rng = () => number;

/** Mulberry32, seeded. */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const chance = (rng: Rng, p: number): boolean => rng() < p;

export const KEY_POOL = ['a', 'b', 'c', 'key:1', 'key:2', 'k\x00bin', 'é', ''];
const VALUES = ['', 'x', 'hello', '0', '1', '-1', '10', '-42', '9223372036854775807', '-9223372036854775808',
  '9223372036854775808', '3.14', '1e3', ' 5', '5 ', 'abc', '0x10', 'inf', '1.5e308', '007', '\xff\x00\xfe', 'ohmytext', 'mynewtext'];
const INTEGERS = ['0', '1', '-1', '5', '100', '-100', '9223372036854775807', '-9223372036854775808',
  '9223372036854775808', 'abc', '1.5', '', ' 1', '+1', '01', '-0'];
const FLOATS = ['0', '1', '-1', '0.1', '-0.1', '1.5', '1e3', '1e-3', '3.0e2', 'abc', 'inf', '-inf', 'nan', '', '.5', '5.', '1e400', '0.000003814697265625'];
const PATTERNS = ['*', '**', 'a', 'key:*', 'key:?', '[ab]', '[^a]*', '[a-c]', '*\\*', 'k*', '?', '[', 'é*', ''];
const DBS = ['0', '1', '2', '15', '16', '-1', 'abc'];

function key(rng: Rng): string {
  return pick(rng, KEY_POOL);
}

function value(rng: Rng): string {
  return pick(rng, VALUES);
}

function futureSeconds(rng: Rng): string {
  return String(1000 + Math.floor(rng() * 100000));
}

function expiryOption(rng: Rng, forSet: boolean): string[] {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const options: string[][] = [
    ['EX', futureSeconds(rng)], ['PX', String(1_000_000 + Math.floor(rng() * 1e8))],
    ['EXAT', String(nowSeconds + 10_000)], ['PXAT', String(nowSeconds * 1000 + 10_000_000)],
    ['EXAT', '1'], ['PXAT', '1000'], ['EX', '0'], ['EX', '-1'], ['EX', 'abc'], ['PX', '9223372036854775807'],
  ];
  options.push(forSet ? ['KEEPTTL'] : ['PERSIST']);
  return pick(rng, options);
}

type Generator = (rng: Rng) => string[];

/** Generators of single commands, by weight. Names in the first element. */
const GENERATORS: [number, Generator][] = [
  [8, (r) => ['SET', key(r), value(r), ...(chance(r, 0.5) ? expiryOption(r, true) : []),
    ...(chance(r, 0.3) ? [pick(r, ['NX', 'XX', 'GET', 'nx', 'FOO'])] : [])]],
  [6, (r) => ['GET', key(r)]],
  [2, (r) => ['SETNX', key(r), value(r)]],
  [2, (r) => ['SETEX', key(r), pick(r, ['100', '0', '-1', 'abc', '5000']), value(r)]],
  [1, (r) => ['PSETEX', key(r), pick(r, ['100000', '0', 'abc']), value(r)]],
  [2, (r) => ['GETSET', key(r), value(r)]],
  [2, (r) => ['GETDEL', key(r)]],
  [2, (r) => ['GETEX', key(r), ...(chance(r, 0.6) ? expiryOption(r, false) : [])]],
  [2, (r) => ['MGET', key(r), key(r), key(r)]],
  [2, (r) => ['MSET', key(r), value(r), key(r), value(r), ...(chance(r, 0.1) ? [key(r)] : [])]],
  [2, (r) => ['MSETNX', key(r), value(r), key(r), value(r)]],
  [3, (r) => ['APPEND', key(r), value(r)]],
  [2, (r) => ['STRLEN', key(r)]],
  [4, (r) => [pick(r, ['INCR', 'DECR']), key(r)]],
  [4, (r) => [pick(r, ['INCRBY', 'DECRBY']), key(r), pick(r, INTEGERS)]],
  [4, (r) => ['INCRBYFLOAT', key(r), pick(r, FLOATS)]],
  [3, (r) => [pick(r, ['GETRANGE', 'SUBSTR']), key(r), pick(r, INTEGERS.slice(0, 8)), pick(r, INTEGERS.slice(0, 8))]],
  [3, (r) => ['SETRANGE', key(r), pick(r, ['0', '1', '3', '10', '-1', 'abc', '536870912']), value(r)]],
  [2, (r) => ['LCS', key(r), key(r), ...(chance(r, 0.5) ? [pick(r, ['LEN', 'IDX', 'FOO'])] : []),
    ...(chance(r, 0.3) ? ['MINMATCHLEN', pick(r, ['0', '2', '-1', 'abc'])] : []), ...(chance(r, 0.3) ? ['WITHMATCHLEN'] : [])]],
  [3, (r) => [pick(r, ['DEL', 'UNLINK']), key(r), ...(chance(r, 0.5) ? [key(r)] : [])]],
  [3, (r) => [pick(r, ['EXISTS', 'TOUCH']), key(r), key(r)]],
  [2, (r) => ['TYPE', key(r)]],
  [2, (r) => ['KEYS', pick(r, PATTERNS)]],
  [2, (r) => ['SCAN', '0', 'COUNT', '1000', ...(chance(r, 0.5) ? ['MATCH', pick(r, PATTERNS)] : []),
    ...(chance(r, 0.2) ? ['TYPE', pick(r, ['string', 'list'])] : [])]],
  [1, () => ['RANDOMKEY']],
  [1, () => ['DBSIZE']],
  [2, (r) => [pick(r, ['RENAME', 'RENAMENX']), key(r), key(r)]],
  [2, (r) => ['COPY', key(r), key(r), ...(chance(r, 0.5) ? ['DB', pick(r, DBS)] : []), ...(chance(r, 0.4) ? ['REPLACE'] : [])]],
  [2, (r) => ['MOVE', key(r), pick(r, DBS)]],
  [3, (r) => [pick(r, ['EXPIRE', 'PEXPIRE']), key(r), pick(r, ['100000', '-1', '0', 'abc', '9223372036854775807', '500000']),
    ...(chance(r, 0.4) ? [pick(r, ['NX', 'XX', 'GT', 'LT', 'FOO'])] : []), ...(chance(r, 0.1) ? [pick(r, ['NX', 'XX', 'GT', 'LT'])] : [])]],
  [2, (r) => [pick(r, ['EXPIREAT', 'PEXPIREAT']), key(r), pick(r, ['1', String(Math.floor(Date.now() / 1000) + 100000), '32503680000']),
    ...(chance(r, 0.3) ? [pick(r, ['NX', 'XX', 'GT', 'LT'])] : [])]],
  [3, (r) => [pick(r, ['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']), key(r)]],
  [2, (r) => ['PERSIST', key(r)]],
  [1, (r) => (chance(r, 0.5) ? ['FLUSHDB'] : ['FLUSHDB', pick(r, ['ASYNC', 'SYNC', 'FOO'])])],
  [1, (r) => ['SWAPDB', pick(r, DBS.slice(0, 3)), pick(r, DBS)]],
  [2, (r) => ['SELECT', pick(r, ['0', '0', '1', '2', '16', 'abc'])]],
  [1, (r) => [pick(r, ['GET', 'SET', 'INCRBY', 'EXPIRE', 'MSET', 'GETRANGE'])]],
];

const TOTAL_WEIGHT = GENERATORS.reduce((sum, [weight]) => sum + weight, 0);

export function randomCommand(rng: Rng): string[] {
  let roll = rng() * TOTAL_WEIGHT;
  for (const [weight, generate] of GENERATORS) {
    roll -= weight;
    if (roll < 0) return generate(rng);
  }
  return GENERATORS[0]![1](rng);
}

/**
 * Left out of transactions: replies that depend on hash order or chance, and DBSIZE, which in
 * Redis counts keys whose time has passed until they are reclaimed (see docs/compatibility.md).
 */
export const UNORDERED = new Set(['keys', 'scan', 'randomkey', 'dbsize']);

/** A sequence of commands with occasional MULTI/EXEC blocks and WATCH. */
export function randomSequence(rng: Rng, count: number): string[][] {
  const out: string[][] = [];
  while (out.length < count) {
    if (chance(rng, 0.06)) {
      if (chance(rng, 0.5)) out.push(['WATCH', key(rng)]);
      if (chance(rng, 0.3)) out.push(randomCommand(rng));
      out.push(['MULTI']);
      const size = 1 + Math.floor(rng() * 5);
      for (let i = 0; i < size; i++) {
        let command = randomCommand(rng);
        while (UNORDERED.has(command[0]!.toLowerCase())) command = randomCommand(rng);
        out.push(command);
      }
      out.push([chance(rng, 0.9) ? 'EXEC' : 'DISCARD']);
    } else {
      out.push(randomCommand(rng));
    }
  }
  return out;
}
