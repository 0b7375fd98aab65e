#!/usr/bin/env node
// The `raftis` command line. Each subcommand lives in its own module under ./commands.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { benchCommand } from './commands/bench.js';
import { checkHistoryCommand } from './commands/check-history.js';
import { cliCommand } from './commands/cli.js';
import { clusterCommand } from './commands/cluster.js';
import { maelstromCommand } from './commands/maelstrom.js';
import { serverCommand } from './commands/server.js';
import { statusCommand } from './commands/status.js';

await yargs(hideBin(process.argv))
  .scriptName('raftis')
  .command(serverCommand)
  .command(clusterCommand)
  .command(statusCommand)
  .command(cliCommand)
  .command(checkHistoryCommand)
  .command(benchCommand)
  .command(maelstromCommand)
  .demandCommand(1, 'name a command: see --help')
  .strict()
  .help()
  .parseAsync();
