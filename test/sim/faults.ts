// The fault schedule (the nemesis). Every faultIntervalMs it draws one action, weighted by the
// run's options: crash a node (sometimes the leader) and restart it later, cut the network
// (symmetric split, one-way, isolated leader, overlapping majorities), heal it, change the
// weather (loss, duplication, latency), add a member (as a learner, which the leader promotes)
// or remove one (sometimes the leader), or move leadership. Membership changes and transfers go
// through the leader the cluster has at that moment, whatever else is broken at the time.

import { NONE, type NodeId } from '../../src/raft/types.js';
import type { SeededPrng } from '../../src/raft/prng.js';
import { describeConf, type Cluster } from './cluster.js';
import { schedule, type SimContext } from './context.js';
import type { Network, NetworkOptions } from './network.js';
import type { FaultWeights, SimOptions } from './options.js';

type Action = keyof FaultWeights;

export class Nemesis {
  private active = true;
  private nextNodeId: NodeId;

  constructor(
    private readonly ctx: SimContext,
    private readonly options: SimOptions,
    private readonly cluster: Cluster,
    private readonly network: Network,
    private readonly prng: SeededPrng,
  ) {
    this.nextNodeId = options.nodes + 1;
  }

  start(): void {
    this.scheduleNext();
  }

  /** Stops all faults: heals the network, calms the weather, restarts every member. */
  stop(): void {
    this.active = false;
    this.network.heal();
    this.network.setOptions({ ...this.options.network, dropRate: 0, duplicateRate: 0 });
    this.note('heal everything, calm network, restart every node not removed');
    // Not only members: a node whose addLearner is still uncommitted may become one.
    for (const node of this.cluster.nodes.values()) {
      if (!node.up && !node.stopped) this.cluster.restart(node.id);
    }
  }

  onRestart(id: NodeId, incarnation: number): void {
    const node = this.cluster.node(id);
    if (node.incarnation !== incarnation) return;
    this.cluster.restart(id);
  }

  onFault(): void {
    if (!this.active) return;
    this.scheduleNext();
    const action = this.pickAction();
    if (action !== undefined) this.perform(action);
  }

  private scheduleNext(): void {
    const { faultIntervalMsMin: min, faultIntervalMsMax: max } = this.options;
    schedule(this.ctx, min + this.prng.nextInt(max - min + 1), { kind: 'fault' });
  }

  private pickAction(): Action | undefined {
    const entries = Object.entries(this.options.weights) as [Action, number][];
    const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
    if (total <= 0) return undefined;
    let roll = this.prng.nextInt(total);
    for (const [action, weight] of entries) {
      if (roll < weight) return action;
      roll -= weight;
    }
    return undefined;
  }

  private perform(action: Action): void {
    switch (action) {
      case 'crash':
        this.crash(this.pick(this.upIds()));
        return;
      case 'crashLeader':
        this.crash(this.cluster.leader()?.id ?? NONE);
        return;
      case 'partition':
        this.partition();
        return;
      case 'heal':
        this.network.heal();
        this.note('heal the network');
        return;
      case 'addNode':
        this.addNode();
        return;
      case 'removeNode':
        this.removeNode();
        return;
      case 'transfer':
        this.transfer();
        return;
      case 'weather':
        this.weather();
        return;
      default:
        throw new Error(`unknown fault ${JSON.stringify(action satisfies never)}`);
    }
  }

  private crash(id: NodeId): void {
    if (id === NONE) return;
    const node = this.cluster.node(id);
    if (!node.up) return;
    this.cluster.crash(id);
    const downMs = 1 + this.prng.nextInt(this.options.downMsMax);
    schedule(this.ctx, downMs, { kind: 'restart', node: id, incarnation: node.incarnation });
  }

