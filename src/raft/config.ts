import type { NodeId, Prng, RaftConfig } from './types.js';
import { assert } from './assert.js';

/**
 * Defaults sized for the server driver's 100 ms tick: a follower campaigns after 1 to 2 s of
 * silence (randomized, Raft §5.2), a leader sends heartbeats every 100 ms.
 */
export function defaultRaftConfig(id: NodeId, prng: Prng, overrides: Partial<RaftConfig> = {}): RaftConfig {
  const config: RaftConfig = {
    id,
    group: 1,
    electionTicks: 10,
    heartbeatTicks: 1,
    prng,
    preVote: true,
    checkQuorum: true,
    maxInflightMsgs: 256,
    maxInflightBytes: 32 * 1024 * 1024,
    maxMsgBytes: 1024 * 1024,
    promoteLagEntries: 64,
    maxPendingReads: 100_000,
    ...overrides,
  };
  validateRaftConfig(config);
  return config;
}

export function validateRaftConfig(config: RaftConfig): void {
  assert(Number.isInteger(config.id) && config.id > 0, `node id must be a positive integer, got ${config.id}`);
  assert(config.heartbeatTicks >= 1, `heartbeatTicks must be >= 1, got ${config.heartbeatTicks}`);
  assert(config.electionTicks > config.heartbeatTicks,
    `electionTicks (${config.electionTicks}) must exceed heartbeatTicks (${config.heartbeatTicks})`);
  assert(config.maxInflightMsgs >= 1, `maxInflightMsgs must be >= 1, got ${config.maxInflightMsgs}`);
  assert(config.maxMsgBytes >= 1, `maxMsgBytes must be >= 1, got ${config.maxMsgBytes}`);
}
