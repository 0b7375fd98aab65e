// Helpers for the exact-behaviour tests of the Raft class (mutation-raft-*.test.ts): one core
// driven by hand-made messages, with a PRNG that always draws 0 so election timeouts are exactly
// electionTicks. Every message a test feeds in is written out, so a test states precisely which
// input leads to which output.
import { Raft, defaultRaftConfig, type ConfState, type Entry, type HardState, type Message, type NodeId, type RaftConfig, type ReadState, type Snapshot } from '../../../src/raft/index.js';

export const zeroPrng = { nextInt: (): number => 0 };

export interface Drained {
  messages: Message[];
  /** Messages sent only after the Ready's state was durable (votes, acknowledgements). */
  persisted: Message[];
  entries: Entry[];
  committed: Entry[];
  readStates: ReadState[];
  droppedReads: number[];
  hardStates: HardState[];
  snapshots: Snapshot[];
}

/** Runs the Ready loop until the node has nothing more to hand out. */
export function drain(node: Raft): Drained {
  const out: Drained = { messages: [], persisted: [], entries: [], committed: [], readStates: [], droppedReads: [], hardStates: [], snapshots: [] };
  for (let k = 0; node.hasReady(); k++) {
    if (k > 100) throw new Error('endless Ready');
    const ready = node.ready();
    out.messages.push(...ready.messages);
    out.persisted.push(...ready.persistMessages);
    out.entries.push(...ready.entries);
    out.committed.push(...ready.committedEntries);
    out.readStates.push(...ready.readStates);
    out.droppedReads.push(...ready.droppedReads);
    if (ready.hardState) out.hardStates.push(ready.hardState);
    if (ready.snapshot) out.snapshots.push(ready.snapshot);
    node.advance();
  }
  return out;
}

export interface MakeOptions {
  voters?: NodeId[];
  learners?: NodeId[];
  config?: Partial<RaftConfig>;
  hardState?: HardState;
  entries?: Entry[];
  snapshot?: Snapshot;
}

export function make(id: NodeId, options: MakeOptions = {}): Raft {
  const initialConf: ConfState = { voters: options.voters ?? [1, 2, 3], learners: options.learners ?? [], removed: [] };
  return new Raft(defaultRaftConfig(id, zeroPrng, options.config ?? {}), {
    hardState: options.hardState ?? { term: 0, vote: 0, commit: 0 },
    snapshot: options.snapshot,
    entries: options.entries ?? [],
    initialConf,
  });
}

export const normal = (index: number, term: number, data = 'x'): Entry => ({ index, term, kind: 'normal', data: new TextEncoder().encode(data) });

/** Message constructors with group 1 filled in. */
export const msg = {
  append: (from: NodeId, to: NodeId, term: number, prevIndex: number, prevTerm: number, entries: Entry[], commit: number): Message =>
    ({ type: 'append', group: 1, from, to, term, prevIndex, prevTerm, entries, commit }),
  appendResp: (from: NodeId, to: NodeId, term: number, index: number, reject = false, hintIndex = 0, hintTerm = 0): Message =>
    ({ type: 'appendResp', group: 1, from, to, term, index, reject, hintIndex, hintTerm }),
  heartbeat: (from: NodeId, to: NodeId, term: number, commit: number, readRound = 0): Message =>
    ({ type: 'heartbeat', group: 1, from, to, term, commit, readRound }),
  heartbeatResp: (from: NodeId, to: NodeId, term: number, readRound = 0): Message =>
    ({ type: 'heartbeatResp', group: 1, from, to, term, readRound }),
  vote: (from: NodeId, to: NodeId, term: number, lastLogIndex: number, lastLogTerm: number, transfer = false): Message =>
    ({ type: 'vote', group: 1, from, to, term, lastLogIndex, lastLogTerm, transfer }),
  preVote: (from: NodeId, to: NodeId, term: number, lastLogIndex: number, lastLogTerm: number): Message =>
    ({ type: 'preVote', group: 1, from, to, term, lastLogIndex, lastLogTerm }),
  voteResp: (from: NodeId, to: NodeId, term: number, reject = false): Message => ({ type: 'voteResp', group: 1, from, to, term, reject }),
  preVoteResp: (from: NodeId, to: NodeId, term: number, reject = false): Message => ({ type: 'preVoteResp', group: 1, from, to, term, reject }),
  timeoutNow: (from: NodeId, to: NodeId, term: number): Message => ({ type: 'timeoutNow', group: 1, from, to, term }),
  snapshot: (from: NodeId, to: NodeId, term: number, snapshot: Snapshot): Message => ({ type: 'snapshot', group: 1, from, to, term, snapshot }),
};

/**
 * Node 1 elected leader of term 1 in a cluster of `voters` (PreVote on unless the config says
 * otherwise), its no-op (index 1) acknowledged by every other voter unless `commitNoop` is
 * false. Returns the node with its Ready drained.
 */
export function leader(options: MakeOptions & { commitNoop?: boolean } = {}): Raft {
  const voters = options.voters ?? [1, 2, 3];
  const node = make(1, options);
  const { electionTicks = 10 } = options.config ?? {};
  for (let t = 0; t < electionTicks; t++) node.tick();
  const term = node.status().role === 'preCandidate' ? node.status().term + 1 : node.status().term;
  if (node.status().role === 'preCandidate') {
    for (const id of voters) if (id !== 1) node.step(msg.preVoteResp(id, 1, term));
  }
  for (const id of voters) if (id !== 1 && node.status().role === 'candidate') node.step(msg.voteResp(id, 1, term));
  if (node.status().role !== 'leader') throw new Error(`node 1 did not win: ${node.status().role}`);
  drain(node);
  if (options.commitNoop !== false) {
    const last = node.status().lastIndex;
    for (const id of voters) if (id !== 1) node.step(msg.appendResp(id, 1, term, last));
    drain(node);
  }
  return node;
}

/** The messages of one type, narrowed. */
export function ofType<T extends Message['type']>(messages: readonly Message[], type: T): Extract<Message, { type: T }>[] {
  return messages.filter((m): m is Extract<Message, { type: T }> => m.type === type);
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
