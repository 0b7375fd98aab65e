// The safety properties of Raft (Figure 3 of the paper), checked incrementally as the simulator
// watches every node's Ready batches, so a check after every step costs a few map lookups:
//
// - Election Safety (§5.2): at most one leader per term. Every (term, leader) ever seen is kept,
//   from role changes and from the appends and heartbeats that only a leader sends.
// - Log Matching (§5.3): if two logs hold an entry with the same index and term, the logs are
//   identical up to it. Each node's log (the in-memory one, whose suffix reaches the simulator
//   in Ready.entries, and the persisted one, which is a prefix of it) is mirrored as prefix
//   digests: the digest at index i covers every entry up to i. The first digest seen for an
//   (index, term) is remembered and every later log with that pair must agree.
// - Leader Completeness (§5.4): a committed entry is in the log of every later leader. When a
//   node becomes leader, its log must reach the highest committed index with the committed
//   prefix digest there.
// - State Machine Safety (§5.4.3): no two nodes apply different entries at one index. The
//   committed prefix is one chain; every commit a node reports must extend or agree with it,
//   every applied entry must be the one committed there, and the state machine's digest after
//   applying index i must be the same on every node (which also checks snapshot images).
//
// A broken rule throws SafetyViolation; the simulator stops and prints the trace.

import type { Entry, NodeId, Snapshot } from '../../src/raft/types.js';
import { Digest, HASH_EMPTY } from './hash.js';

export class SafetyViolation extends Error {
  constructor(readonly rule: string, readonly detail: string) {
    super(`${rule}: ${detail}`);
    this.name = 'SafetyViolation';
  }
}

const contentDigests = new WeakMap<Entry, number>();

/** A digest of one entry's index, term, kind and payload. */
export function entryDigest(entry: Entry): number {
  const cached = contentDigests.get(entry);
  if (cached !== undefined) return cached;
  const digest = new Digest(entry.index).word(entry.term).string(entry.kind).bytes(entry.data);
  if (entry.change !== undefined) digest.string(entry.change.type).word(entry.change.nodeId).bytes(entry.change.context);
  const value = digest.value();
  contentDigests.set(entry, value);
  return value;
}

function chain(prefix: number, content: number): number {
  return new Digest(prefix).word(content).value();
}

/**
 * One node's log as the checks see it: the snapshot point, then per index the term and the
 * prefix digest (covering every entry up to that index).
 */
export class LogMirror {
  snapshotIndex = 0;
  snapshotTerm = 0;
  snapshotHash = HASH_EMPTY;
  private terms: number[] = [];
  private hashes: number[] = [];

  lastIndex(): number {
    return this.snapshotIndex + this.terms.length;
  }

  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.terms[index - this.snapshotIndex - 1];
  }

  /** The prefix digest at `index`, or undefined when the mirror does not reach it. */
  hash(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotHash;
    if (index < this.snapshotIndex) return undefined;
    return this.hashes[index - this.snapshotIndex - 1];
  }

  reset(snapshotIndex: number, snapshotTerm: number, snapshotHash: number): void {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.snapshotHash = snapshotHash;
    this.terms = [];
    this.hashes = [];
  }

  truncateFrom(index: number): void {
    const keep = Math.max(0, index - this.snapshotIndex - 1);
    this.terms.length = Math.min(this.terms.length, keep);
    this.hashes.length = Math.min(this.hashes.length, keep);
  }

  push(term: number, hash: number): void {
    this.terms.push(term);
    this.hashes.push(hash);
  }
}

export class Invariants {
  /** Election Safety: term -> the one leader seen in it. */
  readonly leaders = new Map<number, NodeId>();
  /** Log Matching: index -> (term -> prefix digest) for every entry any log ever held. */
  private seen = new Map<number, Map<number, number>>();
  /** The committed chain: prefix digest at each committed index (holes below snapshots). */
  private committed: number[] = [HASH_EMPTY];
  /** The term of the entry committed at each index (same holes), for messages. */
  private committedTerms: number[] = [0];
  maxCommitted = 0;
  /** State Machine Safety: entry digest applied at each index, and the state digest after it. */
  private appliedEntries: number[] = [];
  private stateDigests: number[] = [];
  /** Each client operation id and the index it was applied at (it must apply at most once). */
  private opApplied = new Map<number, number>();

