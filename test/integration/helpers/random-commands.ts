// Test helper: seeded random command sequences over every command raftis supports (strings, keys,
// expiry, databases, transactions, connection commands), for the differential suite. Keys come
// from a small pool so commands collide; values include the edge cases (empty, binary, integer
// limits, floats, long strings); options are drawn from each command's grammar, with a share of
// invalid ones so errors are compared too. Times are chosen so nothing depends on when exactly a
// server runs the command: relative TTLs are long, absolute ones far in the future or past.
import { SeededPrng } from '../../../src/raft/prng.js';
import type { Command, DifferentialCase, Step } from './differential.js';

const KEYS = ['k0', 'k1', 'k2', 'k3', 'n0', 'n1', 'f0', '', 'b\x00\xff'];
const VALUES = ['', 'v', 'hello', 'hello world', '0', '1', '-1', '10', '255', '9223372036854775807', '-9223372036854775808', '9223372036854775808', '3.14', '-0.5', '1e3', ' 1', '01', '+5', 'abc', 'x'.repeat(100), '\x00\xff\r\n'];
const INTEGERS = ['0', '1', '-1', '2', '10', '-100', '9223372036854775807', '-9223372036854775808', '9223372036854775808', 'abc', '1.5', '', ' 3', '007'];
const FLOATS = ['0', '1', '0.1', '-3.5', '1e3', '2.5e-3', '1.7976931348623157e308', 'inf', '-inf', 'nan', 'abc', '', '10.00', '5e'];
const PATTERNS = ['*', 'k*', 'k?', 'k[0-2]', 'k[^0]', '[nf]*', '*0', '\\*', '', 'b*', 'k[', '?'];
const FAR_FUTURE_SECONDS = '4102444800'; // 2100-01-01
const FAR_FUTURE_MS = '4102444800000';

export class CommandGenerator {
  private readonly prng: SeededPrng;
  private relativeCount = 0;

