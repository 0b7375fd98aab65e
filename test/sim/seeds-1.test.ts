// Seeds 1 to 500 of the simulator on the real core (cluster sizes 3, 5 and 7 in
// turn, each seed drawing its own fault options), with every safety check after every step, the
// liveness bound after healing, and the linearizability check of the client history. The
// 2,000 seeds of the suite are split over four files so that vitest can run them side by side.
// A failure names each failing seed and prints the first one's trace; replay it with
// `npm run sim -- --seed N`.
import { describe, expect, it } from 'vitest';
import { describeFailures, failedSeeds } from './harness.js';

const FIRST_SEED = 1;
const SEEDS = 500;
const CHUNK = 100;

describe('simulator seeds 1..500', () => {
  for (let from = FIRST_SEED; from < FIRST_SEED + SEEDS; from += CHUNK) {
    it(`seeds ${from}..${from + CHUNK - 1} keep every Raft safety property, liveness and linearizability`, () => {
      const failures = failedSeeds(from, CHUNK);
      expect(failures.length, describeFailures(failures)).toBe(0);
    }, 300_000);
  }
});
