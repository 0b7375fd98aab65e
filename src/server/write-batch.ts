// The next log write of the driver's asynchronous storage writes (node.ts, writeAsync): the
// Readys that come while one write is under way are merged into one batch (group commit).
import type { Entry, HardState, Message, Ready } from '../raft/index.js';

export interface WriteBatch {
  /** The newest hard state of the merged Readys. */
  hardState: HardState | undefined;
  /** Entries to write; a later Ready's entries replace the batch's from their first index on. */
  readonly entries: Entry[];
  /** Every merged Ready's persistMessages, in order: sent once the batch is durable. */
  readonly persistMessages: Message[];
}

export function emptyWriteBatch(): WriteBatch {
  return { hardState: undefined, entries: [], persistMessages: [] };
}

/** Adds a Ready to the batch, as if the batch's Readys were written one after the other. */
export function mergeIntoBatch(batch: WriteBatch, ready: Pick<Ready, 'hardState' | 'entries' | 'persistMessages'>): void {
  if (ready.hardState) batch.hardState = ready.hardState;
  const first = ready.entries[0];
  if (first !== undefined) {
    const keep = batch.entries.findIndex((entry) => entry.index >= first.index);
    if (keep >= 0) batch.entries.length = keep;
    for (const entry of ready.entries) batch.entries.push(entry);
  }
  for (const message of ready.persistMessages) batch.persistMessages.push(message);
}

/** The batch's entries above `floor` (entries a snapshot covered since they were queued are dropped). */
export function entriesAbove(batch: WriteBatch, floor: number): Entry[] {
  const first = batch.entries[0];
  return first !== undefined && first.index <= floor ? batch.entries.filter((entry) => entry.index > floor) : batch.entries;
}
