// The benchmark's results, computed and printed as memtier_benchmark prints them (run_stats.cpp):
// the run information lines, the ALL STATS table, the request latency distribution, the JSON
// file and the progress line. Pure functions over counters and HDR histograms, so that the
// formatting is tested without a server.
//
// Latencies are recorded in microseconds, as memtier records them, and shown in milliseconds.

import * as hdr from 'hdr-histogram-js';
import type { BenchOptions } from './options.js';
import { formatKeyPattern } from './options.js';

/** Highest latency the histograms track: one minute, in microseconds. */
export const LATENCY_US_MAX = 60_000_000;
/** memtier's LATENCY_HDR_GRANULARITY: percentile ticks per half distance in the distribution. */
const DISTRIBUTION_TICKS_PER_HALF_DISTANCE = 10;

export function createLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 64,
    lowestDiscernibleValue: 1,
    highestTrackableValue: LATENCY_US_MAX,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

export function encodeHistogram(histogram: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(base64: string): hdr.Histogram {
  const decoded = hdr.decodeFromCompressedBase64(base64, 64, false);
  // Copy into a histogram of our own shape so that adding to it can never resize it wrongly.
  const histogram = createLatencyHistogram();
  histogram.add(decoded);
  return histogram;
}

/** What one command type did over the whole run (or one worker's part of it). */
export interface CommandCounters {
  ops: number;
  /** Request plus reply bytes, as memtier counts for KB/sec. */
  bytes: number;
  hits: number;
  misses: number;
  /** Requests answered with -MOVED (cluster mode), counted as memtier counts them. */
  moved: number;
  ask: number;
  errors: number;
}

export function emptyCounters(): CommandCounters {
  return { ops: 0, bytes: 0, hits: 0, misses: 0, moved: 0, ask: 0, errors: 0 };
}

export function addCounters(into: CommandCounters, from: CommandCounters): void {
  into.ops += from.ops;
  into.bytes += from.bytes;
  into.hits += from.hits;
  into.misses += from.misses;
  into.moved += from.moved;
  into.ask += from.ask;
  into.errors += from.errors;
}

export interface CommandResult {
  readonly counters: CommandCounters;
  readonly histogram: hdr.Histogram;
}

export interface BenchResult {
  readonly sets: CommandResult;
  readonly gets: CommandResult;
  /** Always empty: raftis bench sends no WAIT, but memtier prints the row. */
  readonly waits: CommandResult;
  /** Wall-clock start of the first worker and end of the last, in epoch milliseconds. */
  readonly startMs: number;
  readonly endMs: number;
}

export function durationUs(result: BenchResult): number {
  return Math.max(0, Math.round((result.endMs - result.startMs) * 1000));
}

/** One row of the ALL STATS table; undefined prints as memtier's "---". */
export interface StatsRow {
  readonly type: 'Sets' | 'Gets' | 'Waits' | 'Totals';
  readonly opsPerSec: number;
  readonly hitsPerSec: number | undefined;
  readonly missesPerSec: number | undefined;
  readonly movedPerSec: number | undefined;
  readonly askPerSec: number | undefined;
  readonly avgLatencyMs: number | undefined;
  /** One per requested percentile, in order. */
  readonly percentileLatencyMs: readonly (number | undefined)[];
  readonly kbPerSec: number | undefined;
}

function perSecond(count: number, elapsedUs: number): number {
  return elapsedUs > 0 ? (count / elapsedUs) * 1_000_000 : 0;
}

function latencyColumns(histogram: hdr.Histogram, percentiles: readonly number[]) {
  if (histogram.totalCount === 0) {
    return { avgLatencyMs: undefined, percentileLatencyMs: percentiles.map(() => undefined) };
  }
  return {
    avgLatencyMs: histogram.mean / 1000,
    percentileLatencyMs: percentiles.map((p) => histogram.getValueAtPercentile(p) / 1000),
  };
}

export function totalHistogram(result: BenchResult): hdr.Histogram {
  const total = createLatencyHistogram();
  total.add(result.sets.histogram);
  total.add(result.gets.histogram);
  total.add(result.waits.histogram);
  return total;
}

export function totalCounters(result: BenchResult): CommandCounters {
  const total = emptyCounters();
  addCounters(total, result.sets.counters);
  addCounters(total, result.gets.counters);
  addCounters(total, result.waits.counters);
  return total;
}

/** The rows of memtier's ALL STATS table, from Sets to Totals. */
export function summarize(result: BenchResult, percentiles: readonly number[]): StatsRow[] {
  const elapsedUs = durationUs(result);
  const set = result.sets.counters;
  const get = result.gets.counters;
  const total = totalCounters(result);
  const totalLatency = latencyColumns(totalHistogram(result), percentiles);
  return [
    {
      type: 'Sets',
      opsPerSec: perSecond(set.ops, elapsedUs),
      hitsPerSec: undefined,
      missesPerSec: undefined,
      movedPerSec: perSecond(set.moved, elapsedUs),
      askPerSec: perSecond(set.ask, elapsedUs),
      ...latencyColumns(result.sets.histogram, percentiles),
      kbPerSec: perSecond(set.bytes / 1024, elapsedUs),
    },
    {
      type: 'Gets',
      opsPerSec: perSecond(get.ops, elapsedUs),
      hitsPerSec: perSecond(get.hits, elapsedUs),
      missesPerSec: perSecond(get.misses, elapsedUs),
      movedPerSec: perSecond(get.moved, elapsedUs),
      askPerSec: perSecond(get.ask, elapsedUs),
      ...latencyColumns(result.gets.histogram, percentiles),
      kbPerSec: perSecond(get.bytes / 1024, elapsedUs),
    },
    {
      type: 'Waits',
      opsPerSec: perSecond(result.waits.counters.ops, elapsedUs),
      hitsPerSec: undefined,
      missesPerSec: undefined,
      movedPerSec: undefined,
      askPerSec: undefined,
      ...latencyColumns(result.waits.histogram, percentiles),
      kbPerSec: undefined,
    },
    {
      type: 'Totals',
      opsPerSec: perSecond(total.ops, elapsedUs),
      hitsPerSec: perSecond(total.hits, elapsedUs),
      missesPerSec: perSecond(total.misses, elapsedUs),
      movedPerSec: perSecond(total.moved, elapsedUs),
      askPerSec: perSecond(total.ask, elapsedUs),
      // memtier prints the Totals latencies even when there were no requests at all (as 0).
      avgLatencyMs: totalLatency.avgLatencyMs ?? 0,
      percentileLatencyMs: totalLatency.percentileLatencyMs.map((v) => v ?? 0),
      kbPerSec: perSecond(total.bytes / 1024, elapsedUs),
    },
  ];
}

/** memtier's column header for a percentile: "p50 Latency", "p99.9 Latency" (at most 3 decimals). */
export function percentileLabel(percentile: number): string {
  let digits = 0;
  let fraction = Math.abs(percentile) - Math.trunc(Math.abs(percentile));
  while (Math.abs(fraction) > 0.001 && digits < 3) {
    fraction *= 10;
    digits++;
    fraction -= Math.trunc(fraction);
  }
  return `p${percentile.toFixed(digits)} Latency`;
}

interface Column {
  /** memtier's column_size: the printed width is this plus one space. */
  readonly size: number;
  readonly header: string;
  readonly cells: readonly string[];
}

function fixed(value: number | undefined, width: number, decimals: number): string {
  return (value === undefined ? '---' : value.toFixed(decimals)).padStart(width) + ' ';
}

/**
 * memtier's results table: a title, a rule of '=' as wide as the columns, the header, a rule of
 * '-' per column, then one line per row. Every cell ends in one space, as in memtier.
 */
export function formatStatsTable(
  rows: readonly StatsRow[],
  options: { readonly title: string; readonly clusterMode: boolean; readonly percentiles: readonly number[] },
): string {
  const columns: Column[] = [];
  const typeSize = 7;
  columns.push({ size: typeSize, header: 'Type'.padEnd(typeSize) + ' ', cells: rows.map((r) => r.type.padEnd(typeSize) + ' ') });
  const numeric = (header: string, size: number, decimals: number, pick: (row: StatsRow) => number | undefined): Column => ({
    size,
    header: header.padStart(size) + ' ',
    cells: rows.map((row) => fixed(pick(row), size, decimals)),
  });
  columns.push(numeric('Ops/sec', 12, 2, (r) => r.opsPerSec));
  columns.push(numeric('Hits/sec', 12, 2, (r) => r.hitsPerSec));
  columns.push(numeric('Misses/sec', 12, 2, (r) => r.missesPerSec));
  if (options.clusterMode) {
    columns.push(numeric('MOVED/sec', 12, 2, (r) => r.movedPerSec));
    columns.push(numeric('ASK/sec', 12, 2, (r) => r.askPerSec));
  }
  columns.push(numeric('Avg. Latency', 15, 5, (r) => r.avgLatencyMs));
  options.percentiles.forEach((percentile, index) => {
    columns.push(numeric(percentileLabel(percentile), 15, 5, (r) => r.percentileLatencyMs[index]));
  });
  columns.push(numeric('KB/sec', 12, 2, (r) => r.kbPerSec));

  const lines: string[] = ['', '', options.title];
  lines.push(columns.map((c) => '='.repeat(c.size + 1)).join(''));
  lines.push(columns.map((c) => c.header).join(''));
  lines.push(columns.map((c) => '-'.repeat(c.size + 1)).join(''));
  rows.forEach((_row, index) => lines.push(columns.map((c) => c.cells[index]).join('')));
  return lines.join('\n') + '\n';
}

/** The header memtier prints before the table. */
export function formatRunInformation(options: BenchOptions): string {
  const bound = options.requests > 0 ? options.requests : options.testTimeSeconds;
  const unit = options.requests > 0 ? 'Requests per client' : 'Seconds';
  return `${String(options.threads).padEnd(9)} Threads\n${String(options.clients).padEnd(9)} Connections per thread\n${String(bound).padEnd(9)} ${unit}\n`;
}

export interface DistributionPoint {
  /** Highest latency in the bucket, in milliseconds. */
  readonly latencyMs: number;
  /** Share of requests at or below it, 0 to 100. */
  readonly percent: number;
}

/**
 * The percentile distribution memtier prints (hdr_iter_percentile with 10 ticks per half
 * distance), read from hdr-histogram-js's own percentile output so the stepping is the HDR one.
 */
export function latencyDistribution(histogram: hdr.Histogram): DistributionPoint[] {
  if (histogram.totalCount === 0) return [];
  const text = histogram.outputPercentileDistribution(DISTRIBUTION_TICKS_PER_HALF_DISTANCE, 1000);
  const points: DistributionPoint[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+\.\d+)\s+(\d+\.\d+)\s+\d+(?:\s+\S+)?\s*$/.exec(line);
    if (match === null) continue;
    points.push({ latencyMs: Number(match[1]), percent: Number(match[2]) * 100 });
  }
  return points;
}

