#!/usr/bin/env node
// The `raftis` command line. Each subcommand lives in its own module under ./commands.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkHistoryCommand } from './commands/check-history.js';

await yargs(hideBin(process.argv))
  .scriptName('raftis')
  .command(checkHistoryCommand)
  .demandCommand(1, 'name a command: see --help')
  .strict()
  .help()
  .parseAsync();
