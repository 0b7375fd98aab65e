// The Maelstrom node's rules, driven in-process and deterministically: several MaelstromNode
// instances (the class the `raftis maelstrom` process runs) share a hand-run network and a fake
// clock, so a test can hold back one kind of message, cut a link or let time pass, and then
// look at exactly what each client was told. It proves:
// - the Raft codec round-trips every message kind through JSON;
// - a follower proxies requests to the leader and relays the answer under its own msg_id;
// - error codes are definite only when the operation certainly did not happen: a request that
//   never found a leader gets 11, a write whose entry was replaced by a new leader's gets 11,
//   a write stuck on a deposed leader or a forward nobody answers gets 0 (timeout);
// - a read waits for the writes its node accepted before it (one client's pipelined write then
//   read sees the write), even when leadership is confirmed before the write commits;
// - a follower that fell behind a compacted log catches up from a snapshot and serves the
//   right values once it leads.
import { describe, expect, it } from 'vitest';
import { MaelstromNode, defaultMaelstromNodeOptions, raftIds, type MaelstromNodeOptions } from '../../src/maelstrom/node.js';
import type { Body, Envelope } from '../../src/maelstrom/protocol.js';
import { decodeRaftMessage, encodeRaftMessage, RaftCodecError } from '../../src/maelstrom/raft-codec.js';
import type { Message } from '../../src/raft/index.js';

const TICK_MS = 10;

class Cluster {
  readonly nodes = new Map<string, MaelstromNode>();
  time = 0;
  private inflight: Envelope[] = [];
  /** Replies to clients, in the order they were sent. */
  readonly replies: Envelope[] = [];
  /** Cut links, as "from->to". */
  readonly cut = new Set<string>();
  /** Node-to-node messages for which this returns true are dropped. */
  drop: (envelope: Envelope) => boolean = () => false;
  readonly sent: Envelope[] = [];
  private clientMsgId = 100;

  constructor(readonly names: readonly string[], options: (name: string) => Partial<MaelstromNodeOptions> = () => ({})) {
    for (const name of names) {
      const node = new MaelstromNode({ ...defaultMaelstromNodeOptions, seed: 3, ...options(name) }, {
        send: (envelope) => {
          this.sent.push(envelope);
          if (this.nodes.has(envelope.dest)) this.inflight.push(envelope);
          else this.replies.push(envelope);
        },
        now: () => this.time,
        log: { info: () => {}, warn: () => {} },
      });
      this.nodes.set(name, node);
      node.receive({ src: 'c0', dest: name, body: { type: 'init', msg_id: 1, node_id: name, node_ids: [...names] } });
      node.flush();
    }
    this.replies.length = 0;
  }