  recordLeader(term: number, leader: NodeId, how: string): void {
    const known = this.leaders.get(term);
    if (known === undefined) {
      this.leaders.set(term, leader);
      return;
    }
    if (known !== leader) {
      throw new SafetyViolation('Election Safety (§5.2)', `term ${term} has two leaders: ${known} and ${leader} (${how})`);
    }
  }

  /** Entries appended to `node`'s log from entries[0].index on (Ready.entries or a restart). */
  appendEntries(node: NodeId, mirror: LogMirror, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    if (first <= mirror.snapshotIndex) {
      throw new SafetyViolation('Log shape', `node ${node} appends at ${first}, at or below its snapshot at ${mirror.snapshotIndex}`);
    }
    if (first > mirror.lastIndex() + 1) {
      throw new SafetyViolation('Log shape', `node ${node} appends at ${first}, leaving a gap after ${mirror.lastIndex()}`);
    }
    mirror.truncateFrom(first);
    let prefix = mirror.hash(first - 1) as number;
    for (const entry of entries) {
      if (entry.index !== mirror.lastIndex() + 1) {
        throw new SafetyViolation('Log shape', `node ${node} appends non-contiguous entry ${entry.index} after ${mirror.lastIndex()}`);
      }
      const previousTerm = mirror.term(entry.index - 1) as number;
      if (entry.term < previousTerm) {
        throw new SafetyViolation('Log shape', `node ${node} entry ${entry.index} has term ${entry.term} below the previous entry's ${previousTerm}`);
      }
      prefix = chain(prefix, entryDigest(entry));
      this.checkSeen(node, entry.index, entry.term, prefix);
      mirror.push(entry.term, prefix);
    }
  }

  private checkSeen(node: NodeId, index: number, term: number, prefix: number): void {
    let byTerm = this.seen.get(index);
    if (byTerm === undefined) {
      byTerm = new Map();
      this.seen.set(index, byTerm);
    }
    const known = byTerm.get(term);
    if (known === undefined) byTerm.set(term, prefix);
    else if (known !== prefix) {
      throw new SafetyViolation('Log Matching (§5.3)',
        `node ${node} holds an entry at index ${index} term ${term} whose log up to there differs from another log with the same index and term`);
    }
  }

  /** The digest of the log ending at (index, term) in some log seen so far. */
  seenHash(index: number, term: number): number | undefined {
    if (index === 0) return term === 0 ? HASH_EMPTY : undefined;
    return this.seen.get(index)?.get(term);
  }

  /** `node`'s log now starts at a snapshot (installed from the leader or restored at restart). */
  resetToSnapshot(node: NodeId, mirror: LogMirror, index: number, term: number): void {
    const hash = this.seenHash(index, term);
    if (hash === undefined) {
      throw new SafetyViolation('Log Matching (§5.3)', `node ${node} got a snapshot at index ${index} term ${term}, an entry no log ever held`);
    }
    const committedHash = this.committed[index];
    if (index > this.maxCommitted || (committedHash !== undefined && committedHash !== hash)) {
      throw new SafetyViolation('State Machine Safety (§5.4.3)',
        `node ${node} got a snapshot at index ${index} term ${term} that is not the committed prefix (max committed ${this.maxCommitted})`);
    }
    mirror.reset(index, term, hash);
  }

  /** `node` says every entry up to `commit` in its log is committed. */
  commit(node: NodeId, mirror: LogMirror, commit: number): void {
    if (commit > mirror.lastIndex()) {
      throw new SafetyViolation('Commit', `node ${node} commits ${commit} beyond its last index ${mirror.lastIndex()}`);
    }
    if (commit < mirror.snapshotIndex) {
      throw new SafetyViolation('Commit', `node ${node} commit ${commit} is below its snapshot at ${mirror.snapshotIndex}`);
    }
    const hash = mirror.hash(commit) as number;
    const rule = 'State Machine Safety (§5.4.3)';
    if (commit <= this.maxCommitted) {
      const known = this.committed[commit];
      if (known !== undefined && known !== hash) {
        throw new SafetyViolation(rule, `node ${node} commits index ${commit} term ${mirror.term(commit)}, a different entry (or log) than was committed there before (term ${this.committedTerms[commit] ?? '?'})`);
      }
      if (known === undefined) {
        this.committed[commit] = hash;
        this.committedTerms[commit] = mirror.term(commit) as number;
      }
      return;
    }
    // The new commit must extend the committed chain: our log must hold the committed prefix.
    const tip = this.maxCommitted;
    const tipHash = mirror.hash(tip);
    const knownTip = this.committed[tip];
    if (tipHash !== undefined && knownTip !== undefined && tipHash !== knownTip) {
      throw new SafetyViolation(rule, `node ${node} commits up to ${commit} on a log that differs from the committed prefix at ${tip}`);
    }
    for (let index = Math.max(tip + 1, mirror.snapshotIndex); index <= commit; index++) {
      this.committed[index] = mirror.hash(index) as number;
      this.committedTerms[index] = mirror.term(index) as number;
    }
    this.maxCommitted = commit;
  }

