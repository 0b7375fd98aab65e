// `raftis bench`: a memtier_benchmark-compatible load generator (see docs/benchmark.md). The
// flags are memtier's, with memtier's defaults; the work happens in src/bench.
import type { Argv, CommandModule } from 'yargs';
import { BenchUsageError, DEFAULTS, resolveBenchOptions, type BenchArgs } from '../../bench/options.js';
import { runBench } from '../../bench/runner.js';

/** Declares memtier's options on a yargs instance. */
export function benchBuilder(yargs: Argv): Argv<BenchArgs> {
  return yargs
    .usage('$0 bench [options]\n\nmemtier_benchmark-compatible load generator: SET/GET over raw RESP, latency in HDR histograms.')
    .option('server', { alias: 's', type: 'string', default: DEFAULTS.server, describe: 'server address' })
    .option('port', { alias: 'p', type: 'number', default: DEFAULTS.port, describe: 'server port' })
    .option('clients', { alias: 'c', type: 'number', default: DEFAULTS.clients, describe: 'connections per thread' })
    .option('threads', { alias: 't', type: 'number', default: DEFAULTS.threads, describe: 'worker threads' })
    .option('requests', {
      alias: 'n',
      type: 'string',
      describe: `requests per client (default ${DEFAULTS.requests}), or "allkeys" for one per key of the range`,
    })
    .option('test-time', { type: 'number', describe: 'run for this many seconds instead of a request count' })
    .option('ratio', { type: 'string', default: DEFAULTS.ratio, describe: 'SET:GET ratio' })
    .option('pipeline', { type: 'number', default: DEFAULTS.pipeline, describe: 'requests outstanding per connection' })
    .option('data-size', { alias: 'd', type: 'number', default: DEFAULTS.dataSize, describe: 'value size in bytes' })
    .option('key-prefix', { type: 'string', default: DEFAULTS.keyPrefix, describe: 'prefix of every key' })
    .option('key-minimum', { type: 'number', default: DEFAULTS.keyMinimum, describe: 'smallest key index' })
    .option('key-maximum', { type: 'number', default: DEFAULTS.keyMaximum, describe: 'largest key index' })
    .option('key-pattern', {
      type: 'string',
      default: DEFAULTS.keyPattern,
      describe: 'SET:GET key patterns: R random, S sequential, G gaussian, P parallel (sequential over a slice per client)',
    })
    .option('key-stddev', { type: 'number', describe: 'standard deviation of G (default (max-min)/6)' })
    .option('key-median', { type: 'number', describe: 'median of G (default the middle of the range)' })
    .option('hide-histogram', { type: 'boolean', default: false, describe: 'do not print the latency distribution' })
    .option('print-percentiles', { type: 'string', default: DEFAULTS.printPercentiles, describe: 'percentiles to report' })
    .option('json-out-file', { type: 'string', describe: 'also write the results as memtier JSON to this file' })
    .option('cluster-mode', { type: 'boolean', default: false, describe: 'route by CLUSTER SLOTS and follow -MOVED' })
    .option('distinct-client-seed', { type: 'boolean', default: false, describe: 'give every client its own random seed' })
    .option('randomize', { type: 'boolean', default: false, describe: 'seed from the clock instead of a fixed seed' }) as unknown as Argv<BenchArgs>;
}

/** Runs the benchmark for parsed arguments; usage errors print as `error: ...` with exit code 1. */
export async function benchHandler(args: BenchArgs): Promise<void> {
  try {
    await runBench(resolveBenchOptions(args));
  } catch (error) {
    if (error instanceof BenchUsageError || (error instanceof Error && 'code' in error)) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: 'memtier_benchmark-compatible load generator (SET/GET, HDR latency, ALL STATS table)',
  builder: benchBuilder,
  handler: benchHandler,
};
