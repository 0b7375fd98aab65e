// A run is a pure function of its seed and options: the same seed gives the identical trace
// (every send, drop, delivery, crash, role change, commit and client call, with its simulated
// time) twice, and the identical verdict, and a different seed gives a different trace. Seeds
// of each cluster size, and one of a broken variant that ends in a violation.
import { describe, expect, it } from 'vitest';
import { optionsForSeed } from './options.js';
import { withScenario } from './scenarios.js';
import { runSimulation } from './simulator.js';

describe('replay', () => {
  for (const nodes of [3, 5, 7]) {
    it(`a ${nodes}-node seed replays to the identical trace`, () => {
      const options = optionsForSeed(11 + nodes, { nodes, steps: 600 * nodes, traceAll: true });
      const first = runSimulation(options);
      const second = runSimulation(options);
      expect(first.traceAll?.length).toBeGreaterThan(1000);
      expect(second.traceAll).toEqual(first.traceAll);
      expect(second.fingerprint).toBe(first.fingerprint);
      expect(second.violation).toEqual(first.violation);
      const other = runSimulation(optionsForSeed(12 + nodes, { nodes, steps: 600 * nodes, traceAll: true }));
      expect(other.fingerprint).not.toBe(first.fingerprint);
    });
  }

  it('a violation replays to the identical report', () => {
    const options = optionsForSeed(1, withScenario('vote-short-log', { variant: 'vote-short-log', traceAll: true }));
    let seed = 1;
    let first = runSimulation(options);
    while (first.violation === undefined && seed < 50) {
      seed++;
      first = runSimulation(optionsForSeed(seed, withScenario('vote-short-log', { variant: 'vote-short-log', traceAll: true })));
    }
    expect(first.violation).toBeDefined();
    const second = runSimulation(first.options);
    expect(second.violation).toEqual(first.violation);
    expect(second.traceAll).toEqual(first.traceAll);
  });
});
