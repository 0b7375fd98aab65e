// A node's /metrics (Prometheus text) scraped into a map, and the differences between two scrapes:
// what the benches that watch a cluster from outside (latency-breakdown, snapshot-live) read.
import type { RaftisNode } from './compare-lib.js';

export type Samples = Map<string, number>;

export async function scrape(node: RaftisNode): Promise<Samples> {
  const response = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`);
  if (response.status !== 200) throw new Error(`node ${node.id}: /metrics answered ${response.status}`);
  const samples: Samples = new Map();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** A histogram's bucket deltas between two scrapes: [upper bound in s, cumulative count]. */
export function histogramDelta(before: Samples, after: Samples, name: string, labels = ''): [number, number][] {
  // prom-client writes `le` first for its own histograms and last for ours: match either.
  const rows: [number, number][] = [];
  for (const [key, count] of after) {
    if (!key.startsWith(`${name}_bucket{`)) continue;
    const parts = key.slice(name.length + 8, -1).split(',');
    const le = parts.find((part) => part.startsWith('le="'))?.slice(4, -1);
    const rest = parts.filter((part) => !part.startsWith('le="')).join(',');
    if (le === undefined || rest !== labels) continue;
    rows.push([le === '+Inf' ? Infinity : Number(le), count - (before.get(key) ?? 0)]);
  }
  return rows.sort((a, b) => a[0] - b[0]);
}

/** The bound of the highest bucket that gained an observation, if any. */
export function highestBucket(rows: readonly [number, number][]): number | undefined {
  for (let k = rows.length - 1; k >= 0; k--) if (rows[k]![1] > (rows[k - 1]?.[1] ?? 0)) return rows[k]![0];
  return undefined;
}

/** The bucket bound under which a fraction `q` of the observations fall ("≤ bound"). */
export function quantile(rows: readonly [number, number][], q: number): string {
  const total = rows.at(-1)?.[1] ?? 0;
  if (total === 0) return '—';
  const bound = rows.find(([, cumulative]) => cumulative >= q * total)?.[0] ?? Infinity;
  return bound === Infinity ? `> ${ms(rows.at(-2)?.[0] ?? 0)}` : `≤ ${ms(bound)}`;
}

export function ms(seconds: number): string {
  const value = seconds * 1000;
  return `${value < 1 ? value.toFixed(2) : value < 10 ? value.toFixed(1) : value.toFixed(0)} ms`;
}

export function delta(before: Samples, after: Samples, key: string): number {
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}
