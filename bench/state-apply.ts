// Micro-benchmark: the state machine applying SET entries (StateMachine.apply), the work every
// replica does for every write, in one process with no I/O. Not a test.
//
//   npx tsx bench/state-apply.ts [--entries 400000] [--rounds 6] [--value-bytes 64] [--keys 100000] [--options]
//
// Encodes `entries` write entries of `SET key:<n> <value>` over `keys` keys (with --options,
// `SET key:<n> <value> KEEPTTL`, which takes the general path through the decoder and the SET
// handler), then applies them `rounds` times to one machine and prints the time per entry of
// each round (the first rounds include V8's warm-up).
import { parseArgs } from 'node:util';
import { StateMachine } from '../src/state/machine.js';
import { encodeWriteEntry } from '../src/state/codec.js';

const { values: flags } = parseArgs({
  options: {
    entries: { type: 'string', default: '400000' },
    rounds: { type: 'string', default: '6' },
    'value-bytes': { type: 'string', default: '64' },
    keys: { type: 'string', default: '100000' },
    options: { type: 'boolean', default: false },
  },
});

const count = Number(flags.entries);
const keys = Number(flags.keys);
const value = Buffer.alloc(Number(flags['value-bytes']), 'x');
let seed = 1;
const random = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
  return seed;
};
const entries: Buffer[] = [];
for (let i = 0; i < count; i++) {
  const key = Buffer.from(`key:${String(random() % keys).padStart(12, '0')}`);
  const argv = flags.options ? [Buffer.from('SET'), key, value, Buffer.from('KEEPTTL')] : [Buffer.from('SET'), key, value];
  entries.push(encodeWriteEntry({ timeMs: 1_700_000_000_000 + i, db: 0, argv }));
}
const machine = new StateMachine();
let index = 0;
for (let round = 1; round <= Number(flags.rounds); round++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) machine.apply(++index, entries[i]!);
  const nsPerEntry = Number(process.hrtime.bigint() - start) / count;
  process.stdout.write(`round ${round}: ${nsPerEntry.toFixed(0)} ns per entry\n`);
}
