// Seeds that once found a bug, replayed exactly as `npm run sim -- --seed N --nodes K --steps S`
// found it. Each names the bug; each failed before its fix.
import { describe, expect, it } from 'vitest';
import { describeFailures } from './harness.js';
import { optionsForSeed } from './options.js';
import { runSimulation } from './simulator.js';

const REGRESSIONS = [
  {
    seed: 102045, nodes: 3, steps: 6000,
    // With every Ready that only moved the commit index left unwritten, restarts came back with
    // commit indexes below committed membership changes, hence with an older membership, and the
    // cluster stayed without a leader after the faults healed. A new commit index is now written
    // while the durable one is below the membership in force (mustPersist, src/raft/durability.ts).
    bug: 'a restart from an unwritten commit index must not bring back an older membership',
  },
  {
    seed: 202968, nodes: 3, steps: 6000,
    // The leader of the membership {1,3} committed its own removal and stepped down without
    // telling node 1 the new commit index; node 1, which applies a membership once it knows it
    // committed, campaigned under {1,3} and could never win without node 3. The leader now sends
    // a heartbeat with the commit index before stepping down (Raft.applyConfChange).
    bug: 'a leader that commits its own removal tells the others before stepping down',
  },
];

describe('simulator regressions', () => {
  for (const { seed, nodes, steps, bug } of REGRESSIONS) {
    it(`seed ${seed} (${nodes} nodes, ${steps} steps): ${bug}`, () => {
      const result = runSimulation(optionsForSeed(seed, { nodes, steps }));
      expect(result.violation, describeFailures(result.violation === undefined ? [] : [result])).toBeUndefined();
    }, 120_000);
  }
});
