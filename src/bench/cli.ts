#!/usr/bin/env node
// A stand-alone entry for `bench` alone, with exactly the command module src/cli/main.ts
// registers, so that the benchmark runs (and is tested) through yargs as users run it:
//   node --import tsx src/bench/cli.ts bench -s 127.0.0.1 -p 6379 ...
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { benchCommand } from '../cli/commands/bench.js';

await yargs(hideBin(process.argv))
  .scriptName('raftis')
  .command(benchCommand)
  .demandCommand(1, 'name a command: see --help')
  .strict()
  .help()
  .parseAsync();
