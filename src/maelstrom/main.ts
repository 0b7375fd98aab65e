// A stand-alone entry for the Maelstrom node: the same yargs command module as
// `raftis maelstrom`, as the default command, so the tests (and a Maelstrom `--bin` wrapper
// script) can run `node --import tsx src/maelstrom/main.ts [options]` without the full CLI.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { maelstromCommand } from '../cli/commands/maelstrom.js';

await yargs(hideBin(process.argv))
  .scriptName('raftis-maelstrom')
  .command({ ...maelstromCommand, command: '$0' })
  .strict()
  .help()
  .parseAsync();