/** memtier's "Request Latency Distribution" section. */
export function formatLatencyDistribution(result: BenchResult): string {
  const lines: string[] = ['', '', 'Request Latency Distribution'];
  lines.push(`${'Type'.padEnd(6)} ${'<= msec   '.padStart(12)} ${'Percent'.padStart(12)}`);
  lines.push('-'.repeat(72));
  const section = (type: string, histogram: hdr.Histogram) => {
    for (const point of latencyDistribution(histogram)) {
      lines.push(`${type.padEnd(6)} ${point.latencyMs.toFixed(3).padStart(8)} ${point.percent.toFixed(2).padStart(12)}`);
    }
  };
  section('SET', result.sets.histogram);
  lines.push('---');
  section('GET', result.gets.histogram);
  lines.push('---');
  section('WAIT', result.waits.histogram);
  return lines.join('\n') + '\n';
}

/** memtier's size_to_str: bytes as KB, MB or GB with two decimals. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024 * 1024)).toFixed(2)}GB`;
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(2)}MB`;
  return `${(bytes / 1024).toFixed(2)}KB`;
}

export interface ProgressSnapshot {
  readonly runId: number;
  readonly progressPercent: number;
  readonly elapsedSeconds: number;
  readonly activeThreads: number;
  readonly totalOps: number;
  readonly currentOpsPerSec: number;
  readonly averageOpsPerSec: number;
  readonly currentBytesPerSec: number;
  readonly averageBytesPerSec: number;
  readonly currentLatencyMs: number;
  readonly averageLatencyMs: number;
}

/** memtier's progress line (memtier_benchmark.cpp, run_benchmark); the caller adds the '\r'. */
export function formatProgressLine(p: ProgressSnapshot): string {
  const integer = (value: number, width: number) => String(Math.max(0, Math.floor(value))).padStart(width);
  return (
    `[RUN #${p.runId} ${p.progressPercent.toFixed(0)}%, ${integer(p.elapsedSeconds, 3)} secs] ` +
    `${integer(p.activeThreads, 2)} threads: ${integer(p.totalOps, 11)} ops, ` +
    `${integer(p.currentOpsPerSec, 7)} (avg: ${integer(p.averageOpsPerSec, 7)}) ops/sec, ` +
    `${formatSize(p.currentBytesPerSec)}/sec (avg: ${formatSize(p.averageBytesPerSec)}/sec), ` +
    `${p.currentLatencyMs.toFixed(2).padStart(5)} (avg: ${p.averageLatencyMs.toFixed(2).padStart(5)}) msec latency`
  );
}

