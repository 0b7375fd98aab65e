// A tiny deterministic network of Raft cores for unit tests of single rules. Unlike the
// simulator (test/sim), it has no faults of its own: each test drives ticks and delivery by hand
// and can cut links, so a scenario reads like the paper's figures.
import { Raft, SeededPrng, defaultRaftConfig, type ConfState, type Entry, type HardState, type Message, type NodeId, type RaftConfig, type Snapshot } from '../../../src/raft/index.js';

export interface Disk {
  hardState: HardState;
  entries: Entry[];
  snapshot: Snapshot | undefined;
}

export class Net {
  readonly nodes = new Map<NodeId, Raft>();
  readonly disks = new Map<NodeId, Disk>();
  readonly applied = new Map<NodeId, Entry[]>();
  readonly reads = new Map<NodeId, { context: number; index: number }[]>();
  readonly dropped = new Map<NodeId, number[]>();
  inbox: Message[] = [];
  /** Links that drop messages, as "from->to". */
  readonly cut = new Set<string>();
  readonly initialConf: ConfState;

  constructor(ids: NodeId[], private readonly overrides: Partial<RaftConfig> = {}, private readonly make = (c: RaftConfig, r: ConstructorParameters<typeof Raft>[1]) => new Raft(c, r)) {
    this.initialConf = { voters: ids, learners: [], removed: [] };
    for (const id of ids) this.start(id, this.initialConf);
  }

  start(id: NodeId, initialConf: ConfState = this.initialConf): Raft {
    const disk = this.disks.get(id) ?? { hardState: { term: 0, vote: 0, commit: 0 }, entries: [], snapshot: undefined };
    this.disks.set(id, disk);
    const node = this.make(defaultRaftConfig(id, new SeededPrng(id), { electionTicks: 10, heartbeatTicks: 1, ...this.overrides }),
      { hardState: disk.hardState, snapshot: disk.snapshot, entries: [...disk.entries], initialConf });
    this.nodes.set(id, node);
    this.applied.set(id, this.applied.get(id) ?? []);
    return node;
  }

  node(id: NodeId): Raft {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Runs every node's Ready loop once; collects outgoing messages into the inbox. */
  flush(): void {
    for (const [id, node] of this.nodes) {
      for (let rounds = 0; node.hasReady(); rounds++) {
        if (rounds > 1000) throw new Error(`node ${id} never stops having a Ready`);
        const ready = node.ready();
        this.inbox.push(...ready.messages);
        const disk = this.disks.get(id) as Disk;
        if (ready.snapshot) {
          disk.snapshot = ready.snapshot;
          disk.entries = disk.entries.filter((e) => e.index > ready.snapshot!.meta.index);
          this.applied.set(id, []);
        }
        if (ready.hardState) disk.hardState = ready.hardState;
        for (const entry of ready.entries) {
          disk.entries = disk.entries.filter((e) => e.index < entry.index);
          disk.entries.push(entry);
        }
        this.inbox.push(...ready.persistMessages);
        this.applied.get(id)!.push(...ready.committedEntries);
        const reads = this.reads.get(id) ?? [];
        reads.push(...ready.readStates);
        this.reads.set(id, reads);
        const dropped = this.dropped.get(id) ?? [];
        dropped.push(...ready.droppedReads);
        this.dropped.set(id, dropped);
        node.advance();
      }
    }
  }

  /** Delivers messages until the network is quiet (or `limit` rounds pass). */
  deliver(limit = 100): void {
    for (let round = 0; round < limit; round++) {
      this.flush();
      if (this.inbox.length === 0) return;
      const batch = this.inbox;
      this.inbox = [];
      for (const m of batch) {
        if (this.cut.has(`${m.from}->${m.to}`)) continue;
        this.nodes.get(m.to)?.step(m);
      }
    }
    this.flush();
  }

  tickAll(times = 1): void {
    for (let t = 0; t < times; t++) {
      for (const node of this.nodes.values()) node.tick();
      this.deliver();
    }
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.status().role === 'leader').map((n) => n.id);
  }

  /** Ticks until exactly one leader is known to all connected nodes, or fails. */
  electLeader(maxTicks = 200): NodeId {
    for (let t = 0; t < maxTicks; t++) {
      const leaders = this.leaders();
      if (leaders.length === 1) return leaders[0] as NodeId;
      this.tickAll();
    }
    throw new Error(`no single leader after ${maxTicks} ticks: ${JSON.stringify(this.leaders())}`);
  }

  /** Campaigns `id` by ticking only it until it starts an election. */
  campaign(id: NodeId): void {
    const node = this.node(id);
    const term = node.status().term;
    for (let t = 0; t < 100 && node.status().role !== 'leader' && node.status().term === term; t++) {
      node.tick();
      this.deliver();
    }
  }

  crash(id: NodeId): void {
    this.nodes.delete(id);
    this.inbox = this.inbox.filter((m) => m.to !== id && m.from !== id);
  }

  appliedData(id: NodeId): string[] {
    return (this.applied.get(id) ?? []).filter((e) => e.kind === 'normal').map((e) => new TextDecoder().decode(e.data));
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
