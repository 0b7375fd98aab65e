// The order in which bench/compare-lib.ts runInterleaved runs its targets in each round. Kept
// apart from compare-lib, which installs signal handlers when imported, so that a unit test can
// import it.

/**
 * The targets in the order round `round` (counted from 1) runs them: the first (the reference)
 * always first, the others in the given order in odd rounds and reversed in even rounds. With two
 * compared targets (compare-ab, floor) each runs in each position equally often over an even
 * number of rounds; with three or more the middle ones would not move (rotate them instead).
 */
export function roundOrder<T>(targets: readonly T[], round: number): T[] {
  const [reference, ...others] = targets;
  if (reference === undefined) return [];
  return [reference, ...(round % 2 === 0 ? others.reverse() : others)];
}
