// The consensus core's public surface. See docs/raft.md.
export * from './types.js';
export { Raft } from './raft.js';
export { defaultRaftConfig, validateRaftConfig } from './config.js';
export { SeededPrng } from './prng.js';
export { RaftAssertionError } from './assert.js';
export { HardStateWrites, mustPersist } from './durability.js';
