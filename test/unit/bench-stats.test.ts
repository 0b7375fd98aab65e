// The printed results of `raftis bench` against memtier_benchmark's own output: the ALL STATS
// table is compared character for character with lines memtier 2.x printed (copied from a
// published run), the progress line likewise, and the numbers behind them (ops/sec, hits,
// misses, KB/sec, mean and percentiles from HDR histograms) are checked on a hand-built result
// whose right answers are known. The JSON document is checked for memtier's key names.
import { describe, expect, it } from 'vitest';
import { parseKeyPattern, type BenchOptions } from '../../src/bench/options.js';
import { mergeOutputs } from '../../src/bench/runner.js';
import {
  createLatencyHistogram,
  emptyCounters,
  encodeHistogram,
  formatLatencyDistribution,
  formatProgressLine,
  formatRunInformation,
  formatSize,
  formatStatsTable,
  latencyDistribution,
  percentileLabel,
  summarize,
  toMemtierJson,
  type BenchResult,
  type CommandCounters,
  type StatsRow,
} from '../../src/bench/stats.js';

const PERCENTILES = [50, 99, 99.9];

function options(overrides: Partial<BenchOptions> = {}): BenchOptions {
  return {
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
    keyPattern: parseKeyPattern('R:R'),
    keyStddev: 0,
    keyMedian: 0,
    hideHistogram: false,
    jsonOutFile: undefined,
    clusterMode: false,
    printPercentiles: PERCENTILES,
    randomSeed: 0,
    distinctClientSeed: false,
    ...overrides,
  };
}

function counters(values: Partial<CommandCounters>): CommandCounters {
  return { ...emptyCounters(), ...values };
}

/** 1000 SETs at 100..1099 us and 3000 GETs (1000 hits) at 200 us, over exactly 2 seconds. */
function knownResult(): BenchResult {
  const setHistogram = createLatencyHistogram();
  for (let i = 0; i < 1_000; i++) setHistogram.recordValue(100 + i);
  const getHistogram = createLatencyHistogram();
  getHistogram.recordValueWithCount(200, 3_000);
  return {
    sets: { counters: counters({ ops: 1_000, bytes: 1_000 * 1024 }), histogram: setHistogram },
    gets: { counters: counters({ ops: 3_000, bytes: 3_000 * 512, hits: 1_000, misses: 2_000 }), histogram: getHistogram },
    waits: { counters: emptyCounters(), histogram: createLatencyHistogram() },
    startMs: 1_700_000_000_000,
    endMs: 1_700_000_002_000,
  };
}

describe('formatStatsTable', () => {
  // A memtier_benchmark 2.x run (24 threads, 50 connections, ratio 1:1), as it printed it.
  const memtier = [
    '============================================================================================================================',
    'Type         Ops/sec     Hits/sec   Misses/sec    Avg. Latency     p50 Latency     p99 Latency   p99.9 Latency       KB/sec ',
    '----------------------------------------------------------------------------------------------------------------------------',
    'Sets       310539.18          ---          ---         2.04382         1.67100         8.95900        18.17500     92156.88 ',
    'Gets       310539.18         0.00    310539.18         1.94245         1.55100         8.83100        17.79100     12309.13 ',
    'Waits           0.00          ---          ---             ---             ---             ---             ---          --- ',
  ];

  it("reproduces memtier's layout character for character", () => {
    const rows: StatsRow[] = [
      { type: 'Sets', opsPerSec: 310539.18, hitsPerSec: undefined, missesPerSec: undefined, movedPerSec: 0, askPerSec: 0, avgLatencyMs: 2.04382, percentileLatencyMs: [1.671, 8.959, 18.175], kbPerSec: 92156.88 },
      { type: 'Gets', opsPerSec: 310539.18, hitsPerSec: 0, missesPerSec: 310539.18, movedPerSec: 0, askPerSec: 0, avgLatencyMs: 1.94245, percentileLatencyMs: [1.551, 8.831, 17.791], kbPerSec: 12309.13 },
      { type: 'Waits', opsPerSec: 0, hitsPerSec: undefined, missesPerSec: undefined, movedPerSec: undefined, askPerSec: undefined, avgLatencyMs: undefined, percentileLatencyMs: [undefined, undefined, undefined], kbPerSec: undefined },
    ];
    const text = formatStatsTable(rows, { title: 'ALL STATS', clusterMode: false, percentiles: PERCENTILES });
    expect(text.split('\n')).toEqual(['', '', 'ALL STATS', ...memtier, '']);
  });

  it('adds MOVED/sec and ASK/sec columns in cluster mode, as memtier does', () => {
    const rows = summarize(knownResult(), PERCENTILES);
    const header = formatStatsTable(rows, { title: 'ALL STATS', clusterMode: true, percentiles: PERCENTILES }).split('\n')[4];
    expect(header).toBe(
      'Type         Ops/sec     Hits/sec   Misses/sec    MOVED/sec      ASK/sec    Avg. Latency     p50 Latency     p99 Latency   p99.9 Latency       KB/sec ',
    );
  });
});

