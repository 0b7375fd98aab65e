// `raftis bench` must accept a memtier_benchmark command line unchanged: the flags and their
// short forms are parsed through the real yargs builder of the command, the defaults are
// memtier's (config_init_defaults), `-n allkeys` and `--test-time` bound the run as in memtier,
// and bad input is refused with a BenchUsageError naming the flag, never a stack trace.
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { benchBuilder } from '../../src/cli/commands/bench.js';
import { BenchUsageError, resolveBenchOptions, type BenchArgs, type BenchOptions } from '../../src/bench/options.js';

function parse(argv: readonly string[]): BenchOptions {
  const args = benchBuilder(yargs([...argv]).strict().exitProcess(false).fail((message, error) => {
    throw error ?? new Error(message);
  })).parseSync() as BenchArgs;
  return resolveBenchOptions(args);
}

describe('bench options', () => {
  it("defaults to memtier's values", () => {
    const options = parse([]);
    expect(options).toMatchObject({
      server: '127.0.0.1',
      port: 6379,
      clients: 50,
      threads: 4,
      requests: 10_000,
      testTimeSeconds: 0,
      ratio: { sets: 1, gets: 10 },
      pipeline: 1,
      dataSizeBytes: 32,
      keyPrefix: 'memtier-',
      keyMinimum: 0,
      keyMaximum: 10_000_000,
      keyPattern: { set: 'R', get: 'R' },
      hideHistogram: false,
      jsonOutFile: undefined,
      clusterMode: false,
      printPercentiles: [50, 99, 99.9],
      randomSeed: 0,
      distinctClientSeed: false,
    });
  });

  it('reads the short and long forms of a memtier command line', () => {
    const options = parse([
      '-s', '10.0.0.7', '-p', '7001', '-c', '8', '-t', '2', '-n', '500', '--ratio', '1:1', '--pipeline', '16',
      '-d', '64', '--key-prefix', 'k:', '--key-minimum', '10', '--key-maximum', '99', '--key-pattern', 'P:P',
      '--hide-histogram', '--json-out-file', '/tmp/out.json', '--cluster-mode', '--distinct-client-seed',
      '--print-percentiles', '50,90,99.99',
    ]);
    expect(options).toMatchObject({
      server: '10.0.0.7',
      port: 7001,
      clients: 8,
      threads: 2,
      requests: 500,
      ratio: { sets: 1, gets: 1 },
      pipeline: 16,
      dataSizeBytes: 64,
      keyPrefix: 'k:',
      keyMinimum: 10,
      keyMaximum: 99,
      keyPattern: { set: 'P', get: 'P' },
      hideHistogram: true,
      jsonOutFile: '/tmp/out.json',
      clusterMode: true,
      distinctClientSeed: true,
      printPercentiles: [50, 90, 99.99],
    });
  });

  it('runs for --test-time seconds with no request bound unless -n is given too', () => {
    expect(parse(['--test-time', '30'])).toMatchObject({ testTimeSeconds: 30, requests: 0 });
    expect(parse(['--test-time', '30', '-n', '7'])).toMatchObject({ testTimeSeconds: 30, requests: 7 });
  });

  it('takes -n allkeys as one request per key, per client slice under P:P', () => {
    expect(parse(['-n', 'allkeys', '--key-maximum', '1000']).requests).toBe(1000);
    expect(parse(['-n', 'allkeys', '--key-maximum', '1000', '--key-pattern', 'P:P', '-c', '5', '-t', '2']).requests).toBe(101);
  });

  it.each([
    [['--ratio', '1-10'], /ratio must be SET:GET/],
    [['--ratio', '0:0'], /sends nothing/],
    [['--key-pattern', 'R:X'], /key-pattern must be/],
    [['--key-pattern', 'RR'], /key-pattern must be/],
    [['-n', '0'], /requests must be an integer/],
    [['-n', 'lots'], /requests must be a positive integer or "allkeys"/],
    [['-c', '0'], /clients must be an integer/],
    [['-t', '1.5'], /threads must be an integer/],
    [['-p', '70000'], /port must be an integer/],
    [['--pipeline', '0'], /pipeline must be an integer/],
    [['-d', '0'], /data-size must be an integer/],
    [['--key-minimum', '10', '--key-maximum', '5'], /must not be below key-minimum/],
    [['--key-stddev', '5'], /only allowed together with key-pattern set to G/],
    [['--key-pattern', 'G:G', '--key-median', '20000000'], /key-median must be between/],
    [['--print-percentiles', '50,abc'], /print-percentiles/],
  ])('refuses %j', (argv, message) => {
    expect(() => parse(argv)).toThrow(BenchUsageError);
    expect(() => parse(argv)).toThrow(message);
  });

  it('refuses flags memtier does not have (strict parsing)', () => {
    expect(() => parse(['--no-such-flag'])).toThrow(/Unknown argument/);
  });
});