  /** Leader Completeness: a new leader's log holds every entry committed so far. */
  checkLeaderLog(node: NodeId, term: number, mirror: LogMirror): void {
    const tip = this.maxCommitted;
    const rule = 'Leader Completeness (§5.4)';
    if (tip === 0) return;
    if (tip > mirror.lastIndex()) {
      throw new SafetyViolation(rule, `node ${node} became leader of term ${term} with last index ${mirror.lastIndex()}, but ${tip} is committed`);
    }
    if (tip < mirror.snapshotIndex) {
      const known = this.committed[mirror.snapshotIndex];
      if (known !== undefined && known !== mirror.snapshotHash) {
        throw new SafetyViolation(rule, `node ${node} became leader of term ${term} on a snapshot at ${mirror.snapshotIndex} that is not the committed prefix`);
      }
      return;
    }
    const known = this.committed[tip];
    if (known !== undefined && mirror.hash(tip) !== known) {
      throw new SafetyViolation(rule,
        `node ${node} became leader of term ${term} without the committed entries up to ${tip} (its entry there has term ${mirror.term(tip)}, the committed one term ${this.committedTerms[tip] ?? '?'})`);
    }
  }

  /**
   * `node` applied `entry`; `opId` is the client operation in it (if any) and `stateDigest` the
   * state machine's digest afterwards.
   */
  applied(node: NodeId, mirror: LogMirror, entry: Entry, opId: number | undefined, stateDigest: number): void {
    const rule = 'State Machine Safety (§5.4.3)';
    const index = entry.index;
    if (index > this.maxCommitted) {
      throw new SafetyViolation(rule, `node ${node} applies index ${index} beyond the highest commit ever reported (${this.maxCommitted})`);
    }
    const term = mirror.term(index);
    if (term !== undefined && term !== entry.term) {
      throw new SafetyViolation(rule, `node ${node} applies index ${index} term ${entry.term}, but its log has term ${term} there`);
    }
    const hash = mirror.hash(index);
    const committedHash = this.committed[index];
    if (hash !== undefined && committedHash !== undefined && hash !== committedHash) {
      throw new SafetyViolation(rule, `node ${node} applies index ${index} term ${entry.term}, which is not the committed entry there`);
    }
    const digest = entryDigest(entry);
    const known = this.appliedEntries[index];
    if (known === undefined) this.appliedEntries[index] = digest;
    else if (known !== digest) {
      throw new SafetyViolation(rule, `node ${node} applies a different entry at index ${index} (term ${entry.term}) than another node did`);
    }
    this.checkState(node, index, stateDigest, 'after applying');
    if (opId !== undefined) {
      const at = this.opApplied.get(opId);
      if (at === undefined) this.opApplied.set(opId, index);
      else if (at !== index) {
        throw new SafetyViolation('At-most-once', `client operation ${opId} applied at index ${at} and again at ${index}`);
      }
    }
  }

  /** The state machine's digest at `index` (after applying it, or after installing a snapshot). */
  checkState(node: NodeId, index: number, stateDigest: number, how: string): void {
    const known = this.stateDigests[index];
    if (known === undefined) this.stateDigests[index] = stateDigest;
    else if (known !== stateDigest) {
      throw new SafetyViolation('State Machine Safety (§5.4.3)', `node ${node} state ${how} index ${index} differs from another node's state at that index`);
    }
  }

  /** A snapshot a leader sends must be a committed prefix with the state applied there. */
  checkSnapshotMessage(from: NodeId, snapshot: Snapshot, stateDigest: number): void {
    const { index, term } = snapshot.meta;
    const hash = this.seenHash(index, term);
    const committedHash = this.committed[index];
    if (hash === undefined || index > this.maxCommitted || (committedHash !== undefined && committedHash !== hash)) {
      throw new SafetyViolation('State Machine Safety (§5.4.3)', `node ${from} sends a snapshot at index ${index} term ${term} that is not a committed prefix`);
    }
    this.checkState(from, index, stateDigest, 'in the snapshot it sends at');
  }
}
