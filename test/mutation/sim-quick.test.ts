// A short simulator run for mutation testing (npm run mutation): a few seeds of each of the
// three cluster sizes, so that Stryker can run it once per mutant of src/raft in reasonable
// time. The full 2,000-seed suite lives in test/sim and runs in npm test.
//
// One test per seed: Stryker bails at the first failing test, so a mutant the first seed
// catches does not pay for the others.
import { describe, expect, it } from 'vitest';
import { describeFailures, failedSeeds } from '../sim/harness.js';

describe('simulator, quick (mutation testing)', () => {
  // Seeds cycle through cluster sizes 3, 5, 7 (see test/sim/options.ts).
  for (let seed = 1; seed <= 12; seed++) {
    it(`seed ${seed} keeps safety, liveness and linearizability`, () => {
      const failures = failedSeeds(seed, 1);
      expect(failures.length, describeFailures(failures)).toBe(0);
    }, 60_000);
  }
});
