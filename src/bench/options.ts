// The options of `raftis bench`, spelled and defaulted as memtier_benchmark spells and defaults
// them (memtier_benchmark.cpp, config_init_defaults), so that a command line written for
// memtier runs unchanged against raftis. This module turns the parsed command line into a
// validated, immutable BenchOptions; it never touches a socket.

/** A key pattern letter, as memtier defines them. */
export type KeyPatternLetter = 'R' | 'S' | 'G' | 'P';

export interface KeyPattern {
  /** How SET keys are chosen. `P` also narrows every key choice of a client to its own slice. */
  readonly set: KeyPatternLetter;
  readonly get: KeyPatternLetter;
}

export interface Ratio {
  readonly sets: number;
  readonly gets: number;
}

export interface BenchOptions {
  readonly server: string;
  readonly port: number;
  /** Connections per thread. */
  readonly clients: number;
  readonly threads: number;
  /** Requests per client; 0 when the run is bounded by `testTimeSeconds` alone. */
  readonly requests: number;
  /** 0 when the run is bounded by `requests` alone. */
  readonly testTimeSeconds: number;
  readonly ratio: Ratio;
  /** Requests kept outstanding on each connection. */
  readonly pipeline: number;
  readonly dataSizeBytes: number;
  readonly keyPrefix: string;
  readonly keyMinimum: number;
  readonly keyMaximum: number;
  readonly keyPattern: KeyPattern;
  /** Standard deviation of the G pattern; 0 means memtier's default, (max - min) / 6. */
  readonly keyStddev: number;
  /** Median of the G pattern; 0 means memtier's default, the middle of the range. */
  readonly keyMedian: number;
  readonly hideHistogram: boolean;
  readonly jsonOutFile: string | undefined;
  readonly clusterMode: boolean;
  /** Percentiles shown as table columns and in the JSON, as `--print-percentiles` gives them. */
  readonly printPercentiles: readonly number[];
  /** Seed of every client's generator; memtier seeds all clients alike unless told otherwise. */
  readonly randomSeed: number;
  readonly distinctClientSeed: boolean;
}

/** Bad command-line input: reported as `error: ...` and exit code 1, never as a stack trace. */
export class BenchUsageError extends Error {
  readonly code = 'EBENCHUSAGE';
  constructor(message: string) {
    super(message);
    this.name = 'BenchUsageError';
  }
}

/** The command line as yargs hands it over, before validation. */
export interface BenchArgs {
  readonly server?: string;
  readonly port?: number;
  readonly clients?: number;
  readonly threads?: number;
  readonly requests?: string | number;
  readonly testTime?: number;
  readonly ratio?: string;
  readonly pipeline?: number;
  readonly dataSize?: number;
  readonly keyPrefix?: string;
  readonly keyMinimum?: number;
  readonly keyMaximum?: number;
  readonly keyPattern?: string;
  readonly keyStddev?: number;
  readonly keyMedian?: number;
  readonly hideHistogram?: boolean;
  readonly jsonOutFile?: string;
  readonly clusterMode?: boolean;
  readonly printPercentiles?: string;
  readonly randomize?: boolean;
  readonly distinctClientSeed?: boolean;
}

export const DEFAULTS = {
  server: '127.0.0.1',
  port: 6379,
  clients: 50,
  threads: 4,
  requests: 10_000,
  ratio: '1:10',
  pipeline: 1,
  dataSize: 32,
  keyPrefix: 'memtier-',
  keyMinimum: 0,
  keyMaximum: 10_000_000,
  keyPattern: 'R:R',
  printPercentiles: '50,99,99.9',
} as const;

/** Upper bounds that keep one run's memory and file descriptors finite. */
export const LIMITS = {
  clientsPerThread: 10_000,
  threads: 256,
  pipeline: 100_000,
  dataSizeBytes: 512 * 1024 * 1024,
} as const;

export function parseRatio(text: string): Ratio {
  const match = /^(\d+):(\d+)$/.exec(text);
  if (match === null) throw new BenchUsageError(`ratio must be SET:GET, two integers such as 1:10, not "${text}"`);
  const sets = Number(match[1]);
  const gets = Number(match[2]);
  if (sets === 0 && gets === 0) throw new BenchUsageError('ratio 0:0 sends nothing: at least one side must be positive');
  return { sets, gets };
}

export function parseKeyPattern(text: string): KeyPattern {
  const match = /^([RSGP]):([RSGP])$/.exec(text);
  if (match === null) {
    throw new BenchUsageError(`key-pattern must be SET:GET with each side one of R, S, G, P, not "${text}"`);
  }
  return { set: match[1] as KeyPatternLetter, get: match[2] as KeyPatternLetter };
}

export function parsePercentiles(text: string): number[] {
  const parts = text.split(',');
  const result: number[] = [];
  for (const part of parts) {
    const value = Number(part);
    if (part.trim() === '' || !Number.isFinite(value) || value < 0 || value > 100) {
      throw new BenchUsageError(`print-percentiles must be numbers in [0, 100] separated by commas, not "${text}"`);
    }
    result.push(value);
  }
  return result;
}

