// Turning bench/compare.ts's measurements into the markdown table and the SVG chart. Pure
// functions over plain data: no processes, no files (except the section splice at the end).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import type { LoadResult } from './compare-lib.js';

export type Workload = 'SET' | 'GET';
export type Generator = 'redis-benchmark' | 'raftis bench';

/** One workload measured against redis-server, the raftis leader and (maybe) a follower. */
export interface Comparison {
  readonly workload: Workload;
  readonly pipeline: number;
  readonly generator: Generator;
  readonly redis: LoadResult;
  readonly leader: LoadResult;
  readonly follower: LoadResult | undefined;
  /** Server CPU (user+system) per request, in microseconds, from /proc around the run. */
  readonly redisCpuUsPerOp: number;
  readonly leaderCpuUsPerOp: number;
  /** The three raftis processes together. */
  readonly clusterCpuUsPerOp: number;
  /** The load generator's CPU per request, against redis-server and against the raftis leader. */
  readonly redisGeneratorCpuUsPerOp: number;
  readonly leaderGeneratorCpuUsPerOp: number;
  /** Command lines, `<port>` standing for the server's port. */
  readonly commandLine: string;
}

export interface RunInfo {
  readonly date: string;
  readonly commit: string;
  readonly machine: string;
  /** CPUs the machine has: what the load generator and the servers share. */
  readonly cores: number;
  readonly redisVersion: string;
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly durationSeconds: number;
  readonly compareCommand: string;
  /** fsyncs the leader did, and their mean duration, over the whole run. */
  readonly leaderFsyncs: { count: number; averageMicros: number };
  readonly redisAof: string;
  /** Extra `raftis server` flags of this run (none by default). */
  readonly serverFlags: readonly string[];
}

/** How the run's raftis serves reads, from its server flags. */
export function readModeOf(serverFlags: readonly string[]): string {
  const at = serverFlags.indexOf('--read-mode');
  const mode = at >= 0 ? serverFlags[at + 1] : serverFlags.find((flag) => flag.startsWith('--read-mode='))?.split('=')[1];
  return mode === 'lease' ? 'lease reads (`--read-mode lease`)' : 'linearizable reads (ReadIndex, the default)';
}

/** The issue's targets (ratio to redis-server) and RedisRaft's figures measured the same way. */
export const TARGETS: Readonly<Record<string, { target: number; redisRaft: number }>> = {
  'SET 1': { target: 0.6, redisRaft: 0.41 },
  'GET 1': { target: 0.75, redisRaft: 0.72 },
  'SET 16': { target: 0.3, redisRaft: 0.09 },
  'GET 16': { target: 0.25, redisRaft: 0.17 },
};

export function targetOf(comparison: Pick<Comparison, 'workload' | 'pipeline'>): { target: number; redisRaft: number } | undefined {
  return TARGETS[`${comparison.workload} ${comparison.pipeline}`];
}

export function ratio(raftis: number, redis: number): number {
  return redis > 0 ? raftis / redis : 0;
}

/**
 * The CPU the three raftis nodes may use per request and still reach `target` times
 * redis-server's throughput: at that rate, every core busy all the time (the best case) gives
 * cores / (target * redis ops/s) per request, of which the load generator takes its own share
 * (as measured against raftis). Zero or less: out of reach on this machine whatever raftis does.
 */
export function cpuBudgetUsPerOp(cores: number, target: number, redisOpsPerSec: number, generatorUsPerOp: number): number {
  return (cores * 1e6) / (target * redisOpsPerSec) - generatorUsPerOp;
}

