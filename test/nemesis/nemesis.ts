// The nemesis: a seeded schedule of faults against the cluster, one at a time. Each fault is
// started, held for a while, then healed (the process restarted or resumed, the rules flushed),
// followed by a quiet spell, until the run's time is up. Each step is written to the nemesis
// log (nemesis.jsonl) with the same clock as the history, so a failure can be lined up with the
// faults around it.
//
// The schedule is drawn from the seed, but what it hits depends on the cluster at that moment
// (who leads, who is a member), so a seed replays the kinds and timing of faults, not the exact
// run: real processes and real time are not deterministic. docs/testing.md says how to replay.
import { SeededPrng } from '../../src/raft/prng.js';
import { waitFor, type NemesisCluster, type RaftInfo } from './cluster.js';
import type { EventLog } from './history.js';
import type { Cut, NetworkFaults } from './net.js';

export const faultNames = ['kill', 'pause', 'partition', 'member', 'transfer'] as const;
export type FaultName = (typeof faultNames)[number];

export interface NemesisOptions {
  readonly faults: readonly FaultName[];
  readonly seed: number;
  /** The cluster size membership changes hover around (one more or one less at most). */
  readonly nodes: number;
  readonly holdMs: readonly [number, number];
  readonly quietMs: readonly [number, number];
  /** How long a membership change or a transfer may take before the nemesis notes it and moves on. */
  readonly changeTimeoutMs: number;
}

/** Something worth a human's attention that is not by itself a failed run. */
export interface Anomaly {
  readonly time: number;
  readonly what: string;
}

export class Nemesis {
  private readonly prng: SeededPrng;
  readonly counts = new Map<string, number>();
  readonly anomalies: Anomaly[] = [];
  private stopping = false;

  constructor(
    private readonly cluster: NemesisCluster,
    private readonly net: NetworkFaults | undefined,
    private readonly log: EventLog,
    private readonly options: NemesisOptions,
    private readonly now: () => number,
  ) {
    this.prng = new SeededPrng(options.seed ^ 0x5eed_f00d);
    if (options.faults.includes('partition') && !net) throw new Error('partition faults need network faults (nftables)');
  }

  totalFaults(): number {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }

  /** Runs faults until `deadline` (Date.now() milliseconds) or stop(). */
  async run(deadline: number): Promise<void> {
    if (this.options.faults.length === 0) return;
    while (!this.stopping && Date.now() < deadline) {
      await this.pause(this.between(this.options.quietMs), deadline);
      if (this.stopping || Date.now() >= deadline) break;
      const fault = this.options.faults[this.prng.nextInt(this.options.faults.length)] as FaultName;
      await this.inject(fault, deadline);
    }
  }

  stop(): void {
    this.stopping = true;
  }

  /** Undoes every fault: flush the rules, resume paused nodes, restart stopped members. */
  async healAll(): Promise<void> {
    this.net?.heal();
    for (const node of this.cluster.nodes.values()) if (node.state === 'paused') this.cluster.resume(node.id);
    const stopped = [...this.cluster.nodes.values()].filter((node) => node.state === 'stopped').map((node) => node.id);
    await Promise.all(stopped.map((id) => this.restart(id)));
    this.log.log('heal-all', stopped.length > 0 ? { restarted: stopped } : {});
  }

  /**
   * Marks as removed (and stops) every node the leader does not list as a member: a removal whose
   * reply was lost, or a join that never made it into the configuration.
   */
  async syncMembership(): Promise<void> {
    const leader = await this.cluster.currentLeader();
    if (!leader) return;
    for (const id of this.cluster.memberIds()) {
      if (leader.voters.includes(id) || leader.learners.includes(id)) continue;
      this.cluster.markRemoved(id);
      await this.cluster.kill(id);
      this.log.log('not a member', { node: id, leader: leader.id, voters: leader.voters, learners: leader.learners });
    }
  }

  /** Starts a stopped node again; a node that fails to start because it was removed is noted as removed. */
  private async restart(id: number): Promise<void> {
    try {
      await this.cluster.spawn(id);
    } catch (error) {
      const leader = await this.cluster.currentLeader();
      if (leader && !leader.voters.includes(id) && !leader.learners.includes(id)) {
        this.cluster.markRemoved(id);
        this.log.log('not restarted', { node: id, reason: 'no longer a member' });
        return;
      }
      throw error;
    }
  }

  private between([min, max]: readonly [number, number]): number {
    return min + this.prng.nextInt(Math.max(1, max - min + 1));
  }