describe('summarize', () => {
  it('turns counters and histograms into per-second rates and HDR latencies', () => {
    const [sets, gets, waits, totals] = summarize(knownResult(), PERCENTILES) as [StatsRow, StatsRow, StatsRow, StatsRow];
    expect(sets.opsPerSec).toBeCloseTo(500, 6);
    expect(sets.hitsPerSec).toBeUndefined();
    expect(sets.kbPerSec).toBeCloseTo(500, 6);
    // Mean of 100..1099 us is 599.5 us; HDR with 3 significant digits keeps it within 0.1%.
    expect(sets.avgLatencyMs).toBeCloseTo(0.5995, 3);
    expect(sets.percentileLatencyMs[0]).toBeCloseTo(0.599, 3);
    expect(sets.percentileLatencyMs[1]).toBeCloseTo(1.089, 3);
    expect(gets.opsPerSec).toBeCloseTo(1_500, 6);
    expect(gets.hitsPerSec).toBeCloseTo(500, 6);
    expect(gets.missesPerSec).toBeCloseTo(1_000, 6);
    expect(gets.kbPerSec).toBeCloseTo(750, 6);
    expect(gets.percentileLatencyMs).toEqual([0.2, 0.2, 0.2]);
    expect(waits.opsPerSec).toBe(0);
    expect(waits.avgLatencyMs).toBeUndefined();
    expect(waits.kbPerSec).toBeUndefined();
    expect(totals.opsPerSec).toBeCloseTo(2_000, 6);
    expect(totals.hitsPerSec).toBeCloseTo(500, 6);
    expect(totals.kbPerSec).toBeCloseTo(1_250, 6);
    expect(totals.avgLatencyMs).toBeCloseTo((599.5 * 1_000 + 200 * 3_000) / 4_000 / 1000, 3);
  });

  it('prints --- for the latencies of a command that was never sent', () => {
    const result = knownResult();
    const noSets: BenchResult = { ...result, sets: { counters: emptyCounters(), histogram: createLatencyHistogram() } };
    const [sets] = summarize(noSets, PERCENTILES);
    expect(sets?.opsPerSec).toBe(0);
    expect(sets?.avgLatencyMs).toBeUndefined();
    const line = formatStatsTable(summarize(noSets, PERCENTILES), { title: 'ALL STATS', clusterMode: false, percentiles: PERCENTILES }).split('\n')[6];
    expect(line).toBe('Sets            0.00          ---          ---             ---             ---             ---             ---         0.00 ');
  });
});

describe('percentileLabel', () => {
  it.each([
    [50, 'p50 Latency'],
    [99, 'p99 Latency'],
    [99.9, 'p99.9 Latency'],
    // memtier counts digits on the binary fraction (0.98999...), so 99.99 gets three of them.
    [99.99, 'p99.990 Latency'],
    [99.999, 'p99.999 Latency'],
    [0.5, 'p0.5 Latency'],
  ])('%d -> %s', (percentile, label) => {
    expect(percentileLabel(percentile)).toBe(label);
  });
});

describe('formatProgressLine', () => {
  it("matches memtier's progress line", () => {
    const line = formatProgressLine({
      runId: 1,
      progressPercent: 100,
      elapsedSeconds: 199.7,
      activeThreads: 0,
      totalOps: 120_000_000,
      currentOpsPerSec: 2_059_627.4,
      averageOpsPerSec: 601_850.9,
      currentBytesPerSec: 338.97 * 1024 * 1024,
      averageBytesPerSec: 98.86 * 1024 * 1024,
      currentLatencyMs: 0.58,
      averageLatencyMs: 1.99,
    });
    expect(line).toBe(
      '[RUN #1 100%, 199 secs]  0 threads:   120000000 ops, 2059627 (avg:  601850) ops/sec, 338.97MB/sec (avg: 98.86MB/sec),  0.58 (avg:  1.99) msec latency',
    );
  });

  it('sizes bytes as memtier does', () => {
    expect(formatSize(512)).toBe('0.50KB');
    expect(formatSize(3 * 1024 * 1024)).toBe('3.00MB');
    expect(formatSize(5 * 1024 * 1024 * 1024)).toBe('5.00GB');
  });
});