function ops(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function ms(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function times(value: number): string {
  return `${value.toFixed(2)}×`;
}

function verdict(value: number, target: number | undefined): string {
  if (target === undefined) return times(value);
  return value >= target ? `**${times(value)}** ✓` : `**${times(value)}** ✗`;
}

export function label(comparison: Pick<Comparison, 'workload' | 'pipeline'>): string {
  return `${comparison.workload} \`-P ${comparison.pipeline}\``;
}

/** The section bench/compare.ts writes (to stdout and into docs/performance.md). */
export function renderMarkdown(run: RunInfo, comparisons: readonly Comparison[]): string {
  const lines: string[] = [];
  lines.push(`Measured ${run.date} at commit ${run.commit} by \`${run.compareCommand}\` (${run.durationSeconds.toFixed(0)} s).`);
  lines.push(`Machine: ${run.machine}; load average ${run.loadBefore} before, ${run.loadAfter} after`
    + ' (other engineers\' test suites share the machine, so only ratios within this run mean anything).');
  lines.push(`redis-server ${run.redisVersion} with ${run.redisAof}; raftis: 3 nodes on loopback, \`--fsync always\``
    + ` (the default), ${readModeOf(run.serverFlags)}${run.serverFlags.length > 0 ? `, server flags \`${run.serverFlags.join(' ')}\`` : ''}; the leader did ${run.leaderFsyncs.count.toLocaleString('en-US')} fsyncs`
    + ` averaging ${(run.leaderFsyncs.averageMicros / 1000).toFixed(1)} ms.`);
  lines.push('');
  lines.push('| workload | load generator | redis-server ops/s | raftis leader ops/s | ratio | target | RedisRaft | via a follower ops/s | ratio | p50 ms redis / raftis | p99 ms redis / raftis |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of comparisons) {
    const t = targetOf(c);
    const leaderRatio = ratio(c.leader.opsPerSec, c.redis.opsPerSec);
    const followerCells = c.follower
      ? [ops(c.follower.opsPerSec), times(ratio(c.follower.opsPerSec, c.redis.opsPerSec))]
      : ['—', '—'];
    lines.push(`| ${label(c)} | ${c.generator} | ${ops(c.redis.opsPerSec)} | ${ops(c.leader.opsPerSec)} | ${verdict(leaderRatio, t?.target)} `
      + `| ${t ? `≥ ${t.target}×` : ''} | ${t ? `${t.redisRaft}×` : ''} | ${followerCells.join(' | ')} `
      + `| ${ms(c.redis.p50Ms)} / ${ms(c.leader.p50Ms)} | ${ms(c.redis.p99Ms)} / ${ms(c.leader.p99Ms)} |`);
  }
  lines.push('');
  lines.push('Server CPU per request (user+system time from `/proc/<pid>/stat` across each run, divided by its requests;');
  lines.push('this figure depends far less on the other load than throughput does), the load generator\'s (its');
  lines.push('process and threads, from `/proc/self/stat` once it exited), and the **budget**: the most CPU per request the');
  lines.push(`three nodes could use and still reach the target, were all ${run.cores} cores busy all the time, with the load generator`);
  lines.push('taking what it took against raftis (`cores ÷ (target × redis-server ops/s) − generator`):');
  lines.push('');
  lines.push('| workload | load generator | redis-server µs/op | raftis leader µs/op | raftis, 3 nodes µs/op | leader ÷ redis | generator µs/op, against redis / raftis | 3 nodes\' budget µs/op |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const c of comparisons) {
    const t = targetOf(c);
    const budget = t === undefined ? undefined : cpuBudgetUsPerOp(run.cores, t.target, c.redis.opsPerSec, c.leaderGeneratorCpuUsPerOp);
    lines.push(`| ${label(c)} | ${c.generator} | ${c.redisCpuUsPerOp.toFixed(1)} | ${c.leaderCpuUsPerOp.toFixed(1)} | ${c.clusterCpuUsPerOp.toFixed(1)} `
      + `| ${times(ratio(c.leaderCpuUsPerOp, c.redisCpuUsPerOp))} | ${c.redisGeneratorCpuUsPerOp.toFixed(1)} / ${c.leaderGeneratorCpuUsPerOp.toFixed(1)} `
      + `| ${budget === undefined ? '' : budget > 0 ? budget.toFixed(1) : 'none'} |`);
  }
  lines.push('');
  lines.push('Commands (`<port>` is redis-server\'s, the leader\'s or a follower\'s; `raftis` is `node <build>/dist/src/cli/main.js`):');
  lines.push('');
  const seen = new Set<string>();
  for (const c of comparisons) {
    if (seen.has(c.commandLine)) continue;
    seen.add(c.commandLine);
    lines.push(`    ${c.commandLine}`);
  }
  lines.push('');
  lines.push('![raftis as a ratio of redis-server](bench-compare.svg)');
  return lines.join('\n');
}

// -------------------------------------------------------------------------------------------
// The chart

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const COLORS = { redis: '#b03a2e', leader: '#1f618d', follower: '#e59866', target: '#1e8449', redisRaft: '#7d3c98', grid: '#d5d8dc', text: '#1c2833' };

/**
 * Two panels over the same workloads: raftis throughput as a ratio of redis-server (leader and
 * follower bars, the issue's target and RedisRaft's figure as marks), then p50 and p99 latency of
 * redis-server and the raftis leader on a log scale.
 */
export function renderSvg(run: Pick<RunInfo, 'date' | 'commit' | 'serverFlags'>, comparisons: readonly Comparison[]): string {
  const width = 960;
  const left = 70;
  const right = 20;
  const plotWidth = width - left - right;
  const groupWidth = plotWidth / Math.max(1, comparisons.length);
  const out: string[] = [];
  const text = (x: number, y: number, content: string, attrs = ''): void => {
    out.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`);
  };
  const rect = (x: number, y: number, w: number, h: number, fill: string, title: string): void => {
    out.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${Math.max(0, h).toFixed(1)}" fill="${fill}"><title>${escapeXml(title)}</title></rect>`);
  };
  const line = (x1: number, y1: number, x2: number, y2: number, stroke: string, extra = ''): void => {
    out.push(`<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="${stroke}" ${extra}/>`);
  };
  const groupLabel = (index: number, y: number): void => {
    const c = comparisons[index] as Comparison;
    const x = left + groupWidth * (index + 0.5);
    text(x, y, `${c.workload} -P ${c.pipeline}`, 'text-anchor="middle" font-size="12" font-weight="bold"');
    text(x, y + 14, c.generator, 'text-anchor="middle" font-size="11"');
  };

  // Panel 1: throughput ratio.
  const p1Top = 60;
  const p1Height = 220;
  const maxRatio = Math.max(1, ...comparisons.map((c) => ratio(c.leader.opsPerSec, c.redis.opsPerSec)),
    ...comparisons.map((c) => (c.follower ? ratio(c.follower.opsPerSec, c.redis.opsPerSec) : 0)));
  const yRatio = (value: number): number => p1Top + p1Height - (value / maxRatio) * p1Height;
  text(left, 22, 'raftis throughput as a ratio of redis-server (appendfsync always), measured in the same run', 'font-size="14" font-weight="bold"');
  text(left, 40, `${run.date}, commit ${run.commit.split(' ')[0] ?? ''}; 3 raftis nodes on loopback, fsync on, ${readModeOf(run.serverFlags).replace(/`/g, '')}`, 'font-size="11"');
  for (let tick = 0; tick <= maxRatio + 1e-9; tick += maxRatio > 2 ? 0.5 : 0.25) {
    const y = yRatio(tick);
    line(left, y, width - right, y, COLORS.grid);
    text(left - 6, y + 4, `${tick.toFixed(2)}×`, 'text-anchor="end" font-size="11"');
  }
  comparisons.forEach((c, index) => {
    const x0 = left + groupWidth * index;
    const barWidth = groupWidth * 0.3;
    const leaderRatio = ratio(c.leader.opsPerSec, c.redis.opsPerSec);
    rect(x0 + groupWidth * 0.18, yRatio(leaderRatio), barWidth, yRatio(0) - yRatio(leaderRatio), COLORS.leader,
      `leader: ${Math.round(c.leader.opsPerSec)} ops/s vs redis-server ${Math.round(c.redis.opsPerSec)} ops/s`);
    text(x0 + groupWidth * 0.18 + barWidth / 2, yRatio(leaderRatio) - 4, leaderRatio.toFixed(2), 'text-anchor="middle" font-size="11"');
    if (c.follower) {
      const followerRatio = ratio(c.follower.opsPerSec, c.redis.opsPerSec);
      rect(x0 + groupWidth * 0.52, yRatio(followerRatio), barWidth, yRatio(0) - yRatio(followerRatio), COLORS.follower,
        `via a follower: ${Math.round(c.follower.opsPerSec)} ops/s`);
      text(x0 + groupWidth * 0.52 + barWidth / 2, yRatio(followerRatio) - 4, followerRatio.toFixed(2), 'text-anchor="middle" font-size="11"');
    }
    const t = targetOf(c);
    if (t) {
      line(x0 + groupWidth * 0.1, yRatio(t.target), x0 + groupWidth * 0.9, yRatio(t.target), COLORS.target, 'stroke-width="2" stroke-dasharray="6 3"');
      line(x0 + groupWidth * 0.1, yRatio(t.redisRaft), x0 + groupWidth * 0.9, yRatio(t.redisRaft), COLORS.redisRaft, 'stroke-width="2" stroke-dasharray="2 2"');
    }
    groupLabel(index, p1Top + p1Height + 16);
  });
  line(left, yRatio(0), width - right, yRatio(0), COLORS.text);

  // Panel 2: latency, log scale.
  const p2Top = p1Top + p1Height + 90;
  const p2Height = 220;
  const latencies = comparisons.flatMap((c) => [c.redis.p50Ms, c.redis.p99Ms, c.leader.p50Ms, c.leader.p99Ms]).filter((v) => v > 0);
  const lowExp = Math.floor(Math.log10(Math.max(0.01, Math.min(...latencies, 1))));
  const highExp = Math.ceil(Math.log10(Math.max(...latencies, 10)));
  const yLatency = (value: number): number => {
    const clamped = Math.max(value, 10 ** lowExp);
    return p2Top + p2Height - ((Math.log10(clamped) - lowExp) / (highExp - lowExp)) * p2Height;
  };
  text(left, p2Top - 26, 'p50 and p99 latency (ms, log scale): redis-server and the raftis leader', 'font-size="14" font-weight="bold"');
  text(left, p2Top - 10, 'each group: redis-server p50, raftis p50, redis-server p99 (light), raftis p99 (light)', 'font-size="11"');
  for (let exp = lowExp; exp <= highExp; exp++) {
    const y = yLatency(10 ** exp);
    line(left, y, width - right, y, COLORS.grid);
    text(left - 6, y + 4, exp < 0 ? (10 ** exp).toFixed(-exp) : String(10 ** exp), 'text-anchor="end" font-size="11"');
  }
  comparisons.forEach((c, index) => {
    const x0 = left + groupWidth * index;
    const barWidth = groupWidth * 0.17;
    const bars: [number, string, string, number][] = [
      [c.redis.p50Ms, COLORS.redis, 'redis-server p50', 1],
      [c.leader.p50Ms, COLORS.leader, 'raftis p50', 1],
      [c.redis.p99Ms, COLORS.redis, 'redis-server p99', 0.55],
      [c.leader.p99Ms, COLORS.leader, 'raftis p99', 0.55],
    ];
    bars.forEach(([value, color, name, opacity], k) => {
      const x = x0 + groupWidth * 0.12 + k * barWidth * 1.1;
      const y = yLatency(value);
      out.push(`<g opacity="${opacity}">`);
      rect(x, y, barWidth, yLatency(10 ** lowExp) - y, color, `${name}: ${value} ms`);
      out.push('</g>');
    });
    groupLabel(index, p2Top + p2Height + 16);
  });
  line(left, p2Top + p2Height, width - right, p2Top + p2Height, COLORS.text);

  // Legend.
  const legendY = p2Top + p2Height + 58;
  const legend: [string, string, string][] = [
    [COLORS.redis, '1', 'redis-server (p50 solid, p99 light)'],
    [COLORS.leader, '1', 'raftis leader'],
    [COLORS.follower, '1', 'raftis via a follower (proxied)'],
  ];
  let x = left;
  for (const [color, opacity, name] of legend) {
    out.push(`<rect x="${x}" y="${legendY - 10}" width="12" height="12" fill="${color}" opacity="${opacity}"/>`);
    text(x + 18, legendY, name, 'font-size="12"');
    x += 18 + name.length * 6.6 + 24;
  }
  line(x, legendY - 4, x + 24, legendY - 4, COLORS.target, 'stroke-width="2" stroke-dasharray="6 3"');
  text(x + 30, legendY, 'target', 'font-size="12"');
  x += 90;
  line(x, legendY - 4, x + 24, legendY - 4, COLORS.redisRaft, 'stroke-width="2" stroke-dasharray="2 2"');
  text(x + 30, legendY, 'RedisRaft (issue 7)', 'font-size="12"');
  const height = legendY + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" fill="${COLORS.text}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

// -------------------------------------------------------------------------------------------
// docs/performance.md sections

/** Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->`, or appends the section. */
export function spliceSection(document: string, name: string, body: string, headingIfNew: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${body.trimEnd()}\n${end}`;
  const from = document.indexOf(begin);
  const to = document.indexOf(end);
  if (from >= 0 && to > from) return document.slice(0, from) + block + document.slice(to + end.length);
  return `${document.trimEnd()}\n\n${headingIfNew}\n\n${block}\n`;
}

export function writeSection(file: string, name: string, body: string, headingIfNew: string): void {
  const document = existsSync(file) ? readFileSync(file, 'utf8') : '# Performance\n';
  writeFileSync(file, spliceSection(document, name, body, headingIfNew));
}
