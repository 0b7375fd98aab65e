// The short nemesis run that `npm test` includes: a real 3-node cluster (one process per node,
// each on its own loopback address) under SIGKILLs, restarts and, when this machine allows it
// (root and nft; CI installs nftables and runs as root), network partitions, for about 45 s of
// faults, while ten clients read, write, compare-and-set and run MULTI/EXEC transactions. It
// passes only if every key's history is linearizable (final reads included, so no acknowledged
// write went missing), no transaction was seen half-applied, the cluster recovered within the
// bound once faults stopped, and every replica reports the same RAFT.DIGEST. The seed is random
// and printed; RAFTIS_NEMESIS_SEED replays one. A failing run keeps its folder (history, nemesis
// log, node logs and data) and prints where it is.
import fs from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { partitionsUnavailable } from './net.js';
import type { FaultName } from './nemesis.js';
import { defaultRunOptions, runNemesis } from './run.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('nemesis: a 3-node cluster under faults', () => {
  it('stays linearizable, loses no acknowledged write, recovers and converges', async () => {
    const unavailable = partitionsUnavailable();
    if (unavailable) console.log(`nemesis: skipping partitions: ${unavailable}`);
    const faults: FaultName[] = unavailable ? ['kill'] : ['kill', 'partition'];
    const seed = Number(process.env.RAFTIS_NEMESIS_SEED ?? randomInt(1, 2 ** 31));
    const out = path.join(ROOT, 'out', 'nemesis', `test-${Date.now()}-seed${seed}`);
    const lines: string[] = [];
    const result = await runNemesis({
      ...defaultRunOptions, timeSec: 45, nodes: 3, faults, seed, out, holdMs: [500, 3000], quietMs: [300, 1500],
      recoveryMs: 20_000, checkTimeoutMs: 20_000,
      echo: (line) => lines.push(line),
    });
    const faultCount = Object.values(result.summary.faults).reduce((sum, count) => sum + count, 0);
    console.log(`nemesis seed=${seed}: ${result.summary.operations} ops, ${faultCount} faults ${JSON.stringify(result.summary.faults)}, `
      + `${result.summary.keysChecked} keys checked in ${result.summary.checkMs} ms`);
    if (!result.ok) console.log(`${lines.join('\n')}\nkept for inspection: ${result.out}`);
    expect(result.failures).toEqual([]);
    // The run must have had something to check: faults happened and clients got through.
    expect(faultCount).toBeGreaterThan(0);
    expect(result.summary.outcomes['write:ok'] ?? 0).toBeGreaterThan(100);
    expect(result.summary.outcomes['read:ok'] ?? 0).toBeGreaterThan(100);
    expect(result.summary.finalDigest).toBeDefined();
    fs.rmSync(result.out, { recursive: true, force: true });
  }, 240_000);
});
