// A short simulator run for mutation testing (npm run mutation): a few dozen seeds across the
// three cluster sizes, so that Stryker can run it once per mutant of src/raft in reasonable
// time. The full 2,000-seed suite lives in test/sim and runs in npm test.
import { describe, expect, it } from 'vitest';
import { describeFailures, failedSeeds } from '../sim/harness.js';

describe('simulator, quick (mutation testing)', () => {
  it('seeds 1..15 keep safety, liveness and linearizability', () => {
    const failures = failedSeeds(1, 15);
    expect(failures.length, describeFailures(failures)).toBe(0);
  }, 300_000);
});
