// Helpers the simulator's vitest suites share: run a range of seeds, and turn the failures into
// a message that names each failing seed and shows the first one's trace, so a red test says
// exactly what to replay.

import { optionsForSeed, type SimOverrides } from './options.js';
import { formatViolation, runSimulation, type SimResult } from './simulator.js';

/** Steps per founding voter in the test suites (the command line defaults to more). */
export const TEST_STEPS_PER_NODE = 1000;

/** Runs seeds from..from+count-1 (cluster sizes 3, 5, 7 in turn) and returns the failed runs. */
export function failedSeeds(from: number, count: number, overrides: SimOverrides = {}): SimResult[] {
  const failures: SimResult[] = [];
  for (let seed = from; seed < from + count; seed++) {
    const options = optionsForSeed(seed, overrides);
    const result = runSimulation(overrides.steps === undefined ? { ...options, steps: TEST_STEPS_PER_NODE * options.nodes } : options);
    if (result.violation !== undefined) failures.push(result);
  }
  return failures;
}

/** One line per failed seed, then the first failure in full (its trace cut to `traceLines`). */
export function describeFailures(failures: readonly SimResult[], traceLines = 60): string {
  if (failures.length === 0) return 'no violations';
  const lines = failures.map((result) => `seed ${result.options.seed} (${result.options.nodes} nodes): ${result.violation?.rule}: ${result.violation?.message.slice(0, 300)}`);
  const first = formatViolation(failures[0] as SimResult).split('\n');
  const traceStart = first.findIndex((line) => line.startsWith('last '));
  const shortened = traceStart < 0 ? first : [...first.slice(0, traceStart), `last ${traceLines} events:`, ...first.slice(-traceLines - 1)];
  return [`${failures.length} seeds failed:`, ...lines, '', ...shortened].join('\n');
}