  node(name: string): MaelstromNode {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** Delivers messages until none are left (or `rounds` passes). */
  deliver(rounds = 100): void {
    for (let round = 0; round < rounds && this.inflight.length > 0; round++) {
      const batch = this.inflight;
      this.inflight = [];
      for (const envelope of batch) {
        if (this.cut.has(`${envelope.src}->${envelope.dest}`) || this.drop(envelope)) continue;
        this.node(envelope.dest).receive(envelope);
      }
      for (const node of this.nodes.values()) node.flush();
    }
  }

  tick(count = 1): void {
    for (let t = 0; t < count; t++) {
      this.time += TICK_MS;
      for (const node of this.nodes.values()) {
        node.tick();
        node.flush();
      }
      this.deliver();
    }
  }

  /** The one node (other than `not`) that believes it leads, if there is exactly one. */
  leader(not?: string): string | undefined {
    const leaders = this.names.filter((name) => name !== not && this.node(name).status()?.role === 'leader');
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /** Ticks until one leader other than `not` is known to every node connected to it. */
  electLeader(not?: string, maxTicks = 500): string {
    for (let t = 0; t < maxTicks; t++) {
      const leader = this.leader(not);
      if (leader !== undefined && this.names.every((name) => this.cut.has(`${leader}->${name}`) || this.node(name).status()?.leader === raftIds(this.names).get(leader))) {
        return leader;
      }
      this.tick();
    }
    throw new Error(`no leader after ${maxTicks} ticks`);
  }

  isolate(name: string): void {
    for (const other of this.names) {
      if (other === name) continue;
      this.cut.add(`${name}->${other}`);
      this.cut.add(`${other}->${name}`);
    }
  }

  /** Sends a client request (without flushing); returns its msg_id. */
  request(node: string, body: Body, client = 'c1'): number {
    const msgId = this.clientMsgId++;
    this.node(node).receive({ src: client, dest: node, body: { ...body, msg_id: msgId } });
    return msgId;
  }

  /** The reply to `msgId`, or undefined. */
  reply(msgId: number): Body | undefined {
    return this.replies.find((envelope) => envelope.body.in_reply_to === msgId)?.body;
  }

  /** Ticks until `msgId` is answered; fails after `maxTicks`. */
  await(msgId: number, maxTicks = 500): Body {
    for (let t = 0; t < maxTicks; t++) {
      this.deliver();
      const reply = this.reply(msgId);
      if (reply) return reply;
      this.tick();
    }
    throw new Error(`no reply to ${msgId} after ${maxTicks} ticks`);
  }
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('the raft codec', () => {
  const base = { group: 1, from: 2, to: 3, term: 7 };
  const messages: Message[] = [
    { ...base, type: 'preVote', lastLogIndex: 9, lastLogTerm: 6 },
    { ...base, type: 'vote', lastLogIndex: 9, lastLogTerm: 6, transfer: true },
    { ...base, type: 'preVoteResp', reject: false },
    { ...base, type: 'voteResp', reject: true },
    {
      ...base,
      type: 'append',
      prevIndex: 4,
      prevTerm: 5,
      commit: 3,
      entries: [
        { term: 7, index: 5, kind: 'normal', data: bytes('{"id":"n1:1"}') },
        { term: 7, index: 6, kind: 'noop', data: new Uint8Array(0) },
        { term: 7, index: 7, kind: 'conf', data: new Uint8Array(0), change: { type: 'addLearner', nodeId: 4, context: bytes('addr') } },
      ],
    },
    { ...base, type: 'appendResp', reject: true, index: 4, hintIndex: 2, hintTerm: 1 },
    { ...base, type: 'heartbeat', commit: 3, readRound: 2 },
    { ...base, type: 'heartbeatResp', readRound: 2 },
    { ...base, type: 'snapshot', snapshot: { meta: { index: 10, term: 6, confState: { voters: [1, 2, 3], learners: [4], removed: [5] } }, data: new Uint8Array([0, 255, 1, 128]) } },
    { ...base, type: 'timeoutNow' },
  ];
  it.each(messages.map((message) => [message.type, message] as const))('round-trips %s through JSON text', (_type, message) => {
    const decoded = decodeRaftMessage(JSON.parse(JSON.stringify(encodeRaftMessage(message))));
    expect(decoded).toEqual(message);
  });

  it.each([
    ['an unknown type', { ...base, type: 'gossip' }],
    ['a negative term', { ...base, term: -1, type: 'timeoutNow' }],
    ['a fractional index', { ...base, type: 'heartbeatResp', readRound: 1.5 }],
    ['a missing flag', { ...base, type: 'voteResp' }],
    ['bad base64', { ...base, type: 'append', prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ term: 1, index: 1, kind: 'normal', data: 'not base64!' }] }],
    ['a bad entry kind', { ...base, type: 'append', prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ term: 1, index: 1, kind: 'weird', data: '' }] }],
  ])('refuses %s', (_what, value) => {
    expect(() => decodeRaftMessage(value)).toThrow(RaftCodecError);
  });
});

describe('node ids', () => {
  it('numbers names by length then text, whatever order init lists them in', () => {
    expect([...raftIds(['n3', 'n1', 'n2'])]).toEqual([['n1', 1], ['n2', 2], ['n3', 3]]);
    expect([...raftIds(['n10', 'n9', 'n0'])]).toEqual([['n0', 1], ['n9', 2], ['n10', 3]]);
  });
});

