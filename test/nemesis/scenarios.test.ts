// Focused fault storms that found bugs, kept as regression tests. Each runs the nemesis (real
// processes, real clients, the same verdicts as nemesis.test.ts) with one fault family at a
// rate that made the bug show up in every run we tried, so that it fails before the fix and
// passes after. The seed is random and printed; RAFTIS_NEMESIS_SEED replays one.
//
// - Leadership transfers every 100-300 ms: a new leader answered reads before it had committed
//   an entry of its term, from a commit index older than writes the previous leader had already
//   acknowledged (a stale read; three runs of 25 s out of three failed, the first after about
//   two seconds of transfers).
import fs from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultRunOptions, runNemesis } from './run.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('nemesis scenarios', () => {
  it('a storm of leadership transfers: no stale read from a new leader', async () => {
    const seed = Number(process.env.RAFTIS_NEMESIS_SEED ?? randomInt(1, 2 ** 31));
    const out = path.join(ROOT, 'out', 'nemesis', `transfers-${Date.now()}-seed${seed}`);
    const lines: string[] = [];
    const result = await runNemesis({
      ...defaultRunOptions, timeSec: 20, nodes: 3, faults: ['transfer'], seed, out, holdMs: [0, 0], quietMs: [100, 300],
      recoveryMs: 20_000, checkTimeoutMs: 20_000, echo: (line) => lines.push(line),
    });
    const transfers = result.summary.faults.transfer ?? 0;
    console.log(`transfer storm seed=${seed}: ${result.summary.operations} ops, ${transfers} transfers`);
    if (!result.ok) console.log(`${result.failures.join('\n')}\nkept for inspection: ${result.out}`);
    expect(result.failures).toEqual([]);
    expect(transfers).toBeGreaterThan(20);
    expect(result.summary.outcomes['read:ok'] ?? 0).toBeGreaterThan(100);
    fs.rmSync(result.out, { recursive: true, force: true });
  }, 180_000);
});
