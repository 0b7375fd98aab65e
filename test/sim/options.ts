// The knobs of one simulated run. Most are drawn from the seed (swarm testing: each seed gets
// its own mix of loss, latency, crash rate and so on, so the seeds together cover calm and
// hostile weather), and any of them can be pinned by the caller.

import { SeededPrng } from '../../src/raft/prng.js';
import type { NetworkOptions } from './network.js';

export type VariantName = 'correct' | 'commit-old-term' | 'forget-vote' | 'vote-short-log' | 'read-before-noop' | 'async-vote';
export const variantNames: readonly VariantName[] = ['correct', 'commit-old-term', 'forget-vote', 'vote-short-log', 'read-before-noop', 'async-vote'];

export interface FaultWeights {
  readonly crash: number;
  readonly crashLeader: number;
  readonly partition: number;
  readonly heal: number;
  readonly addNode: number;
  readonly removeNode: number;
  readonly transfer: number;
  readonly weather: number;
}

export interface RaftOverrides {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxInflightMsgs: number;
  readonly maxMsgBytes: number;
  readonly promoteLagEntries: number;
}

export interface SimOptions {
  readonly seed: number;
  /** Voters at the start: 3, 5 or 7. */
  readonly nodes: number;
  /** Events handled while faults are on (default: 2000 per founding voter); then the liveness phase. */
  readonly steps: number;
  readonly variant: VariantName;
  /** The biased fault options this run uses (see ./scenarios.ts), if any. */
  readonly scenario: Exclude<VariantName, 'correct'> | undefined;
  readonly network: NetworkOptions;
  /** The worst weather the `weather` fault may switch to. */
  readonly networkWorst: NetworkOptions;
  readonly faultIntervalMsMin: number;
  readonly faultIntervalMsMax: number;
  readonly weights: FaultWeights;
  /** A crashed node stays down for up to this long before it restarts. */
  readonly downMsMax: number;
  /** The simulated fsync takes 0..persistDelayMsMax ms; a crash in between loses the batch. */
  readonly persistDelayMsMax: number;
  /** A node snapshots its state machine and compacts once this many entries are applied past its snapshot. */
  readonly compactEveryEntries: number;
  readonly clients: number;
  readonly keys: number;
  readonly clientThinkMsMax: number;
  /** A client gives up on an operation after this long; its outcome is then unknown. */
  readonly clientTimeoutMs: number;
  /** Share of client operations that are reads, writes, compare-and-sets (the rest). */
  readonly readShare: number;
  readonly writeShare: number;
  /** One tick every tickMs (each node's clock drifts by up to 10%). */
  readonly tickMs: number;
  readonly raft: RaftOverrides;
  /** After the faults stop, a leader and every pending operation must show up within this. */
  readonly livenessMs: number;
  /** Keep a record of every event (not only the last ones), for replay comparisons. */
  readonly traceAll: boolean;
  /** How many recent events a violation report prints. */
  readonly traceTail: number;
}

export type SimOverrides = Partial<Omit<SimOptions, 'weights' | 'raft' | 'network' | 'networkWorst'>> & {
  readonly weights?: Partial<FaultWeights>;
  readonly raft?: Partial<RaftOverrides>;
  readonly network?: Partial<NetworkOptions>;
  readonly networkWorst?: Partial<NetworkOptions>;
};

const CLUSTER_SIZES = [3, 5, 7] as const;
/** Larger clusters exchange more messages per simulated second, so they get more steps. */
export const DEFAULT_STEPS_PER_NODE = 2000;

/** The cluster size seed `seed` uses when none is pinned: 3, 5, 7 in turn. */
export function clusterSizeForSeed(seed: number): number {
  return CLUSTER_SIZES[Math.abs(seed) % CLUSTER_SIZES.length] as number;
}

