// How long a full garbage collection takes with a given number of keys in the state machine: what
// a major GC costs a node's main thread when V8's helper threads cannot do the marking for it (on
// a busy 2-core machine, during a large snapshot: docs/performance.md, tenth session). Not a
// test: it prints figures and asserts nothing.
//
//   node --expose-gc [--single-threaded-gc] --import tsx bench/gc-pause.ts [--keys 1000000] [--value-bytes 64]
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { StateMachine, encodeWriteEntry } from '../src/state/index.js';

const { values: flags } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'value-bytes': { type: 'string', default: '64' },
  },
});
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const keys = Number(flags.keys);
const value = Buffer.alloc(Number(flags['value-bytes']), 0x61);
const set = Buffer.from('SET');

const machine = new StateMachine();
for (let i = 0; i < keys; i++) {
  machine.apply(i + 1, encodeWriteEntry({ timeMs: 1_700_000_000_000, db: 0, argv: [set, Buffer.from(`key:${String(i).padStart(12, '0')}`), value] }));
}
gc();
const times: number[] = [];
for (let round = 0; round < 5; round++) {
  const started = performance.now();
  gc();
  times.push(performance.now() - started);
}
const memory = process.memoryUsage();
// Read the machine after the collections, so that it is alive during them.
const held = machine.info(Date.now()).keys;
if (held !== keys) throw new Error(`the machine holds ${held} keys, expected ${keys}`);
console.log(`${keys} keys of ${value.length} bytes: a full GC took ${times.map((ms) => ms.toFixed(0)).join(' / ')} ms; `
  + `heap used ${(memory.heapUsed / 1e6).toFixed(0)} MB, external ${(memory.external / 1e6).toFixed(0)} MB`);