/** Rounds as printf("%.Nf") would before the number goes into JSON. */
function round(value: number, decimals: number): number {
  return Number(value.toFixed(decimals));
}

/** memtier writes "p50.00", "p99.90": the percentile with two decimals. */
export function percentileKey(percentile: number): string {
  return `p${percentile.toFixed(2)}`;
}

function commandJson(
  row: StatsRow,
  histogram: hdr.Histogram,
  percentiles: readonly number[],
  clusterMode: boolean,
): Record<string, unknown> {
  const hasSamples = histogram.totalCount > 0;
  const latency = hasSamples ? histogram.mean / 1000 : 0;
  const json: Record<string, unknown> = {
    Count: histogram.totalCount,
    'Ops/sec': round(row.opsPerSec, 2),
    'Hits/sec': round(row.hitsPerSec ?? 0, 2),
    'Misses/sec': round(row.missesPerSec ?? 0, 2),
  };
  if (clusterMode) {
    json['MOVED/sec'] = round(row.movedPerSec ?? 0, 2);
    json['ASK/sec'] = round(row.askPerSec ?? 0, 2);
  }
  Object.assign(json, {
    Latency: round(latency, 3),
    'Average Latency': round(latency, 3),
    'Min Latency': round(hasSamples ? histogram.minNonZeroValue / 1000 : 0, 3),
    'Max Latency': round(hasSamples ? histogram.maxValue / 1000 : 0, 3),
    'KB/sec': round(row.kbPerSec ?? 0, 2),
    'Percentile Latencies': Object.fromEntries([
      ...percentiles.map((p) => [percentileKey(p), round(hasSamples ? histogram.getValueAtPercentile(p) / 1000 : 0, 3)]),
      ['Histogram log format', { 'Compressed Histogram': encodeHistogram(histogram) }],
    ]),
  });
  return json;
}