  private partition(): void {
    const ids = this.shuffle(this.cluster.liveIds());
    if (ids.length < 2) return;
    const leader = this.cluster.leader()?.id ?? NONE;
    const kinds = ['symmetric', 'one-way', 'isolate', 'overlap'] as const;
    const kind = kinds[this.prng.nextInt(kinds.length)] as (typeof kinds)[number];
    switch (kind) {
      case 'symmetric': {
        const cut = 1 + this.prng.nextInt(ids.length - 1);
        if (ids.length >= 5 && this.prng.nextInt(3) === 0) {
          const cut2 = cut + Math.floor((ids.length - cut) / 2);
          this.network.splitSymmetric([ids.slice(0, cut), ids.slice(cut, Math.max(cut + 1, cut2)), ids.slice(Math.max(cut + 1, cut2))].filter((g) => g.length > 0));
        } else {
          this.network.splitSymmetric([ids.slice(0, cut), ids.slice(cut)]);
        }
        break;
      }
      case 'one-way': {
        const cut = 1 + this.prng.nextInt(ids.length - 1);
        // Often the leader can send but not hear (or the reverse): the nastiest one-way cut.
        const senders = leader !== NONE && this.prng.nextInt(2) === 0 ? [leader] : ids.slice(0, cut);
        this.network.splitOneWay(senders, ids.filter((id) => !senders.includes(id)));
        break;
      }
      case 'isolate':
        this.network.isolate(leader !== NONE && this.prng.nextInt(4) !== 0 ? leader : (ids[0] as NodeId), ids);
        break;
      case 'overlap': {
        // Two majorities that share the middle nodes: {1,2,3} and {3,4,5} in five.
        const majority = Math.floor(ids.length / 2) + 1;
        this.network.overlap(ids.slice(0, majority), ids.slice(ids.length - majority));
        break;
      }
      default:
        throw new Error(`unknown partition ${JSON.stringify(kind satisfies never)}`);
    }
    this.ctx.coverage.partitions++;
    const state = this.network.partition();
    this.note(`partition ${state.kind}: ${state.detail}`);
  }

  private addNode(): void {
    const leader = this.cluster.leader();
    if (leader === undefined) return;
    const { voters, learners } = this.cluster.conf;
    if (voters.length + learners.length >= this.options.nodes + 2) return;
    const id = this.nextNodeId++;
    this.cluster.addNode(id);
    this.note(`add node ${id} as a learner via leader ${leader.id}`);
    this.cluster.proposeConfChange(leader.id, { type: 'addLearner', nodeId: id, context: this.cluster.emptyContext() }, (result) => {
      this.note(`addLearner ${id} at ${leader.id}: ${result.ok ? `index ${result.index}` : result.error}`);
      // Refused outright: it will never be a member, so it need not run.
      if (!result.ok) this.cluster.stop(id);
    });
  }

  private removeNode(): void {
    const leader = this.cluster.leader();
    if (leader === undefined) return;
    const { voters, learners } = this.cluster.conf;
    // Keep at least three voters, or two for a while in a cluster that had three.
    if (voters.length < 3 || (voters.length === 3 && this.prng.nextInt(3) !== 0)) return;
    const members = [...voters, ...learners];
    const target = this.prng.nextInt(3) === 0 && voters.includes(leader.id) ? leader.id : this.pick(members);
    this.note(`remove node ${target} via leader ${leader.id} (${describeConf(this.cluster.conf)})`);
    this.cluster.proposeConfChange(leader.id, { type: 'remove', nodeId: target, context: this.cluster.emptyContext() }, (result) => {
      this.note(`remove ${target} at ${leader.id}: ${result.ok ? `index ${result.index}` : result.error}`);
    });
  }

  private transfer(): void {
    const leader = this.cluster.leader();
    if (leader === undefined) return;
    const others = this.cluster.conf.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const to = this.pick(others);
    this.note(`transfer leadership ${leader.id} -> ${to}`);
    this.ctx.coverage.transfers++;
    this.cluster.call(leader.id, `transferLeadership(${to})`, (raft) => raft.transferLeadership(to));
  }

  private weather(): void {
    const calm = this.options.network;
    const worst = this.options.networkWorst;
    let next: NetworkOptions;
    if (this.prng.nextInt(3) === 0) {
      next = calm;
    } else {
      const between = (a: number, b: number): number => a + this.prng.nextFloat() * (b - a);
      const delayMsMax = Math.round(between(calm.delayMsMax, worst.delayMsMax));
      next = {
        dropRate: between(calm.dropRate, worst.dropRate),
        duplicateRate: between(calm.duplicateRate, worst.duplicateRate),
        delayMsMin: calm.delayMsMin,
        delayMsMax: Math.max(delayMsMax, calm.delayMsMin),
      };
    }
    this.network.setOptions(next);
    this.note(`weather: drop=${next.dropRate.toFixed(3)} dup=${next.duplicateRate.toFixed(3)} delay=${next.delayMsMin}..${next.delayMsMax}ms`);
  }

  private upIds(): NodeId[] {
    return [...this.cluster.nodes.values()].filter((node) => node.up).map((node) => node.id);
  }

  private pick(ids: readonly NodeId[]): NodeId {
    if (ids.length === 0) return NONE;
    return ids[this.prng.nextInt(ids.length)] as NodeId;
  }

  private shuffle(ids: NodeId[]): NodeId[] {
    for (let k = ids.length - 1; k > 0; k--) {
      const j = this.prng.nextInt(k + 1);
      [ids[k], ids[j]] = [ids[j] as NodeId, ids[k] as NodeId];
    }
    return ids;
  }

  private note(text: string): void {
    this.ctx.trace.add(this.ctx.nowMs, 0, 'fault', text);
  }
}
