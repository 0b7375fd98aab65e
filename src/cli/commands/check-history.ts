import type { CommandModule } from 'yargs';

export const checkHistoryCommand: CommandModule = {
  command: 'check-history <file>',
  describe: 'check a history file for linearizability (not built yet)',
  handler: () => {
    process.stderr.write('check-history: not built yet\n');
    process.exitCode = 2;
  },
};