function integerIn(name: string, value: number, minimum: number, maximum: number): number {
  if (!Number.isSafeInteger(value) || value < minimum || value > maximum) {
    throw new BenchUsageError(`${name} must be an integer in [${minimum}, ${maximum}], not ${String(value)}`);
  }
  return value;
}

/**
 * Validates the command line and applies memtier's defaults. `-n allkeys` means one request per
 * key of the range (per client's slice under P:P), as in memtier.
 */
export function resolveBenchOptions(args: BenchArgs): BenchOptions {
  const server = args.server ?? DEFAULTS.server;
  if (server === '') throw new BenchUsageError('server must not be empty');
  const port = integerIn('port', args.port ?? DEFAULTS.port, 1, 65_535);
  const clients = integerIn('clients', args.clients ?? DEFAULTS.clients, 1, LIMITS.clientsPerThread);
  const threads = integerIn('threads', args.threads ?? DEFAULTS.threads, 1, LIMITS.threads);
  const pipeline = integerIn('pipeline', args.pipeline ?? DEFAULTS.pipeline, 1, LIMITS.pipeline);
  const dataSizeBytes = integerIn('data-size', args.dataSize ?? DEFAULTS.dataSize, 1, LIMITS.dataSizeBytes);
  const keyMinimum = integerIn('key-minimum', args.keyMinimum ?? DEFAULTS.keyMinimum, 0, Number.MAX_SAFE_INTEGER);
  const keyMaximum = integerIn('key-maximum', args.keyMaximum ?? DEFAULTS.keyMaximum, 0, Number.MAX_SAFE_INTEGER);
  if (keyMaximum < keyMinimum) {
    throw new BenchUsageError(`key-maximum (${keyMaximum}) must not be below key-minimum (${keyMinimum})`);
  }
  const keyPatternText = args.keyPattern ?? DEFAULTS.keyPattern;
  const keyPattern = parseKeyPattern(keyPatternText);
  const keyStddev = args.keyStddev ?? 0;
  const keyMedian = args.keyMedian ?? 0;
  if (!Number.isFinite(keyStddev) || keyStddev < 0) throw new BenchUsageError('key-stddev must be a non-negative number');
  if (!Number.isFinite(keyMedian) || keyMedian < 0) throw new BenchUsageError('key-median must be a non-negative number');
  if ((keyStddev > 0 || keyMedian > 0) && keyPattern.set !== 'G' && keyPattern.get !== 'G') {
    throw new BenchUsageError('key-stddev and key-median are only allowed together with key-pattern set to G');
  }
  if (keyMedian !== 0 && (keyMedian < keyMinimum || keyMedian > keyMaximum)) {
    throw new BenchUsageError('key-median must be between key-minimum and key-maximum');
  }

  const testTimeSeconds = integerIn('test-time', args.testTime ?? 0, 0, 365 * 24 * 3600);
  let requests: number;
  if (args.requests === undefined) {
    requests = testTimeSeconds > 0 ? 0 : DEFAULTS.requests;
  } else if (args.requests === 'allkeys') {
    requests = keyMaximum - keyMinimum;
    if (keyPatternText === 'P:P') requests = Math.floor(requests / (clients * threads)) + 1;
  } else {
    const text = String(args.requests);
    if (!/^\d+$/.test(text)) throw new BenchUsageError(`requests must be a positive integer or "allkeys", not "${text}"`);
    requests = integerIn('requests', Number(text), 1, Number.MAX_SAFE_INTEGER);
  }

  const jsonOutFile = args.jsonOutFile === undefined || args.jsonOutFile === '' ? undefined : args.jsonOutFile;
  return {
    server,
    port,
    clients,
    threads,
    requests,
    testTimeSeconds,
    ratio: parseRatio(args.ratio ?? DEFAULTS.ratio),
    pipeline,
    dataSizeBytes,
    keyPrefix: args.keyPrefix ?? DEFAULTS.keyPrefix,
    keyMinimum,
    keyMaximum,
    keyPattern,
    keyStddev,
    keyMedian,
    hideHistogram: args.hideHistogram ?? false,
    jsonOutFile,
    clusterMode: args.clusterMode ?? false,
    printPercentiles: parsePercentiles(args.printPercentiles ?? DEFAULTS.printPercentiles),
    // memtier's --randomize seeds from the clock; without it every run repeats its keys.
    randomSeed: args.randomize === true ? (Date.now() ^ (process.pid << 8)) >>> 0 : 0,
    distinctClientSeed: args.distinctClientSeed ?? false,
  };
}

/** `SET:GET` back to text, for reports. */
export function formatKeyPattern(pattern: KeyPattern): string {
  return `${pattern.set}:${pattern.get}`;
}
