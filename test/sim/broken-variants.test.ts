// The simulator's checks can fail. For each of four Raft rules, a deliberately broken core (a
// subclass overriding one method, or storage that forgets the vote) runs under fault options
// biased toward the schedule that makes the rule matter (./scenarios.ts), and the simulator
// must report a safety or linearizability violation within a bounded number of seeds. The
// seed that catches it is then run with the correct core on the very same options, which must
// not show that violation: the catch is the broken rule's doing, not the schedule's.
import { describe, expect, it } from 'vitest';
import { optionsForSeed } from './options.js';
import { scenarios, withScenario, type ScenarioName } from './scenarios.js';
import { formatViolation, runSimulation, type SimResult } from './simulator.js';

function firstCatch(variant: ScenarioName): { seed: number; result: SimResult } | undefined {
  const scenario = scenarios[variant];
  for (let seed = 1; seed <= scenario.maxSeeds; seed++) {
    const result = runSimulation(optionsForSeed(seed, withScenario(variant, { variant })));
    if (result.violation !== undefined && scenario.rules.includes(result.violation.rule)) return { seed, result };
  }
  return undefined;
}

const cases: { variant: ScenarioName; rule: string }[] = [
  { variant: 'commit-old-term', rule: 'counting replicas of old-term entries toward commitment (Raft §5.4.2, Figure 8)' },
  { variant: 'forget-vote', rule: 'forgetting the vote on restart (Raft §5.1, Figure 2: votedFor is persistent)' },
  { variant: 'vote-short-log', rule: 'granting a vote to a candidate with a shorter log (Raft §5.4.1)' },
  { variant: 'read-before-noop', rule: 'serving ReadIndex before the no-op of the term commits (thesis §6.4)' },
  { variant: 'async-vote', rule: 'acting on a new term and vote before they are durable (Figure 2), with asynchronous writes' },
];

describe('broken variants are caught', () => {
  for (const { variant, rule } of cases) {
    it(`${variant}: ${rule}`, () => {
      const caught = firstCatch(variant);
      expect(caught, `no violation within ${scenarios[variant].maxSeeds} seeds`).toBeDefined();
      const { seed, result } = caught as { seed: number; result: SimResult };
      console.info(`${variant}: caught at seed ${seed} (${result.violation?.rule}): ${result.violation?.message.slice(0, 200)}`);
      const correct = runSimulation({ ...result.options, variant: 'correct' });
      const sameRule = correct.violation !== undefined && scenarios[variant].rules.includes(correct.violation.rule);
      expect(sameRule, `the correct core fails seed ${seed} too:\n${formatViolation(correct)}`).toBe(false);
    }, 300_000);
  }
});