describe('formatRunInformation', () => {
  it('names the bound of the run, requests or seconds', () => {
    expect(formatRunInformation(options())).toBe('4         Threads\n50        Connections per thread\n10000     Requests per client\n');
    expect(formatRunInformation(options({ requests: 0, testTimeSeconds: 30 }))).toContain('30        Seconds\n');
  });
});

describe('latency distribution', () => {
  it('steps through the percentiles up to 100 and never goes down', () => {
    const points = latencyDistribution(knownResult().sets.histogram);
    expect(points[0]?.percent).toBe(0);
    expect(points.at(-1)?.percent).toBe(100);
    expect(points.at(-1)?.latencyMs).toBeCloseTo(1.099, 3);
    for (let i = 1; i < points.length; i++) {
      expect(points[i]!.latencyMs).toBeGreaterThanOrEqual(points[i - 1]!.latencyMs);
      expect(points[i]!.percent).toBeGreaterThan(points[i - 1]!.percent);
    }
  });

  it("prints memtier's section: SET, GET and WAIT blocks separated by ---", () => {
    const lines = formatLatencyDistribution(knownResult()).split('\n');
    expect(lines.slice(0, 5)).toEqual(['', '', 'Request Latency Distribution', 'Type     <= msec         Percent', '-'.repeat(72)]);
    expect(lines).toContain('GET       0.200       100.00');
    expect(lines.filter((l) => l === '---')).toHaveLength(2);
    expect(lines.some((l) => l.startsWith('WAIT'))).toBe(false);
  });
});

describe('toMemtierJson', () => {
  it("uses memtier's names: ALL STATS / Sets, Gets, Waits, Totals with Ops/sec, Latency and Percentile Latencies", () => {
    const json = toMemtierJson(options(), knownResult()) as any;
    const all = json['ALL STATS'];
    expect(Object.keys(all)).toEqual(['Runtime', 'Sets', 'Gets', 'Waits', 'Totals', 'SET', 'GET', 'WAIT']);
    expect(all.Sets['Ops/sec']).toBe(500);
    expect(all.Gets['Hits/sec']).toBe(500);
    expect(all.Gets['Misses/sec']).toBe(1000);
    expect(all.Totals.Count).toBe(4_000);
    expect(all.Gets.Latency).toBe(0.2);
    expect(Object.keys(all.Sets['Percentile Latencies'])).toEqual(['p50.00', 'p99.00', 'p99.90', 'Histogram log format']);
    expect(all.Gets['Percentile Latencies']['p99.90']).toBe(0.2);
    expect(all.Runtime['Total duration']).toBe(2_000);
    expect(json['run information']['Requests per client']).toBe(10_000);
    expect(json.configuration.key_pattern).toBe('R:R');
    expect(all.GET.at(-1)).toEqual({ '<=msec': 0.2, percent: 100 });
  });

  it('leaves out the distributions under --hide-histogram and adds MOVED/sec in cluster mode', () => {
    const all = (toMemtierJson(options({ hideHistogram: true, clusterMode: true }), knownResult()) as any)['ALL STATS'];
    expect(all.SET).toBeUndefined();
    expect(all.Sets['MOVED/sec']).toBe(0);
  });
});

describe('mergeOutputs', () => {
  it('adds the workers up and spans their runs', () => {
    const result = knownResult();
    const output = {
      sets: result.sets.counters,
      gets: result.gets.counters,
      setHistogram: encodeHistogram(result.sets.histogram),
      getHistogram: encodeHistogram(result.gets.histogram),
      errorSamples: [],
    };
    const merged = mergeOutputs([
      { ...output, startMs: 1_000, endMs: 3_000 },
      { ...output, startMs: 1_010, endMs: 3_500 },
    ]);
    expect(merged.sets.counters.ops).toBe(2_000);
    expect(merged.gets.counters.hits).toBe(2_000);
    expect(merged.gets.histogram.totalCount).toBe(6_000);
    expect(merged.sets.histogram.maxValue).toBe(result.sets.histogram.maxValue);
    expect([merged.startMs, merged.endMs]).toEqual([1_000, 3_500]);
  });
});