/** memtier's --json-out-file document: configuration, run information and ALL STATS. */
export function toMemtierJson(options: BenchOptions, result: BenchResult): Record<string, unknown> {
  const rows = summarize(result, options.printPercentiles);
  const [setsRow, getsRow, waitsRow, totalsRow] = rows as [StatsRow, StatsRow, StatsRow, StatsRow];
  const startMs = Math.floor(result.startMs);
  const endMs = Math.floor(result.endMs);
  const allStats: Record<string, unknown> = {
    Runtime: { 'Start time': startMs, 'Finish time': endMs, 'Total duration': endMs - startMs, 'Time unit': 'MILLISECONDS' },
    Sets: commandJson(setsRow, result.sets.histogram, options.printPercentiles, options.clusterMode),
    Gets: commandJson(getsRow, result.gets.histogram, options.printPercentiles, options.clusterMode),
    Waits: commandJson(waitsRow, result.waits.histogram, options.printPercentiles, options.clusterMode),
    Totals: commandJson(totalsRow, totalHistogram(result), options.printPercentiles, options.clusterMode),
  };
  if (!options.hideHistogram) {
    const points = (histogram: hdr.Histogram) =>
      latencyDistribution(histogram).map((p) => ({ '<=msec': round(p.latencyMs, 3), percent: round(p.percent, 2) }));
    allStats.SET = points(result.sets.histogram);
    allStats.GET = points(result.gets.histogram);
    allStats.WAIT = points(result.waits.histogram);
  }
  return {
    configuration: {
      server: options.server,
      port: options.port,
      protocol: 'redis',
      run_count: 1,
      requests: options.requests,
      clients: options.clients,
      threads: options.threads,
      test_time: options.testTimeSeconds,
      ratio: `${options.ratio.sets}:${options.ratio.gets}`,
      pipeline: options.pipeline,
      data_size: options.dataSizeBytes,
      random_data: 'false',
      key_prefix: options.keyPrefix,
      key_minimum: options.keyMinimum,
      key_maximum: options.keyMaximum,
      key_pattern: formatKeyPattern(options.keyPattern),
      key_stddev: options.keyStddev,
      key_median: options.keyMedian,
      cluster_mode: options.clusterMode ? 'true' : 'false',
    },
    'run information': {
      Threads: options.threads,
      'Connections per thread': options.clients,
      ...(options.requests > 0 ? { 'Requests per client': options.requests } : { Seconds: options.testTimeSeconds }),
      'Format version': 2,
    },
    'ALL STATS': allStats,
  };
}
