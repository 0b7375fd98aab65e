// The simulated network. Every message is planned at send time (dropped, delivered once, or
// duplicated, each copy with its own random delay, so messages on one link overtake each other)
// and checked against the partition at delivery time (a link cut while a message is in flight
// loses it). All randomness comes from the PRNG the simulator seeds.

import type { NodeId } from '../../src/raft/types.js';
import type { SeededPrng } from '../../src/raft/prng.js';

export interface NetworkOptions {
  /** Probability that a message is lost outright. */
  readonly dropRate: number;
  /** Probability that a delivered message arrives twice. */
  readonly duplicateRate: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
}

export type PartitionKind = 'symmetric' | 'one-way' | 'isolate' | 'overlap' | 'bridge';

/** A description of the current cut, for traces. */
export interface PartitionState {
  readonly kind: PartitionKind | 'none';
  readonly detail: string;
}

const LINK_KEY_RADIX = 1 << 16;

export class Network {
  /** Directed links that are cut, as from * LINK_KEY_RADIX + to. */
  private cut = new Set<number>();
  private state: PartitionState = { kind: 'none', detail: '' };
  private options: NetworkOptions;

  constructor(private readonly prng: SeededPrng, options: NetworkOptions) {
    if (options.delayMsMin < 1) throw new Error(`delayMsMin must be >= 1, got ${options.delayMsMin}`);
    if (options.delayMsMax < options.delayMsMin) throw new Error(`delayMsMax < delayMsMin`);
    this.options = options;
  }

  setOptions(options: NetworkOptions): void {
    this.options = options;
  }

  getOptions(): NetworkOptions {
    return this.options;
  }

  /**
   * The delays, in ms, after which copies of a message sent now arrive: none when it is lost,
   * two when it is duplicated.
   */
  plan(): number[] {
    const { dropRate, duplicateRate, delayMsMin, delayMsMax } = this.options;
    if (this.prng.nextFloat() < dropRate) return [];
    const span = delayMsMax - delayMsMin + 1;
    const first = delayMsMin + this.prng.nextInt(span);
    if (this.prng.nextFloat() < duplicateRate) return [first, delayMsMin + this.prng.nextInt(span)];
    return [first];
  }

  connected(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(from * LINK_KEY_RADIX + to);
  }

  partition(): PartitionState {
    return this.state;
  }

  heal(): void {
    this.cut.clear();
    this.state = { kind: 'none', detail: '' };
  }

  /** Cuts every link between different groups, both ways. Nodes in no group keep all links. */
  splitSymmetric(groups: readonly (readonly NodeId[])[]): void {
    this.heal();
    for (const [g, group] of groups.entries()) {
      for (const [h, other] of groups.entries()) {
        if (g === h) continue;
        for (const from of group) for (const to of other) this.cutLink(from, to);
      }
    }
    this.state = { kind: 'symmetric', detail: groups.map((group) => `{${group.join(',')}}`).join(' | ') };
  }

  /** Messages from `senders` to `receivers` are lost; the other direction still works. */
  splitOneWay(senders: readonly NodeId[], receivers: readonly NodeId[]): void {
    this.heal();
    for (const from of senders) for (const to of receivers) this.cutLink(from, to);
    this.state = { kind: 'one-way', detail: `{${senders.join(',')}} -/-> {${receivers.join(',')}}` };
  }

  /** One node hears nobody and nobody hears it. */
  isolate(node: NodeId, others: readonly NodeId[]): void {
    this.heal();
    for (const other of others) {
      if (other === node) continue;
      this.cutLink(node, other);
      this.cutLink(other, node);
    }
    this.state = { kind: 'isolate', detail: `${node} alone` };
  }

  /**
   * Two overlapping groups (for five nodes {1,2,3} and {3,4,5}): nodes only in one group cannot
   * reach nodes only in the other, while the nodes in both reach everyone.
   */
  overlap(left: readonly NodeId[], right: readonly NodeId[]): void {
    this.heal();
    const onlyLeft = left.filter((id) => !right.includes(id));
    const onlyRight = right.filter((id) => !left.includes(id));
    for (const a of onlyLeft) {
      for (const b of onlyRight) {
        this.cutLink(a, b);
        this.cutLink(b, a);
      }
    }
    this.state = { kind: 'overlap', detail: `{${left.join(',')}} ~ {${right.join(',')}}` };
  }

  private cutLink(from: NodeId, to: NodeId): void {
    if (from >= LINK_KEY_RADIX || to >= LINK_KEY_RADIX) throw new Error(`node id too large for the link table: ${from}, ${to}`);
    this.cut.add(from * LINK_KEY_RADIX + to);
  }
}
