// What happened in a run, for humans. The simulator records every event it handles (sends,
// drops, deliveries, crashes, role changes, commits, client calls) into a ring buffer of the
// most recent ones; a violation report prints them. Messages are kept by reference and only
// turned into text when printed, so recording costs little. A running digest over every record
// lets a test compare two runs of one seed without keeping both traces.

import type { Message, NodeId } from '../../src/raft/types.js';
import { assertNever } from '../../src/raft/types.js';
import { Digest } from './hash.js';

export type TraceKind =
  | 'send' | 'drop' | 'deliver' | 'lost' | 'dup'
  | 'ready' | 'persist' | 'role' | 'commit' | 'apply' | 'snapshot' | 'compact'
  | 'crash' | 'restart' | 'stop' | 'fault' | 'client' | 'phase' | 'violation';

const KIND_CODES: Record<TraceKind, number> = {
  send: 1, drop: 2, deliver: 3, lost: 4, dup: 5, ready: 6, persist: 7, role: 8, commit: 9, apply: 10, snapshot: 11,
  compact: 12, crash: 13, restart: 14, stop: 15, fault: 16, client: 17, phase: 18, violation: 19,
};

const MESSAGE_CODES: Record<Message['type'], number> = {
  preVote: 1, vote: 2, preVoteResp: 3, voteResp: 4, append: 5, appendResp: 6, heartbeat: 7, heartbeatResp: 8,
  snapshot: 9, timeoutNow: 10,
};

interface TraceRecord {
  readonly timeMs: number;
  readonly node: NodeId;
  readonly kind: TraceKind;
  readonly detail: string;
  readonly msg: Message | undefined;
}

export class Trace {
  private ring: (TraceRecord | undefined)[];
  private next = 0;
  private count = 0;
  private all: TraceRecord[] | undefined;
  private digest: Digest | undefined;

  constructor(readonly capacity: number, keepAll: boolean) {
    this.ring = new Array<TraceRecord | undefined>(capacity).fill(undefined);
    this.all = keepAll ? [] : undefined;
    this.digest = keepAll ? new Digest(1) : undefined;
  }

  add(timeMs: number, node: NodeId, kind: TraceKind, detail = '', msg?: Message): void {
    const record: TraceRecord = { timeMs, node, kind, detail, msg };
    this.ring[this.next] = record;
    this.next = (this.next + 1) % this.capacity;
    this.count++;
    const digest = this.digest;
    if (this.all === undefined || digest === undefined) return;
    this.all.push(record);
    digest.word(timeMs).word(node).word(KIND_CODES[kind]);
    if (detail !== '') digest.string(detail);
    if (msg !== undefined) digest.word(MESSAGE_CODES[msg.type]).word(msg.from).word(msg.to).word(msg.term);
  }

  /**
   * A digest of every record so far (equal for two runs exactly when their traces are), or
   * undefined when the trace keeps only the most recent records.
   */
  fingerprint(): number | undefined {
    return this.digest?.value();
  }

  get recorded(): number {
    return this.count;
  }

  /** The most recent records, oldest first, as text. */
  tail(limit = this.capacity): string[] {
    const records: TraceRecord[] = [];
    for (let k = 0; k < this.capacity; k++) {
      const record = this.ring[(this.next + k) % this.capacity];
      if (record !== undefined) records.push(record);
    }
    return records.slice(-limit).map(formatRecord);
  }

  /** Every record, when the trace was built to keep them all. */
  everything(): string[] {
    if (this.all === undefined) throw new Error('trace was not built to keep every record');
    return this.all.map(formatRecord);
  }
}

function formatRecord(record: TraceRecord): string {
  const time = `${String(record.timeMs).padStart(7)}ms`;
  const node = record.node === 0 ? '   ' : `n${record.node}`.padEnd(3);
  const message = record.msg === undefined ? '' : formatMessage(record.msg);
  const text = [message, record.detail].filter((part) => part !== '').join(' ');
  return `${time} ${node} ${record.kind.padEnd(8)} ${text}`;
}

export function formatMessage(msg: Message): string {
  const head = `${msg.type} ${msg.from}->${msg.to} t${msg.term}`;
  switch (msg.type) {
    case 'preVote':
    case 'vote':
      return `${head} last=${msg.lastLogIndex}/t${msg.lastLogTerm}${msg.type === 'vote' && msg.transfer ? ' transfer' : ''}`;
    case 'preVoteResp':
    case 'voteResp':
      return `${head} ${msg.reject ? 'reject' : 'grant'}`;
    case 'append': {
      const entries = msg.entries.length === 0 ? 'none'
        : `${msg.entries[0]?.index}..${msg.entries[msg.entries.length - 1]?.index}(${msg.entries.map((e) => `t${e.term}${e.kind === 'normal' ? '' : e.kind[0]}`).join(',')})`;
      return `${head} prev=${msg.prevIndex}/t${msg.prevTerm} entries=${entries} commit=${msg.commit}`;
    }
    case 'appendResp':
      return `${head} ${msg.reject ? `reject ${msg.index} hint=${msg.hintIndex}/t${msg.hintTerm}` : `ok ${msg.index}`}`;
    case 'heartbeat':
      return `${head} commit=${msg.commit} read=${msg.readRound}`;
    case 'heartbeatResp':
      return `${head} read=${msg.readRound}`;
    case 'snapshot':
      return `${head} at ${msg.snapshot.meta.index}/t${msg.snapshot.meta.term} voters=${msg.snapshot.meta.confState.voters.join(',')}`;
    case 'timeoutNow':
      return head;
    default:
      return assertNever(msg, 'message');
  }
}