  constructor(seed: number) {
    this.prng = new SeededPrng(seed);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.prng.nextInt(items.length)]!;
  }

  private chance(percent: number): boolean {
    return this.prng.nextInt(100) < percent;
  }

  /**
   * A relative TTL in seconds, distinct from every other one of the sequence by at least 100 s.
   * Two servers turn relative TTLs into absolute times at slightly different instants; with
   * distinct TTLs, GT/LT comparisons between them are decided by the TTLs, never by which
   * millisecond each server happened to run the command in.
   */
  private relativeSeconds(): number {
    return 1000 + 100 * ((++this.relativeCount * 7919) % 100_003);
  }

  private seconds(): string {
    return String(this.relativeSeconds());
  }

  private milliseconds(): string {
    return String(this.relativeSeconds() * 1000 + 7);
  }

  private key(): string {
    return this.pick(KEYS);
  }

  private value(): string {
    return this.pick(VALUES);
  }

  private keys(min: number, max: number): string[] {
    return Array.from({ length: min + this.prng.nextInt(max - min + 1) }, () => this.key());
  }

  /** An expiry option for SET: relative times long enough not to pass, absolute ones far away. */
  private expiryOption(): string[] {
    switch (this.prng.nextInt(9)) {
      case 0: return ['EX', this.pick([this.seconds(), this.seconds(), '0', '-5', 'abc', '9223372036854775807'])];
      case 1: return ['PX', this.pick([this.milliseconds(), this.milliseconds(), '0', '-1'])];
      // Not a past time that is still valid: Redis 7.0 then keeps the key until a lookup or its
      // expiry cycle finds it (DBSIZE counts it meanwhile), a timing-dependent window raftis does
      // not reproduce (see docs/compatibility.md). 0 and -1 are errors on both.
      case 2: return ['EXAT', this.pick([FAR_FUTURE_SECONDS, '0', '-1'])];
      case 3: return ['PXAT', this.pick([FAR_FUTURE_MS, '0'])];
      case 4: return ['KEEPTTL'];
      default: return [];
    }
  }

  private setCommand(): Command {
    const argv = ['SET', this.key(), this.value()];
    if (this.chance(30)) argv.push(this.pick(['NX', 'XX']));
    if (this.chance(20)) argv.push('GET');
    argv.push(...this.expiryOption());
    if (this.chance(5)) argv.push(this.pick(['EX', 'NX', 'BOGUS', 'KEEPTTL']));
    return argv;
  }

  private expireCommand(): Command {
    const name = this.pick(['EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT']);
    let time: string;
    if (name === 'EXPIRE') time = this.pick([this.seconds(), this.seconds(), '-1', '0', 'abc', '9223372036854775807']);
    else if (name === 'PEXPIRE') time = this.pick([this.milliseconds(), this.milliseconds(), '-1', '0']);
    else if (name === 'EXPIREAT') time = this.pick([FAR_FUTURE_SECONDS, '1', '0']);
    else time = this.pick([FAR_FUTURE_MS, '1', '0']);
    const argv = [name, this.key(), time];
    if (this.chance(40)) argv.push(this.pick(['NX', 'XX', 'GT', 'LT', 'nx', 'FOO']));
    if (this.chance(5)) argv.push(this.pick(['NX', 'GT']));
    return argv;
  }

  /** One command of any supported family, sometimes malformed. */
  command(): Command {
    const roll = this.prng.nextInt(100);
    if (roll < 8) return this.setCommand();
    if (roll < 12) return ['GET', this.key()];
    if (roll < 45) return this.stringCommand();
    if (roll < 85) return this.keyCommand();
    return this.connectionCommand();
  }

  private stringCommand(): Command {
    switch (this.prng.nextInt(24)) {
      case 0: return ['SETNX', this.key(), this.value()];
      case 1: return ['SETEX', this.key(), this.pick([this.seconds(), '0', '-1', 'x']), this.value()];
      case 2: return ['PSETEX', this.key(), this.pick([this.milliseconds(), '0', 'x']), this.value()];
      case 3: return ['GETSET', this.key(), this.value()];
      case 4: return ['GETDEL', this.key()];
      case 5: {
        const argv = ['GETEX', this.key()];
        if (this.chance(60)) argv.push(...this.pick([['EX', this.seconds()], ['PX', this.milliseconds()], ['EXAT', FAR_FUTURE_SECONDS], ['PXAT', FAR_FUTURE_MS], ['PERSIST'], ['EX', '0'], ['EX', '-1'], ['PERSIST', 'EX', '5'], ['BOGUS']]));
        return argv;
      }
      case 6: return ['MGET', ...this.keys(1, 4)];
      case 7: return ['MSET', ...this.keys(1, 3).flatMap((key) => [key, this.value()]), ...(this.chance(5) ? ['dangling'] : [])];
      case 8: return ['MSETNX', ...this.keys(1, 3).flatMap((key) => [key, this.value()])];
      case 9: return ['APPEND', this.key(), this.value()];
      case 10: return ['STRLEN', this.key()];
      case 11: return ['INCR', this.key()];
      case 12: return ['DECR', this.key()];
      case 13: return ['INCRBY', this.key(), this.pick(INTEGERS)];
      case 14: return ['DECRBY', this.key(), this.pick(INTEGERS)];
      case 15: return ['INCRBYFLOAT', this.key(), this.pick(FLOATS)];
      case 16: return ['GETRANGE', this.key(), this.pick(['0', '1', '-1', '-5', '100', 'x']), this.pick(['0', '2', '-1', '-100', '100'])];
      case 17: return ['SUBSTR', this.key(), this.pick(['0', '1', '-3']), this.pick(['-1', '3'])];
      case 18: return ['SETRANGE', this.key(), this.pick(['0', '1', '5', '30', '-1', 'x']), this.value()];
      case 19: {
        const argv = ['LCS', this.key(), this.key()];
        if (this.chance(50)) argv.push(this.pick(['LEN', 'IDX']));
        if (this.chance(30)) argv.push('MINMATCHLEN', this.pick(['0', '1', '3', 'x']));
        if (this.chance(30)) argv.push('WITHMATCHLEN');
        return argv;
      }
      case 20: return ['SET', this.key(), String(this.prng.nextInt(1000) - 500)];
      case 21: return ['SET', this.key(), this.pick(FLOATS)];
      case 22: return ['INCRBYFLOAT', this.key(), this.pick(['0.1', '-0.1', '3'])];
      default: return ['SET', this.key(), this.value(), ...(this.chance(50) ? ['EX', this.seconds()] : [])];
    }
  }

  private keyCommand(): Command {
    switch (this.prng.nextInt(26)) {
      case 0: return ['DEL', ...this.keys(1, 3)];
      case 1: return ['UNLINK', ...this.keys(1, 3)];
      case 2: return ['EXISTS', ...this.keys(1, 4)];
      case 3: return ['TYPE', this.key()];
      case 4: return ['KEYS', this.pick(PATTERNS)];
      case 5: {
        const argv = ['SCAN', '0'];
        if (this.chance(40)) argv.push('MATCH', this.pick(PATTERNS));
        argv.push('COUNT', '1000');
        if (this.chance(30)) argv.push('TYPE', this.pick(['string', 'list', 'STRING']));
        return argv;
      }
      case 6: return ['RANDOMKEY'];
      case 7: return ['RENAME', this.key(), this.key()];
      case 8: return ['RENAMENX', this.key(), this.key()];
      case 9: {
        const argv = ['COPY', this.key(), this.key()];
        if (this.chance(30)) argv.push('DB', this.pick(['0', '1', '2', '16', 'x']));
        if (this.chance(40)) argv.push('REPLACE');
        return argv;
      }
      case 10: return ['MOVE', this.key(), this.pick(['0', '1', '2', '16', '-1', 'x'])];
      case 11: return ['TOUCH', ...this.keys(1, 3)];
      case 12:
      case 13: return this.expireCommand();
      case 14: return ['TTL', this.key()];
      case 15: return ['PTTL', this.key()];
      case 16: return ['EXPIRETIME', this.key()];
      case 17: return ['PEXPIRETIME', this.key()];
      case 18: return ['PERSIST', this.key()];
      case 19: return ['DBSIZE'];
      case 20: return ['SELECT', this.pick(['0', '0', '1', '2', '16', 'x'])];
      case 21: return ['SWAPDB', this.pick(['0', '1', '2']), this.pick(['0', '1', 'x', '20'])];
      case 22: return this.chance(20) ? ['FLUSHDB'] : ['DBSIZE'];
      case 23: return this.chance(10) ? ['FLUSHALL'] : ['EXISTS', this.key()];
      case 24: return ['DEL', this.key()];
      default: return ['TYPE', this.key()];
    }
  }

  private connectionCommand(): Command {
    switch (this.prng.nextInt(15)) {
      case 12: return ['AUTH', this.pick(['x', 'default'])];
      case 13: return ['RESET'];
      case 14: return ['COMMAND', this.pick(['INFO', 'DOCS', 'GETKEYS']), this.pick(['get', 'set', 'mset', 'nosuch']), this.key()];
      case 0: return this.chance(50) ? ['PING'] : ['PING', this.value()];
      case 1: return ['ECHO', this.value()];
      case 2: return ['CLIENT', 'SETNAME', this.pick(['n1', 'n2', '', 'bad name'])];
      case 3: return ['CLIENT', 'GETNAME'];
      case 4: return ['HELLO', this.pick(['2', '3'])];
      case 5: return [this.pick(['GET', 'SET', 'INCR', 'EXPIRE', 'MGET', 'SELECT'])];
      case 6: return ['NOSUCHCOMMAND', this.value()];
      case 7: return ['GET', this.key(), this.key()];
      case 8: return ['CLIENT', this.pick(['ID', 'INFO', 'NOPE'])];
      case 9: return ['TIME'];
      case 10: return ['WATCH', ...this.keys(1, 2)];
      default: return ['UNWATCH'];
    }
  }

  /** A transaction: MULTI, some commands, then EXEC (mostly) or DISCARD. */
  transaction(): Command[] {
    const commands: Command[] = [['MULTI']];
    const count = this.prng.nextInt(6);
    for (let index = 0; index < count; index++) commands.push(this.chance(8) ? this.pick<Command>([['MULTI'], ['WATCH', 'k0'], ['EXEC', 'x']]) : this.command());
    commands.push(this.chance(85) ? ['EXEC'] : ['DISCARD']);
    return commands;
  }

  /** A batch: a few commands, or a transaction, pipelined in one write. */
  batch(): Command[] {
    if (this.chance(20)) return this.transaction();
    return Array.from({ length: 1 + this.prng.nextInt(8) }, () => this.command());
  }
}

/** A differential case: two connections taking turns, `batches` pipelined batches in all. */
export function randomCase(seed: number, batches: number): DifferentialCase {
  const generator = new CommandGenerator(seed);
  const prng = new SeededPrng(seed ^ 0x5eed);
  const steps: Step[] = [];
  for (let index = 0; index < batches; index++) {
    steps.push({ client: prng.nextInt(4) === 0 ? 1 : 0, commands: generator.batch() });
  }
  return { name: `seed=${seed}`, clients: 2, steps };
}