  private pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[this.prng.nextInt(items.length)] as T;
  }

  private shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let at = out.length - 1; at > 0; at--) {
      const other = this.prng.nextInt(at + 1);
      [out[at], out[other]] = [out[other] as T, out[at] as T];
    }
    return out;
  }

  /** Holds a fault in place: returns after `ms`, earlier if the run is stopping or past its deadline. */
  private async pause(ms: number, deadline: number): Promise<void> {
    const until = Math.min(Date.now() + ms, Math.max(deadline, Date.now()));
    while (!this.stopping && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, Math.min(100, until - Date.now())));
  }

  private note(what: string): void {
    this.anomalies.push({ time: this.now(), what });
    this.log.log('anomaly', { what });
  }

  private started(variant: string, detail: Record<string, unknown>): void {
    this.counts.set(variant, (this.counts.get(variant) ?? 0) + 1);
    this.log.log(`start ${variant}`, detail);
  }

  private async inject(fault: FaultName, deadline: number): Promise<void> {
    const leader = await this.cluster.currentLeader();
    switch (fault) {
      case 'kill':
        return this.kill(leader, deadline);
      case 'pause':
        return this.pauseFault(leader, deadline);
      case 'partition':
        return this.partition(leader, deadline);
      case 'member':
        return this.member(leader);
      case 'transfer':
        return this.transfer(leader);
      default:
        return assertNever(fault);
    }
  }

  private running(): number[] {
    return this.cluster.runningIds();
  }

  private async kill(leader: RaftInfo | undefined, deadline: number): Promise<void> {
    const members = this.running();
    const variant = this.pick(['kill-leader', 'kill-one', 'kill-majority', 'restart-burst'] as const);
    if (variant === 'restart-burst') {
      const rounds = 3 + this.prng.nextInt(4);
      this.started(variant, { rounds });
      for (let round = 0; round < rounds && !this.stopping; round++) {
        const victims = this.shuffle(this.running()).slice(0, 1 + this.prng.nextInt(this.running().length));
        this.log.log('burst kill', { nodes: victims });
        await Promise.all(victims.map((id) => this.cluster.kill(id)));
        await Promise.all(victims.map((id) => this.restart(id)));
      }
      this.log.log(`end ${variant}`);
      return;
    }
    let victims: number[];
    if (variant === 'kill-leader') victims = [leader && members.includes(leader.id) ? leader.id : this.pick(members)];
    else if (variant === 'kill-one') victims = [this.pick(members)];
    else victims = this.shuffle(members).slice(0, Math.floor(members.length / 2) + 1);
    this.started(variant, { nodes: victims, leader: leader?.id });
    await Promise.all(victims.map((id) => this.cluster.kill(id)));
    await this.pause(this.between(this.options.holdMs), deadline);
    await Promise.all(victims.map((id) => this.restart(id)));
    this.log.log(`end ${variant}`, { restarted: victims });
  }

  private async pauseFault(leader: RaftInfo | undefined, deadline: number): Promise<void> {
    const members = this.running();
    const variant = this.pick(['pause-leader', 'pause-one', 'pause-majority'] as const);
    let victims: number[];
    if (variant === 'pause-leader') victims = [leader && members.includes(leader.id) ? leader.id : this.pick(members)];
    else if (variant === 'pause-one') victims = [this.pick(members)];
    else victims = this.shuffle(members).slice(0, Math.floor(members.length / 2) + 1);
    this.started(variant, { nodes: victims, leader: leader?.id });
    for (const id of victims) this.cluster.pause(id);
    await this.pause(this.between(this.options.holdMs), deadline);
    for (const id of victims) this.cluster.resume(id);
    this.log.log(`end ${variant}`, { resumed: victims });
  }

  private async partition(leader: RaftInfo | undefined, deadline: number): Promise<void> {
    const net = this.net as NetworkFaults;
    const members = this.cluster.memberIds();
    const focus = leader && members.includes(leader.id) ? leader.id : this.pick(members);
    const variant = this.pick(['isolate-leader', 'isolate-one', 'split', 'bridge', 'one-way-from-leader', 'one-way-to-leader'] as const);
    const host = (id: number): string => this.cluster.hostOf(id);
    const cutBetween = (sideA: readonly number[], sideB: readonly number[]): Cut[] =>
      sideA.flatMap((a) => sideB.flatMap((b) => [{ from: host(a), to: host(b) }, { from: host(b), to: host(a) }]));
    let cuts: Cut[];
    let detail: Record<string, unknown>;
    switch (variant) {
      case 'isolate-leader':
      case 'isolate-one': {
        const alone = variant === 'isolate-leader' ? focus : this.pick(members);
        const rest = members.filter((id) => id !== alone);
        cuts = cutBetween([alone], rest);
        detail = { sides: [[alone], rest] };
        break;
      }
      case 'split': {
        const order = this.shuffle(members);
        const minority = order.slice(0, Math.floor((members.length - 1) / 2) || 1);
        const majority = order.slice(minority.length);
        cuts = cutBetween(minority, majority);
        detail = { sides: [minority, majority] };
        break;
      }
      case 'bridge': {
        // Two majorities that overlap in one node, which sees everyone; the rest see only their
        // own half and the bridge (Jepsen's "bridge").
        const order = this.shuffle(members);
        const bridge = order[0] as number;
        const rest = order.slice(1);
        const half = Math.ceil(rest.length / 2);
        const left = rest.slice(0, half);
        const right = rest.slice(half);
        cuts = cutBetween(left, right);
        detail = { bridge, sides: [left, right] };
        break;
      }
      case 'one-way-from-leader':
      case 'one-way-to-leader': {
        const others = members.filter((id) => id !== focus);
        cuts = others.map((id) => (variant === 'one-way-from-leader'
          ? { from: host(focus), to: host(id) } : { from: host(id), to: host(focus) }));
        detail = { node: focus, others };
        break;
      }
      default:
        return assertNever(variant);
    }
    this.started(variant, { ...detail, leader: leader?.id });
    net.apply(cuts);
    await this.pause(this.between(this.options.holdMs), deadline);
    net.heal();
    this.log.log(`end ${variant}`);
  }

  private async member(leader: RaftInfo | undefined): Promise<void> {
    if (!leader) {
      this.log.log('skip member', { reason: 'no leader' });
      return;
    }
    const voters = leader.voters;
    const add = voters.length < this.options.nodes ? true : voters.length > this.options.nodes ? false : this.prng.nextInt(2) === 0;
    const timeoutMs = this.options.changeTimeoutMs;
    if (add) {
      this.started('member-add', { via: leader.id, voters });
      let id: number;
      try {
        id = await this.cluster.join(leader.id);
      } catch (error) {
        this.note(`a joining node did not start: ${String(error)}`);
        return;
      }
      try {
        await waitFor(`node ${id} to become a voter`, async () => {
          const now = await this.cluster.currentLeader();
          return now?.voters.includes(id) ? true : undefined;
        }, timeoutMs, 200);
        this.log.log('end member-add', { node: id });
      } catch (error) {
        this.note(`node ${id} was not a voter ${timeoutMs} ms after it started to join: ${String(error)}`);
      }
      await this.syncMembership();
      return;
    }
    const target = this.prng.nextInt(3) === 0 ? leader.id : this.pick(voters.filter((id) => id !== leader.id));
    this.started(target === leader.id ? 'member-remove-leader' : 'member-remove', { node: target, leader: leader.id, voters });
    let reply: string;
    try {
      reply = String(await this.cluster.admin(leader.id, (client) => client.call('CLUSTER', 'REMOVENODE', String(target)), timeoutMs));
    } catch (error) {
      reply = error instanceof Error ? error.message : String(error);
    }
    this.log.log('remove reply', { node: target, reply });
    // Whatever the reply said, ask the cluster: a change whose reply was lost may have happened.
    const removed = await waitFor(`the cluster to agree on whether node ${target} is a member`, async () => {
      const now = await this.cluster.currentLeader();
      if (!now || now.id === target) return undefined;
      return now.voters.includes(target) || now.learners.includes(target) ? (reply === 'OK' ? undefined : 'member') : 'removed';
    }, timeoutMs, 200).catch(() => 'unknown');
    if (removed === 'removed') {
      this.cluster.markRemoved(target);
      const node = this.cluster.node(target);
      try {
        await waitFor(`removed node ${target} to stop`, () => (node.process === undefined ? true : undefined), timeoutMs, 100);
      } catch {
        this.note(`node ${target} was removed but its process was still running ${timeoutMs} ms later; killing it`);
        await this.cluster.kill(target);
      }
    } else if (reply === 'OK') {
      this.note(`REMOVENODE ${target} replied OK but node ${target} is still a member (${removed})`);
    }
    this.log.log('end member-remove', { node: target, outcome: removed });
    await this.syncMembership();
  }

  private async transfer(leader: RaftInfo | undefined): Promise<void> {
    if (!leader) {
      this.log.log('skip transfer', { reason: 'no leader' });
      return;
    }
    const candidates = leader.voters.filter((id) => id !== leader.id && this.cluster.runningIds().includes(id));
    const target = candidates.length > 0 && this.prng.nextInt(2) === 0 ? this.pick(candidates) : undefined;
    this.started('transfer', { from: leader.id, to: target ?? 'any' });
    let reply: string;
    try {
      const args = target === undefined ? ['FAILOVER'] : ['FAILOVER', 'TO', String(target)];
      reply = String(await this.cluster.admin(leader.id, (client) => client.call('CLUSTER', ...args), this.options.changeTimeoutMs));
    } catch (error) {
      reply = error instanceof Error ? error.message : String(error);
    }
    const next = await this.cluster.waitForLeader(this.options.changeTimeoutMs).catch(() => undefined);
    this.log.log('end transfer', { reply, leader: next?.id });
    if (reply === 'OK' && target !== undefined && next?.id !== target) {
      this.note(`CLUSTER FAILOVER TO ${target} replied OK but node ${next?.id ?? 'none'} leads`);
    }
  }
}

function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
