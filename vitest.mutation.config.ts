// The tests Stryker runs against each mutant of src/raft: the core's unit tests and a short
// simulator run (the full suites are too slow to run once per mutant on two cores).
//
// Stryker runs with coverageAnalysis "perTest" and bails at the first failing test, so a mutant
// only runs the tests that reach it, and stops at the first one that kills it. The sequencer
// below runs the fast unit test files before the simulator file, so a mutant a unit test kills
// never pays for the simulator (vitest's default order puts the slowest file first).
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

class UnitTestsFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isSim = (spec: TestSpecification): boolean => spec.moduleId.includes('/test/mutation/');
    return [...sorted.filter((spec) => !isSim(spec)), ...sorted.filter(isSim)];
  }
}

export default defineConfig({
  test: {
    include: ['test/unit/raft/**/*.test.ts', 'test/mutation/**/*.test.ts'],
    exclude: ['test/unit/raft/purity.test.ts'],
    testTimeout: 300_000,
    pool: 'forks',
    sequence: { sequencer: UnitTestsFirst },
  },
});
