// `raftis check-history`: reads a recorded history and says whether it is linearizable.
//
// The last line of standard output is the verdict, exactly `linearizable` (exit 0) or
// `not linearizable` (exit 1), so scripts can `tail -n 1`. A history that cannot be read, a
// usage error, or a search that runs out of time exits 2 with the reason on standard error
// (and `unknown` as the last line when the search gave up).

import { readFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import {
  checkHistory,
  describeKvOperation,
  HistoryError,
  historyFormats,
  models,
  type CheckResult,
  type HistoryFormat,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type ModelName,
} from '../../check/index.js';

const exitLinearizable = 0;
const exitNotLinearizable = 1;
const exitNoVerdict = 2;
/** How much of the deepest linearization a counterexample shows. */
const counterexampleTailOperations = 20;

interface CheckHistoryArgs {
  file: string;
  model: ModelName;
  format: HistoryFormat;
  timeout: number;
}

export const checkHistoryCommand: CommandModule<object, CheckHistoryArgs> = {
  command: 'check-history <file>',
  describe: 'check a recorded history for linearizability',
  builder: (yargs: Argv) =>
    yargs
      .positional('file', { type: 'string', demandOption: true, describe: 'the history file' })
      .option('model', { choices: Object.keys(models) as ModelName[], demandOption: true, describe: 'the sequential specification' })
      .option('format', { choices: historyFormats, default: 'json' as HistoryFormat, describe: 'how the file is written (see docs/linearizability.md)' })
      .option('timeout', { type: 'number', default: 60, describe: 'seconds to search before giving up (0: no limit)' })
      .check((argv) => {
        if (!Number.isFinite(argv.timeout) || argv.timeout < 0) throw new Error(`--timeout must be a number of seconds >= 0, got ${argv.timeout}`);
        return true;
      })
      .fail((message, error) => {
        // Usage errors exit 2, keeping 1 for "not linearizable".
        process.stderr.write(`check-history: ${message ?? error?.message ?? 'bad usage'}\nsee: raftis check-history --help\n`);
        process.exit(exitNoVerdict);
      }),
  handler: async (argv) => {
    process.exitCode = await runCheckHistory(argv);
  },
};

async function runCheckHistory(args: CheckHistoryArgs): Promise<number> {
  let text: string;
  try {
    text = await readFile(args.file, 'utf8');
  } catch (error) {
    process.stderr.write(`check-history: cannot read ${args.file}: ${(error as Error).message}\n`);
    return exitNoVerdict;
  }
  let result: CheckResult<KvInput, KvOutput>;
  try {
    result = checkHistory(text, args.format, args.model, args.timeout > 0 ? { timeoutMs: args.timeout * 1000 } : {});
  } catch (error) {
    if (!(error instanceof HistoryError)) throw error;
    process.stderr.write(`check-history: ${args.file} (${args.format}): ${error.message}\n`);
    return exitNoVerdict;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`${args.file}: ${result.operationCount} operations in ${result.partitionCount} ${result.partitionCount === 1 ? 'partition' : 'partitions'}, model ${args.model}, format ${args.format}`);
  out(`search: ${result.steps} steps in ${result.elapsedMs.toFixed(0)} ms`);
  switch (result.result) {
    case 'linearizable':
      out('linearizable');
      return exitLinearizable;
    case 'not-linearizable': {
      const { linearized, state, stuck } = result.counterexample;
      out(`key ${JSON.stringify(result.key)} has no linearization.`);
      out(`the deepest the search got was ${linearized.length} operations, ending with:`);
      const shown = linearized.slice(-counterexampleTailOperations);
      if (shown.length < linearized.length) out(`  ... ${linearized.length - shown.length} earlier operations`);
      for (const op of shown) out(`  ${describe(op)}`);
      out(`  (state then: ${state})`);
      out('after which this operation returned before it could be placed:');
      out(`  ${describe(stuck)}`);
      out('not linearizable');
      return exitNotLinearizable;
    }
    case 'unknown': {
      const why = result.reason === 'timeout' ? `the ${args.timeout} s timeout` : 'the step budget';
      process.stderr.write(`check-history: no verdict: ${why} ran out while searching key ${JSON.stringify(result.key)}; try a larger --timeout\n`);
      out('unknown');
      return exitNoVerdict;
    }
    default:
      return assertNever(result);
  }
}

function describe(op: KvOperation): string {
  const returned = op.return === Infinity ? 'never returned' : `returned t=${op.return}`;
  return `process ${op.clientId}: ${describeKvOperation(op.input, op.output)} (called t=${op.call}, ${returned})`;
}

function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
