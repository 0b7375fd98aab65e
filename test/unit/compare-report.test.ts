// bench/compare-report.ts: the CPU budget column of bench:compare's table (what the three raftis
// nodes may spend per request to reach a target on this machine), computed and rendered.
import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../../bench/compare-lib.js';
import { cpuBudgetUsPerOp, renderMarkdown, type Comparison, type RunInfo } from '../../bench/compare-report.js';

function load(opsPerSec: number): LoadResult {
  return { opsPerSec, avgMs: 1, p50Ms: 1, p99Ms: 2, maxMs: 3, requests: 100_000 };
}

const RUN: RunInfo = {
  date: '2026-11-23 09:00 UTC', commit: 'abc1234', machine: '2 × test CPU', cores: 2, redisVersion: '7.0.15',
  loadBefore: '1.0', loadAfter: '1.0', durationSeconds: 100, compareCommand: 'npx tsx bench/compare.ts',
  leaderFsyncs: { count: 10, averageMicros: 1000 }, redisAof: 'appendfsync always', serverFlags: [],
};

function comparison(workload: 'SET' | 'GET', pipeline: number, redisOps: number, generatorUs: number): Comparison {
  return {
    workload, pipeline, generator: 'redis-benchmark', redis: load(redisOps), leader: load(redisOps / 2), follower: undefined,
    redisCpuUsPerOp: 10, leaderCpuUsPerOp: 30, clusterCpuUsPerOp: 40, redisGeneratorCpuUsPerOp: 15, leaderGeneratorCpuUsPerOp: generatorUs,
    commandLine: `redis-benchmark -t ${workload.toLowerCase()} -P ${pipeline}`,
  };
}

describe('the CPU budget', () => {
  it('is the CPU per request that all cores give at the target rate, less the load generator\'s', () => {
    // 0.75 x 40,000 GET/s = 30,000/s; two cores give 66.7 µs a request; the generator takes 20.
    expect(cpuBudgetUsPerOp(2, 0.75, 40_000, 20)).toBeCloseTo(2e6 / 30_000 - 20, 6);
    expect(cpuBudgetUsPerOp(4, 0.5, 100_000, 0)).toBeCloseTo(80, 6);
    // The generator alone needs more than the cores give: nothing is left.
    expect(cpuBudgetUsPerOp(2, 0.6, 200_000, 20)).toBeLessThan(0);
  });

  it('is rendered per workload with its target, and as "none" when out of reach', () => {
    const markdown = renderMarkdown(RUN, [comparison('GET', 1, 40_000, 20), comparison('SET', 16, 200_000, 20)]);
    const row = (start: string): string[] => {
      const line = markdown.split('\n').find((text) => text.startsWith(start) && text.includes('µs') === false && text.split('|').length > 9);
      expect(line, start).toBeDefined();
      return line!.split('|').map((cell) => cell.trim());
    };
    const get = row('| GET `-P 1` | redis-benchmark | 10.0');
    expect(get.at(-3)).toBe('15.0 / 20.0');
    expect(get.at(-2)).toBe((2e6 / 30_000 - 20).toFixed(1));
    // SET -P 16's target is 0.3x: 60,000/s, 33.3 µs a request, 13.3 left after the generator.
    const set = row('| SET `-P 16` | redis-benchmark | 10.0');
    expect(set.at(-2)).toBe((2e6 / 60_000 - 20).toFixed(1));
    const tight = renderMarkdown(RUN, [comparison('GET', 1, 200_000, 20)]);
    expect(tight).toMatch(/\| GET `-P 1` \| redis-benchmark \| 10\.0 .*\| none \|/);
  });
});
