// The tests Stryker runs against each mutant of src/raft: the core's unit tests and a short
// simulator run (the full suites are too slow to run once per mutant on two cores).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/raft/**/*.test.ts', 'test/mutation/**/*.test.ts'],
    exclude: ['test/unit/raft/purity.test.ts'],
    testTimeout: 300_000,
    pool: 'forks',
  },
});
