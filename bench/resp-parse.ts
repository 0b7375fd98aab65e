// Micro-benchmark: the request parser (src/resp/request-parser.ts) against redis-parser 3 (the
// reply parser ioredis uses, which can read arrays of bulk strings) on the same pipelines, so the
// choice of a specialised parser rests on a measurement (issue 5). Both return each command's
// arguments as Buffers. Run: npx tsx bench/resp-parse.ts
import { createRequire } from 'node:module';
import { RequestParser } from '../src/resp/request-parser.js';

interface ReplyParser {
  execute(chunk: Buffer): void;
}
type ReplyParserConstructor = new (options: {
  returnReply(reply: unknown): void;
  returnError(error: unknown): void;
  returnBuffers: boolean;
}) => ReplyParser;

const require = createRequire(import.meta.url);
const RedisParser = require('redis-parser') as ReplyParserConstructor;

function encode(argv: readonly string[]): string {
  return `*${argv.length}\r\n` + argv.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('');
}

interface Workload {
  readonly name: string;
  readonly chunks: Buffer[];
  readonly commands: number;
  readonly bytes: number;
}

/** A pipeline of `count` commands cut into socket-sized chunks (64 KB, as Node reads). */
function workload(name: string, count: number, command: (index: number) => string[]): Workload {
  const wire = Buffer.from(Array.from({ length: count }, (_, index) => encode(command(index))).join(''));
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < wire.length; offset += 65536) chunks.push(wire.subarray(offset, offset + 65536));
  return { name, chunks, commands: count, bytes: wire.length };
}

function runOurs(work: Workload): number {
  const parser = new RequestParser();
  let commands = 0;
  for (const chunk of work.chunks) {
    parser.feed(chunk);
    while (parser.next() !== null) commands++;
  }
  return commands;
}

function runRedisParser(work: Workload): number {
  let commands = 0;
  const parser = new RedisParser({
    returnReply: () => {
      commands++;
    },
    returnError: (error) => {
      throw error;
    },
    returnBuffers: true,
  });
  for (const chunk of work.chunks) parser.execute(chunk);
  return commands;
}

/** Seconds per run of `work`: repeats it for at least 200 ms. */
function timeRound(run: (work: Workload) => number, work: Workload): number {
  const started = process.hrtime.bigint();
  let repetitions = 0;
  let elapsedNs = 0n;
  while (elapsedNs < 200_000_000n) {
    const parsed = run(work);
    if (parsed !== work.commands) throw new Error(`parsed ${parsed} commands of ${work.commands}`);
    repetitions++;
    elapsedNs = process.hrtime.bigint() - started;
  }
  return Number(elapsedNs) / 1e9 / repetitions;
}

/**
 * The best of 9 rounds per parser, the two parsers alternating round by round so that a busy
 * machine slows both alike.
 */
function compare(work: Workload, parsers: readonly (readonly [string, (work: Workload) => number])[]): Map<string, number> {
  for (const [, run] of parsers) for (let round = 0; round < 3; round++) run(work);
  const best = new Map<string, number>(parsers.map(([name]) => [name, Infinity]));
  for (let round = 0; round < 9; round++) {
    for (const [name, run] of parsers) best.set(name, Math.min(best.get(name)!, timeRound(run, work)));
  }
  return best;
}

const workloads = [
  workload('SET key:N value(16 B)', 100_000, (index) => ['SET', `key:${index}`, 'v'.repeat(16)]),
  workload('GET key:N', 100_000, (index) => ['GET', `key:${index}`]),
  workload('MSET 10 pairs', 20_000, (index) => ['MSET', ...Array.from({ length: 10 }, (_, pair) => [`k${index}:${pair}`, 'value'.repeat(4)]).flat()]),
  workload('SET key value(4 KB)', 10_000, (index) => ['SET', `key:${index}`, 'x'.repeat(4096)]),
];

console.log('workload'.padEnd(24), 'parser'.padEnd(14), 'Mcommands/s'.padStart(12), 'MB/s'.padStart(8));
for (const work of workloads) {
  const best = compare(work, [['raftis', runOurs], ['redis-parser', runRedisParser]]);
  for (const [name, seconds] of best) {
    console.log(work.name.padEnd(24), name.padEnd(14), (work.commands / seconds / 1e6).toFixed(2).padStart(12), (work.bytes / seconds / 1e6).toFixed(0).padStart(8));
  }
}
