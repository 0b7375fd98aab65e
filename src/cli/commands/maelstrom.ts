// `raftis maelstrom`: one node of a Maelstrom lin-kv test (see docs/maelstrom.md). It reads
// Maelstrom's JSON messages on stdin and writes its own on stdout; logs go to stderr.
import { randomInt } from 'node:crypto';
import type { Argv, CommandModule } from 'yargs';
import { defaultRunMaelstromOptions, runMaelstrom, type RunMaelstromOptions } from '../../maelstrom/run.js';

interface MaelstromArgs {
  'tick-ms': number;
  'election-ticks': number;
  'heartbeat-ticks': number;
  'request-timeout-ms': number;
  'compact-every': number;
  seed: number | undefined;
}

const defaults = defaultRunMaelstromOptions;

export const maelstromCommand: CommandModule<object, MaelstromArgs> = {
  command: 'maelstrom',
  describe: 'run one Maelstrom lin-kv node: JSON messages on stdin and stdout, logs on stderr',
  builder: (yargs: Argv) =>
    yargs
      .option('tick-ms', { type: 'number', default: defaults.tickMs, describe: 'milliseconds per Raft tick' })
      .option('election-ticks', { type: 'number', default: defaults.electionTicks, describe: 'election timeout in ticks (randomized up to twice that)' })
      .option('heartbeat-ticks', { type: 'number', default: defaults.heartbeatTicks, describe: 'ticks between leader heartbeats' })
      .option('request-timeout-ms', {
        type: 'number',
        default: defaults.requestTimeoutMs,
        describe: 'how long a request may wait for a leader, a commit or a read confirmation before an error answer',
      })
      .option('compact-every', { type: 'number', default: defaults.compactEveryEntries, describe: 'compact the log every this many applied entries (0: never)' })
      .option('seed', { type: 'number', describe: 'seed for election timeouts (default: random)' })
      .check((argv) => {
        const positive = ['tick-ms', 'election-ticks', 'heartbeat-ticks', 'request-timeout-ms'] as const;
        for (const name of positive) {
          const value = argv[name];
          if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
        }
        if (argv['election-ticks'] <= argv['heartbeat-ticks']) {
          throw new Error(`--election-ticks (${argv['election-ticks']}) must exceed --heartbeat-ticks (${argv['heartbeat-ticks']})`);
        }
        if (!Number.isInteger(argv['compact-every']) || argv['compact-every'] < 0) {
          throw new Error(`--compact-every must be an integer >= 0, got ${argv['compact-every']}`);
        }
        if (argv.seed !== undefined && !Number.isInteger(argv.seed)) throw new Error(`--seed must be an integer, got ${argv.seed}`);
        return true;
      }),
  handler: async (argv) => {
    const options: RunMaelstromOptions = {
      ...defaults,
      tickMs: argv['tick-ms'],
      electionTicks: argv['election-ticks'],
      heartbeatTicks: argv['heartbeat-ticks'],
      requestTimeoutMs: argv['request-timeout-ms'],
      compactEveryEntries: argv['compact-every'],
      seed: argv.seed ?? randomInt(0x1_0000_0000 - 1),
    };
    await runMaelstrom(options);
  },
};
