// Fault options biased toward the schedule that makes each deliberately broken rule matter.
// Only the options change; the checks are the very ones every correct run goes through. Each
// scenario also names the rules whose violation counts as catching the bug: a broken variant
// that merely trips a liveness bound has not been caught.

import type { SimOverrides, VariantName } from './options.js';

export interface Scenario {
  readonly overrides: SimOverrides;
  /** The violations that show the bug was caught. */
  readonly rules: readonly string[];
  /** A test demands a catch within this many seeds (1..maxSeeds). */
  readonly maxSeeds: number;
}

const SAFETY_RULES = [
  'Election Safety (§5.2)',
  'Log Matching (§5.3)',
  'Leader Completeness (§5.4)',
  'State Machine Safety (§5.4.3)',
  'Linearizability',
] as const;

const NO_MEMBERSHIP = { addNode: 0, removeNode: 0 } as const;
/** Split elections: three nodes, no PreVote or CheckQuorum, short election timeouts. */
const SPLIT_ELECTIONS = { nodes: 3, steps: 10_000, raft: { preVote: false, checkQuorum: false, electionTicks: 8 } } as const;

export type ScenarioName = Exclude<VariantName, 'correct'>;

export const scenarios: Record<ScenarioName, Scenario> = {
  // Raft Figure 8: an old-term entry counted as committed once on a majority, then overwritten
  // by a leader that never had it. It takes leaders crashing right after replicating old
  // entries one at a time (one entry per append, one append in flight), and no PreVote or
  // CheckQuorum lease to slow the churn.
  'commit-old-term': {
    overrides: {
      nodes: 3,
      steps: 10_000,
      raft: { maxMsgBytes: 1, maxInflightMsgs: 1, preVote: false, checkQuorum: false, electionTicks: 8 },
      network: { delayMsMin: 2, delayMsMax: 25 },
      persistDelayMsMax: 5,
      weights: { crash: 2, crashLeader: 8, partition: 3, heal: 2, transfer: 0, weather: 0, ...NO_MEMBERSHIP },
      downMsMax: 150,
      faultIntervalMsMin: 10,
      faultIntervalMsMax: 60,
      readShare: 0.1,
      writeShare: 0.8,
      clients: 5,
    },
    rules: SAFETY_RULES,
    maxSeeds: 300,
  },
  // A voter that crashes after voting and comes back at once with no vote can vote again in the
  // same term: split elections (no PreVote, slow links) and quick crash-restarts.
  'forget-vote': {
    overrides: {
      ...SPLIT_ELECTIONS,
      network: { delayMsMin: 2, delayMsMax: 30 },
      weights: { crash: 6, crashLeader: 1, partition: 1, heal: 1, transfer: 1, weather: 0, ...NO_MEMBERSHIP },
      downMsMax: 20,
      faultIntervalMsMin: 5,
      faultIntervalMsMax: 30,
    },
    rules: SAFETY_RULES,
    maxSeeds: 300,
  },
  // A candidate whose new term is not yet durable wins, leads, crashes before the write
  // completes and comes back in the old term: a slow disk, split elections, quick restarts.
  'async-vote': {
    overrides: {
      ...SPLIT_ELECTIONS,
      network: { delayMsMin: 1, delayMsMax: 10 },
      persistDelayMsMax: 80,
      weights: { crash: 4, crashLeader: 6, partition: 1, heal: 1, transfer: 0, weather: 0, ...NO_MEMBERSHIP },
      downMsMax: 20,
      faultIntervalMsMin: 10,
      faultIntervalMsMax: 60,
    },
    rules: SAFETY_RULES,
    maxSeeds: 300,
  },
  // A candidate with a shorter log wins: any crash or partition that leaves a lagging node
  // able to campaign.
  'vote-short-log': {
    overrides: {
      nodes: 5,
      weights: { crash: 3, crashLeader: 3, partition: 3, heal: 2, transfer: 1, weather: 1, ...NO_MEMBERSHIP },
      downMsMax: 300,
      faultIntervalMsMin: 20,
      faultIntervalMsMax: 150,
      writeShare: 0.6,
    },
    rules: SAFETY_RULES,
    maxSeeds: 300,
  },
  // A new leader answers ReadIndex with a commit index it has not yet brought up to date (its
  // no-op is not committed): a read right after a leader change misses a write that was already
  // acknowledged. Frequent transfers and leader crashes, one key, many readers.
  'read-before-noop': {
    overrides: {
      nodes: 3,
      raft: { heartbeatTicks: 3 },
      network: { delayMsMin: 1, delayMsMax: 20 },
      weights: { crash: 1, crashLeader: 3, partition: 2, heal: 2, transfer: 4, weather: 0, ...NO_MEMBERSHIP },
      downMsMax: 100,
      faultIntervalMsMin: 30,
      faultIntervalMsMax: 120,
      readShare: 0.5,
      writeShare: 0.45,
      clients: 5,
      keys: 1,
      clientThinkMsMax: 2,
    },
    rules: SAFETY_RULES,
    maxSeeds: 300,
  },
};

/**
 * The overrides for a run biased by `scenario`: its fault options, then the caller's own. The
 * variant (the core that runs) is the caller's business: the correct core can run a scenario too.
 */
export function withScenario(scenario: ScenarioName | undefined, overrides: SimOverrides = {}): SimOverrides {
  if (scenario === undefined) return overrides;
  const base = scenarios[scenario].overrides;
  return {
    ...base,
    ...overrides,
    scenario,
    weights: { ...base.weights, ...overrides.weights },
    raft: { ...base.raft, ...overrides.raft },
    network: { ...base.network, ...overrides.network },
  };
}