describe('a Maelstrom node', () => {
  it('proxies a follower\'s requests to the leader and relays the answers under its own msg_ids', () => {
    const cluster = new Cluster(['n1', 'n2', 'n3']);
    const leader = cluster.electLeader();
    const follower = cluster.names.find((name) => name !== leader) as string;
    const write = cluster.request(follower, { type: 'write', key: 'k', value: 'v' });
    cluster.node(follower).flush();
    expect(cluster.await(write)).toMatchObject({ type: 'write_ok' });
    const read = cluster.request(follower, { type: 'read', key: 'k' });
    cluster.node(follower).flush();
    expect(cluster.await(read)).toMatchObject({ type: 'read_ok', value: 'v' });
    const replies = cluster.replies.filter((envelope) => envelope.body.in_reply_to === write || envelope.body.in_reply_to === read);
    expect(replies.map((envelope) => envelope.src)).toEqual([follower, follower]);
    // The leader saw forwards, not client requests.
    const forwards = cluster.sent.filter((envelope) => envelope.src === follower && envelope.body.type === 'raft_forward');
    expect(forwards.map((envelope) => envelope.dest)).toEqual([leader, leader]);
  });

  it('parks a request until a leader exists, and answers 11 if none appears in time', () => {
    const cluster = new Cluster(['n1', 'n2', 'n3'], () => ({ requestTimeoutMs: 300 }));
    cluster.isolate('n1');
    cluster.isolate('n2');
    const lonely = cluster.request('n3', { type: 'write', key: 'a', value: 1 });
    cluster.node('n3').flush();
    cluster.tick(100);
    expect(cluster.reply(lonely)).toMatchObject({ type: 'error', code: 11 });

    const cluster2 = new Cluster(['n1', 'n2', 'n3']);
    const early = cluster2.request('n2', { type: 'write', key: 'a', value: 1 });
    cluster2.node('n2').flush();
    expect(cluster2.reply(early)).toBeUndefined();
    expect(cluster2.await(early)).toMatchObject({ type: 'write_ok' });
  });

  it('answers 0 for a write a deposed leader could not commit, and 11 once a new leader replaced its entry', () => {
    const cluster = new Cluster(['n1', 'n2', 'n3'], () => ({ requestTimeoutMs: 10_000 }));
    const oldLeader = cluster.electLeader();
    cluster.isolate(oldLeader);
    const stuck = cluster.request(oldLeader, { type: 'write', key: 'x', value: 'lost' });
    cluster.node(oldLeader).flush();
    cluster.deliver();
    const newLeader = cluster.electLeader(oldLeader);
    const winner = cluster.request(newLeader, { type: 'write', key: 'x', value: 'kept' });
    cluster.node(newLeader).flush();
    expect(cluster.await(winner)).toMatchObject({ type: 'write_ok' });
    expect(cluster.reply(stuck), 'not answered while its fate is open').toBeUndefined();
    cluster.cut.clear();
    // The old leader learns the new log, in which another entry holds its index: definitely lost.
    expect(cluster.await(stuck)).toMatchObject({ type: 'error', code: 11 });
    const read = cluster.request(newLeader, { type: 'read', key: 'x' });
    cluster.node(newLeader).flush();
    expect(cluster.await(read)).toMatchObject({ type: 'read_ok', value: 'kept' });

    // The same, but the old leader stays cut off until its deadline: the outcome is unknown.
    const cluster2 = new Cluster(['n1', 'n2', 'n3'], () => ({ requestTimeoutMs: 500 }));
    const leader2 = cluster2.electLeader();
    cluster2.isolate(leader2);
    const timedOut = cluster2.request(leader2, { type: 'cas', key: 'x', from: 1, to: 2 });
    cluster2.node(leader2).flush();
    expect(cluster2.await(timedOut)).toMatchObject({ type: 'error', code: 0 });
  });

  it('answers 0 when the leader never answers a forward', () => {
    const cluster = new Cluster(['n1', 'n2', 'n3'], () => ({ requestTimeoutMs: 300, forwardGraceMs: 200 }));
    const leader = cluster.electLeader();
    const follower = cluster.names.find((name) => name !== leader) as string;
    cluster.drop = (envelope) => envelope.body.type === 'raft_forward_reply';
    const write = cluster.request(follower, { type: 'write', key: 'x', value: 1 });
    cluster.node(follower).flush();
    const sentAt = cluster.time;
    const reply = cluster.await(write);
    expect(reply).toMatchObject({ type: 'error', code: 0 });
    expect(cluster.time - sentAt).toBeGreaterThanOrEqual(500);
    // The write itself went through: the leader applied it.
    cluster.drop = () => false;
    const read = cluster.request(leader, { type: 'read', key: 'x' });
    cluster.node(leader).flush();
    expect(cluster.await(read)).toMatchObject({ type: 'read_ok', value: 1 });
  });

  it('serves a read only after the writes its node accepted before it', () => {
    const cluster = new Cluster(['n1', 'n2', 'n3']);
    const leader = cluster.electLeader();
    // Followers acknowledge heartbeats (so leadership is confirmed for the read) but their
    // append acknowledgements are held back, so the write stays uncommitted for a while.
    let holdAppends = true;
    cluster.drop = (envelope) => holdAppends && envelope.body.type === 'raft' && (envelope.body.msg as { type: string }).type === 'appendResp';
    const write = cluster.request(leader, { type: 'write', key: 'k', value: 'new' });
    const read = cluster.request(leader, { type: 'read', key: 'k' });
    cluster.node(leader).flush();
    cluster.tick(3);
    expect(cluster.reply(write)).toBeUndefined();
    expect(cluster.reply(read), 'a read served now would miss the write before it').toBeUndefined();
    holdAppends = false;
    cluster.tick(3);
    expect(cluster.reply(write)).toMatchObject({ type: 'write_ok' });
    expect(cluster.reply(read)).toMatchObject({ type: 'read_ok', value: 'new' });
    const order = cluster.replies.map((envelope) => envelope.body.in_reply_to);
    expect(order.indexOf(write)).toBeLessThan(order.indexOf(read));
  });

  it('catches a lagging follower up from a snapshot of the compacted log', () => {
    // n3 has the shortest election timeout, so it is the one that takes over at the end.
    const cluster = new Cluster(['n1', 'n2', 'n3'], (name) => ({ compactEveryEntries: 5, electionTicks: name === 'n3' ? 5 : 30 }));
    cluster.isolate('n3');
    const leader = cluster.electLeader();
    // Written once, first, so its only trace on n3 can be the snapshot.
    const early = cluster.request(leader, { type: 'write', key: 'early', value: 'e' });
    cluster.node(leader).flush();
    expect(cluster.await(early)).toMatchObject({ type: 'write_ok' });
    for (let value = 1; value <= 12; value++) {
      const write = cluster.request(leader, { type: 'write', key: value % 3, value });
      cluster.node(leader).flush();
      expect(cluster.await(write)).toMatchObject({ type: 'write_ok' });
    }
    const cas = cluster.request(leader, { type: 'cas', key: 0, from: 12, to: 13 });
    cluster.node(leader).flush();
    expect(cluster.await(cas)).toMatchObject({ type: 'cas_ok' });
    expect(cluster.node(leader).status()?.snapshotIndex).toBeGreaterThan(0);
    cluster.cut.clear();
    const sentBefore = cluster.sent.length;
    cluster.tick(20);
    const snapshots = cluster.sent.slice(sentBefore).filter((envelope) => envelope.dest === 'n3' && (envelope.body.msg as { type?: string } | undefined)?.type === 'snapshot');
    expect(snapshots.length).toBeGreaterThan(0);
    expect(cluster.node('n3').status()?.applied).toBe(cluster.node(leader).status()?.applied);
    // Now n3 leads, and its values came from the snapshot.
    cluster.isolate(leader);
    expect(cluster.electLeader(leader)).toBe('n3');
    const expected = new Map<string | number, string | number>([['early', 'e'], [0, 13], [1, 10], [2, 11]]);
    for (const [key, value] of expected) {
      const read = cluster.request('n3', { type: 'read', key });
      cluster.node('n3').flush();
      expect(cluster.await(read), `key ${key}`).toMatchObject({ type: 'read_ok', value });
    }
  });
});
