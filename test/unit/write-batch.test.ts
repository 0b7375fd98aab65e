// Merging Readys into the driver's next log write (src/server/write-batch.ts): the merged batch
// must leave the disk as writing the Readys one after another would.
import { describe, expect, it } from 'vitest';
import type { Entry, HardState, Message } from '../../src/raft/types.js';
import { emptyWriteBatch, entriesAbove, mergeIntoBatch } from '../../src/server/write-batch.js';

const entry = (index: number, term: number): Entry => ({ index, term, kind: 'normal', data: new Uint8Array([index, term]) });
const hs = (term: number, commit: number): HardState => ({ term, vote: 0, commit });
const ack = (index: number): Message => ({ type: 'appendResp', group: 1, from: 2, to: 1, term: 1, index, reject: false, rejectHint: 0, rejectHintTerm: 0 }) as unknown as Message;
const at = (entries: readonly Entry[]): [number, number][] => entries.map((e) => [e.index, e.term]);

describe('write batches', () => {
  it('appends entries that continue the batch, keeps the newest hard state and every message in order', () => {
    const batch = emptyWriteBatch();
    mergeIntoBatch(batch, { hardState: hs(1, 1), entries: [entry(1, 1), entry(2, 1)], persistMessages: [ack(2)] });
    mergeIntoBatch(batch, { hardState: undefined, entries: [entry(3, 1)], persistMessages: [ack(3)] });
    mergeIntoBatch(batch, { hardState: hs(1, 3), entries: [], persistMessages: [] });
    expect(at(batch.entries)).toEqual([[1, 1], [2, 1], [3, 1]]);
    expect(batch.hardState).toEqual(hs(1, 3));
    expect(batch.persistMessages).toEqual([ack(2), ack(3)]);
  });

  it('replaces the batch\'s entries from the first index of a later Ready on', () => {
    const batch = emptyWriteBatch();
    mergeIntoBatch(batch, { hardState: undefined, entries: [entry(4, 1), entry(5, 1), entry(6, 1)], persistMessages: [] });
    mergeIntoBatch(batch, { hardState: undefined, entries: [entry(5, 2)], persistMessages: [] });
    expect(at(batch.entries)).toEqual([[4, 1], [5, 2]]);
    // Starting below everything queued (it overwrites what the write under way holds too).
    mergeIntoBatch(batch, { hardState: undefined, entries: [entry(2, 3), entry(3, 3)], persistMessages: [] });
    expect(at(batch.entries)).toEqual([[2, 3], [3, 3]]);
  });

  it('drops entries at or below a compaction floor, and only those', () => {
    const batch = emptyWriteBatch();
    mergeIntoBatch(batch, { hardState: undefined, entries: [entry(7, 2), entry(8, 2), entry(9, 2)], persistMessages: [] });
    expect(at(entriesAbove(batch, 6))).toEqual([[7, 2], [8, 2], [9, 2]]);
    expect(at(entriesAbove(batch, 8))).toEqual([[9, 2]]);
    expect(entriesAbove(batch, 9)).toEqual([]);
  });
});
