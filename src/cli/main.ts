#!/usr/bin/env node
// The `raftis` command line. Each subcommand lives in its own module under ./commands.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { benchCommand } from './commands/bench.js';
import { checkHistoryCommand } from './commands/check-history.js';
import { clusterCommand } from './commands/cluster.js';
import { serverCommand } from './commands/server.js';

await yargs(hideBin(process.argv))
  .scriptName('raftis')
  .command(serverCommand)
  .command(clusterCommand)
  .command(checkHistoryCommand)
  .command(benchCommand)
  .demandCommand(1, 'name a command: see --help')
  .strict()
  .help()
  .parseAsync();
