// mustPersist (src/raft/durability.ts): what step 2 of a Ready must write. A change of the commit
// index alone may be left unwritten, unless the durable one is below the membership in force;
// entries, a snapshot, a term or a vote may not.
import { describe, expect, it } from 'vitest';
import { HardStateWrites, mustPersist, type Entry, type HardState, type Snapshot } from '../../../src/raft/index.js';

const durable: HardState = { term: 3, vote: 2, commit: 10 };
const entry: Entry = { term: 3, index: 11, kind: 'normal', data: new Uint8Array([1]) };
const snapshot: Snapshot = { meta: { index: 20, term: 3, confState: { voters: [1, 2, 3], learners: [], removed: [] } }, data: new Uint8Array(0) };
/** The membership in force was set at or below the durable commit index. */
const settled = 4;

describe('mustPersist', () => {
  it('writes nothing for a Ready with no hard state, entries or snapshot', () => {
    expect(mustPersist({ hardState: undefined, entries: [], snapshot: undefined }, durable, settled)).toBe(false);
    expect(mustPersist({ hardState: undefined, entries: [], snapshot: undefined }, durable, 12)).toBe(false);
  });

  it('leaves a hard state that moved only its commit index unwritten', () => {
    expect(mustPersist({ hardState: { ...durable, commit: 11 }, entries: [], snapshot: undefined }, durable, settled)).toBe(false);
    expect(mustPersist({ hardState: { ...durable, commit: 11 }, entries: [], snapshot: undefined }, durable, 10)).toBe(false);
  });

  it('writes a new commit index while the durable one is below the membership in force', () => {
    expect(mustPersist({ hardState: { ...durable, commit: 11 }, entries: [], snapshot: undefined }, durable, 11)).toBe(true);
    // Even one that does not reach it yet (asynchronous writes): a later one will.
    expect(mustPersist({ hardState: { ...durable, commit: 11 }, entries: [], snapshot: undefined }, durable, 15)).toBe(true);
  });

  it('writes a new term or a new vote, whatever the commit index', () => {
    expect(mustPersist({ hardState: { ...durable, term: 4, vote: 0 }, entries: [], snapshot: undefined }, durable, settled)).toBe(true);
    expect(mustPersist({ hardState: { term: 3, vote: 0, commit: 10 }, entries: [], snapshot: undefined }, { term: 3, vote: 0, commit: 10 }, settled)).toBe(false);
    expect(mustPersist({ hardState: { term: 3, vote: 1, commit: 10 }, entries: [], snapshot: undefined }, { term: 3, vote: 0, commit: 10 }, settled)).toBe(true);
  });

  it('writes entries and snapshots, with or without a hard state', () => {
    expect(mustPersist({ hardState: undefined, entries: [entry], snapshot: undefined }, durable, settled)).toBe(true);
    expect(mustPersist({ hardState: { ...durable, commit: 11 }, entries: [entry], snapshot: undefined }, durable, settled)).toBe(true);
    expect(mustPersist({ hardState: undefined, entries: [], snapshot }, durable, settled)).toBe(true);
  });
});

describe('HardStateWrites', () => {
  it('holds a commit-only hard state and writes it with the next Ready that is written', () => {
    const writes = new HardStateWrites();
    expect(writes.next({ hardState: { ...durable, commit: 11 }, entries: [], snapshot: undefined }, durable, settled)).toBeNull();
    expect(writes.next({ hardState: { ...durable, commit: 12 }, entries: [], snapshot: undefined }, durable, settled)).toBeNull();
    expect(writes.unwritten).toEqual({ ...durable, commit: 12 });
    // Entries with no hard state of their own (the core had handed the newest one out already).
    expect(writes.next({ hardState: undefined, entries: [entry], snapshot: undefined }, durable, settled)).toEqual({ ...durable, commit: 12 });
    expect(writes.unwritten).toBeUndefined();
    expect(writes.next({ hardState: undefined, entries: [entry], snapshot: undefined }, durable, settled)).toBeUndefined();
  });

  it('writes a Ready\'s own hard state over the held one, and forgets the held one once written elsewhere', () => {
    const writes = new HardStateWrites();
    expect(writes.next({ hardState: { ...durable, commit: 11 }, entries: [], snapshot: undefined }, durable, settled)).toBeNull();
    expect(writes.next({ hardState: { term: 4, vote: 0, commit: 11 }, entries: [], snapshot: undefined }, durable, settled)).toEqual({ term: 4, vote: 0, commit: 11 });
    expect(writes.unwritten).toBeUndefined();
    expect(writes.next({ hardState: { ...durable, commit: 13 }, entries: [], snapshot: undefined }, durable, settled)).toBeNull();
    writes.written();
    expect(writes.unwritten).toBeUndefined();
    expect(writes.next({ hardState: undefined, entries: [entry], snapshot: undefined }, durable, settled)).toBeUndefined();
  });
});
