// Micro-benchmarks of per-request and per-entry paths, in one process with no I/O. Not a test.
//
//   npx tsx bench/hot-paths.ts [--src src] [--rounds 5]
//
// Prints, per round, the time of:
//   resolve    resolveCommand on GET, SET, get and MGET requests, per call;
//   encode     an append of 200 entries of 95 bytes encoded for two followers (fresh entry
//              objects each time, shared by the two messages, as a leader sends them), per entry;
//   decode     the same append frame decoded, per entry;
//   snapshot   a keyspace of 300,000 keys with 64-byte values (--value-bytes) serialized in 1 MiB chunks, per key.
// --src points at another source tree (a checkout of an older commit) for a before/after; run the
// two alternately, as the machine's load moves every figure. docs/performance.md quotes it.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values: flags } = parseArgs({
  options: {
    src: { type: 'string', default: path.resolve(import.meta.dirname, '../src') },
    rounds: { type: 'string', default: '5' },
    'value-bytes': { type: 'string', default: '64' },
  },
});
const src = path.resolve(flags.src);
const load = (file: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.join(src, file)).href);

type Argv = Buffer[];
type Entry = { term: number; index: number; kind: 'normal'; data: Buffer };
const { resolveCommand } = (await load('commands/table.ts')) as { resolveCommand(argv: Argv): { ok: boolean } };
const { encodeMessage, decodeFrame } = (await load('transport/codec.ts')) as {
  encodeMessage(message: object): Buffer;
  decodeFrame(frame: Buffer): { message: { entries: Entry[] } };
};
const { StateMachine } = (await load('state/machine.ts')) as { StateMachine: new () => {
  apply(index: number, data: Uint8Array): unknown;
  beginSnapshot(): { nextChunkReusingBuffer(maxBytes: number): Buffer | null };
} };
const { encodeWriteEntry } = (await load('state/codec.ts')) as { encodeWriteEntry(entry: { timeMs: number; db: number; argv: Argv }): Uint8Array };

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

function timeNs(count: number, run: () => void): number {
  const started = performance.now();
  run();
  return ((performance.now() - started) * 1e6) / count;
}

const requests: Argv[] = [[b('GET'), b('key:000000012345')], [b('SET'), b('key:000000012345'), b('v')], [b('get'), b('k')], [b('MGET'), b('a'), b('b')]];
function resolve(): number {
  const calls = 2_000_000;
  let ok = 0;
  const ns = timeNs(calls, () => {
    for (let i = 0; i < calls; i++) if (resolveCommand(requests[i & 3]!).ok) ok++;
  });
  if (ok !== calls) throw new Error('a request did not resolve');
  return ns;
}

const ENTRIES = 200;
const data = Buffer.alloc(95, 1);
const append = (to: number, entries: Entry[]): object => ({ type: 'append', group: 0, from: 1, to, term: 3, prevIndex: entries[0]!.index - 1, prevTerm: 3, commit: 1, entries });
function encode(): number {
  const messages = 2000;
  let total = 0;
  for (let m = 0; m < messages; m++) {
    const entries = Array.from({ length: ENTRIES }, (_, k): Entry => ({ term: 3, index: 1 + m * ENTRIES + k, kind: 'normal', data }));
    total += timeNs(1, () => {
      encodeMessage(append(2, entries));
      encodeMessage(append(3, entries));
    });
  }
  return total / (messages * ENTRIES);
}

const frame = encodeMessage(append(2, Array.from({ length: ENTRIES }, (_, k): Entry => ({ term: 3, index: 1 + k, kind: 'normal', data }))));
function decode(): number {
  const frames = 5000;
  let entries = 0;
  const ns = timeNs(frames * ENTRIES, () => {
    for (let i = 0; i < frames; i++) entries += decodeFrame(frame).message.entries.length;
  });
  if (entries !== frames * ENTRIES) throw new Error('decoded the wrong number of entries');
  return ns;
}

const KEYS = 300_000;
const VALUE_BYTES = Number(flags['value-bytes']);
const machine = new StateMachine();
for (let i = 0; i < KEYS; i++) {
  const argv = [b('SET'), b(`key:${String(i).padStart(12, '0')}`), Buffer.alloc(VALUE_BYTES, 0x61 + (i % 26))];
  machine.apply(i + 1, encodeWriteEntry({ timeMs: 1_700_000_000_000, db: 0, argv }));
}
function snapshot(): number {
  let bytes = 0;
  const ns = timeNs(KEYS, () => {
    const writer = machine.beginSnapshot();
    for (let chunk = writer.nextChunkReusingBuffer(1 << 20); chunk !== null; chunk = writer.nextChunkReusingBuffer(1 << 20)) bytes += chunk.length;
  });
  if (bytes < KEYS * VALUE_BYTES) throw new Error(`a snapshot of ${bytes} bytes is too short`);
  return ns;
}

console.log(`source tree ${src}`);
for (let round = 1; round <= Number(flags.rounds); round++) {
  console.log(`round ${round}: resolve ${resolve().toFixed(0)} ns/call | encode ${encode().toFixed(0)} ns/entry (two followers) | `
    + `decode ${decode().toFixed(0)} ns/entry | snapshot ${snapshot().toFixed(0)} ns/key`);
}