/** Options for `seed`, drawn from a PRNG of their own so that pinning one knob leaves the others. */
export function optionsForSeed(seed: number, overrides: SimOverrides = {}): SimOptions {
  const prng = new SeededPrng(seed ^ 0x5eed_0b75);
  const pick = (min: number, max: number): number => min + prng.nextInt(max - min + 1);
  const chance = (p: number): boolean => prng.nextFloat() < p;
  const dropPercent = [0, 1, 2, 5, 10][prng.nextInt(5)] as number;
  const network: NetworkOptions = {
    dropRate: dropPercent / 100,
    duplicateRate: [0, 0.01, 0.05][prng.nextInt(3)] as number,
    delayMsMin: pick(1, 3),
    delayMsMax: pick(4, 25),
    ...overrides.network,
  };
  const networkWorst: NetworkOptions = {
    dropRate: pick(10, 40) / 100,
    duplicateRate: 0.1,
    delayMsMin: network.delayMsMin,
    delayMsMax: pick(40, 150),
    ...overrides.networkWorst,
  };
  const weights: FaultWeights = {
    crash: pick(0, 4),
    crashLeader: pick(0, 3),
    partition: pick(0, 4),
    heal: pick(1, 4),
    addNode: pick(0, 2),
    removeNode: pick(0, 2),
    transfer: pick(0, 3),
    weather: pick(0, 2),
    ...overrides.weights,
  };
  const raft: RaftOverrides = {
    electionTicks: pick(8, 14),
    heartbeatTicks: pick(1, 3),
    preVote: chance(0.8),
    checkQuorum: chance(0.8),
    maxInflightMsgs: [1, 4, 256][prng.nextInt(3)] as number,
    // Small messages split catch-up into many appends; 1 byte means one entry per append.
    maxMsgBytes: [1, 200, 4096][prng.nextInt(3)] as number,
    promoteLagEntries: pick(0, 20),
    ...overrides.raft,
  };
  const readShare = pick(20, 50) / 100;
  const faultIntervalMsMin = pick(20, 150);
  const nodes = overrides.nodes ?? clusterSizeForSeed(seed);
  const base: SimOptions = {
    seed,
    nodes,
    steps: DEFAULT_STEPS_PER_NODE * nodes,
    variant: 'correct',
    scenario: undefined,
    network,
    networkWorst,
    faultIntervalMsMin,
    faultIntervalMsMax: faultIntervalMsMin + pick(50, 600),
    weights,
    downMsMax: pick(20, 1500),
    // One run in four has a slow disk (fsyncs of up to 20-80 ms): long windows in which
    // asynchronous writes are under way while the node goes on stepping.
    persistDelayMsMax: chance(0.25) ? pick(20, 80) : pick(0, 6),
    compactEveryEntries: pick(4, 60),
    clients: pick(2, 5),
    keys: pick(1, 4),
    clientThinkMsMax: pick(0, 40),
    clientTimeoutMs: pick(300, 3000),
    readShare,
    writeShare: (1 - readShare) * (pick(40, 80) / 100),
    tickMs: 10,
    raft,
    livenessMs: 20_000,
    traceAll: false,
    traceTail: 200,
  };
  const { weights: _w, raft: _r, network: _n, networkWorst: _nw, ...plain } = overrides;
  return { ...base, ...plain };
}

/** The command that replays a run with these options. */
export function replayCommand(options: SimOptions): string {
  const flags = [`--seed ${options.seed}`];
  if (options.variant !== 'correct') flags.push(`--variant ${options.variant}`);
  if (options.scenario !== undefined && options.scenario !== options.variant) flags.push(`--scenario ${options.scenario}`);
  flags.push(`--nodes ${options.nodes}`, `--steps ${options.steps}`);
  return `npm run sim -- ${flags.join(' ')}`;
}

export function describeOptions(options: SimOptions): string {
  const { network: n, networkWorst: w, weights, raft } = options;
  return [
    `seed=${options.seed} nodes=${options.nodes} steps=${options.steps} variant=${options.variant}${options.scenario === undefined ? '' : ` scenario=${options.scenario}`}`,
    `network: drop=${n.dropRate} dup=${n.duplicateRate} delay=${n.delayMsMin}..${n.delayMsMax}ms (worst: drop=${w.dropRate} dup=${w.duplicateRate} delay=${w.delayMsMin}..${w.delayMsMax}ms)`,
    `faults every ${options.faultIntervalMsMin}..${options.faultIntervalMsMax}ms, weights ${Object.entries(weights).map(([k, v]) => `${k}=${v}`).join(' ')}; down up to ${options.downMsMax}ms`,
    `persist 0..${options.persistDelayMsMax}ms, compact every ${options.compactEveryEntries} entries, tick ${options.tickMs}ms`,
    `clients=${options.clients} keys=${options.keys} reads=${options.readShare.toFixed(2)} writes=${options.writeShare.toFixed(2)} think<=${options.clientThinkMsMax}ms timeout=${options.clientTimeoutMs}ms`,
    `raft: ${Object.entries(raft).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`,
  ].join('\n');
}
