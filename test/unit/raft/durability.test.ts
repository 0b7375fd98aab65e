// mustPersist (src/raft/durability.ts): what step 2 of a Ready must write. Only a change of the
// commit index alone may be left unwritten; entries, a snapshot, a term or a vote may not.
import { describe, expect, it } from 'vitest';
import { mustPersist, type Entry, type HardState, type Snapshot } from '../../../src/raft/index.js';

const durable: HardState = { term: 3, vote: 2, commit: 10 };
const entry: Entry = { term: 3, index: 11, kind: 'normal', data: new Uint8Array([1]) };
const snapshot: Snapshot = { meta: { index: 20, term: 3, confState: { voters: [1, 2, 3], learners: [], removed: [] } }, data: new Uint8Array(0) };

describe('mustPersist', () => {
  it('writes nothing for a Ready with no hard state, entries or snapshot', () => {
    expect(mustPersist({ hardState: undefined, entries: [], snapshot: undefined }, durable)).toBe(false);
  });

  it('leaves a hard state that moved only its commit index unwritten', () => {
    expect(mustPersist({ hardState: { ...durable, commit: 11 }, entries: [], snapshot: undefined }, durable)).toBe(false);
  });

  it('writes a new term or a new vote, whatever the commit index', () => {
    expect(mustPersist({ hardState: { ...durable, term: 4, vote: 0 }, entries: [], snapshot: undefined }, durable)).toBe(true);
    expect(mustPersist({ hardState: { term: 3, vote: 0, commit: 10 }, entries: [], snapshot: undefined }, { term: 3, vote: 0, commit: 10 })).toBe(false);
    expect(mustPersist({ hardState: { term: 3, vote: 1, commit: 10 }, entries: [], snapshot: undefined }, { term: 3, vote: 0, commit: 10 })).toBe(true);
  });

  it('writes entries and snapshots, with or without a hard state', () => {
    expect(mustPersist({ hardState: undefined, entries: [entry], snapshot: undefined }, durable)).toBe(true);
    expect(mustPersist({ hardState: { ...durable, commit: 11 }, entries: [entry], snapshot: undefined }, durable)).toBe(true);
    expect(mustPersist({ hardState: undefined, entries: [], snapshot }, durable)).toBe(true);
  });
});
