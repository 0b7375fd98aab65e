// What `--cluster-mode` needs to know of Redis Cluster: the hash slot of a key (CRC16/XMODEM
// modulo 16384, honouring {hash tags}), the slot map that CLUSTER SLOTS describes, and the
// `-MOVED <slot> <host>:<port>` redirect. raftis answers CLUSTER SLOTS with one master (the
// leader) owning all 16384 slots and redirects writes sent to a follower with -MOVED, so a
// memtier-style client reaches the leader whichever node it starts from.

import { crc16, CRC16_TABLE, keySlot, SLOT_COUNT } from '../server/slots.js';
import { RespError, type RespValue } from './resp-value.js';

// One CRC16 and slot rule for the whole project: src/server/slots.ts.
export { crc16, SLOT_COUNT } from '../server/slots.js';

/** The hash slot of a key, as Redis Cluster computes it (cluster.c, keyHashSlot). */
export function keyHashSlot(key: Uint8Array | string): number {
  return keySlot(typeof key === 'string' ? Buffer.from(key, 'utf8') : key);
}

/**
 * Slots of `<prefix><decimal index>` keys without building the key: the CRC of the prefix is
 * computed once and continued over the digits. A prefix holding '{' falls back to the general
 * rule, since the tag may then end anywhere.
 */
export class KeySlotter {
  private readonly prefix: Buffer;
  private readonly prefixCrc: number;
  private readonly hasTag: boolean;
  private readonly digits = new Uint8Array(20);

  constructor(keyPrefix: string) {
    this.prefix = Buffer.from(keyPrefix, 'utf8');
    this.prefixCrc = crc16(this.prefix);
    this.hasTag = this.prefix.includes(0x7b);
  }

  slotOf(keyIndex: number): number {
    if (this.hasTag) return keyHashSlot(`${this.prefix.toString('utf8')}${keyIndex}`);
    let count = 0;
    let rest = keyIndex;
    do {
      const quotient = Math.floor(rest / 10);
      this.digits[count++] = 0x30 + (rest - quotient * 10);
      rest = quotient;
    } while (rest > 0);
    let crc = this.prefixCrc;
    for (let i = count - 1; i >= 0; i--) {
      crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >>> 8) ^ (this.digits[i] as number)) & 0xff] as number);
    }
    return crc & (SLOT_COUNT - 1);
  }
}

export interface SlotRange {
  readonly first: number;
  readonly last: number;
  /** The master serving the range. */
  readonly host: string;
  readonly port: number;
}

/** Operating error: the server's cluster description cannot be used. */
export class ClusterTopologyError extends Error {
  readonly code = 'EBENCHTOPOLOGY';
  constructor(message: string) {
    super(message);
    this.name = 'ClusterTopologyError';
  }
}

function textOf(value: RespValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/**
 * The master ranges of a CLUSTER SLOTS reply: `[[first, last, [host, port, id?, ...], replicas...], ...]`.
 * An empty or "?" host means "the address you reached me at" (Redis 7), given as `fallbackHost`.
 */
export function parseClusterSlots(reply: RespValue, fallbackHost: string): SlotRange[] {
  if (reply instanceof RespError) throw new ClusterTopologyError(`CLUSTER SLOTS failed: ${reply.message}`);
  if (!Array.isArray(reply)) throw new ClusterTopologyError('CLUSTER SLOTS did not reply with an array');
  const ranges: SlotRange[] = [];
  for (const entry of reply) {
    if (!Array.isArray(entry) || entry.length < 3) throw new ClusterTopologyError('CLUSTER SLOTS entry is not [first, last, master, ...]');
    const [first, last, master] = entry;
    if (typeof first !== 'number' || typeof last !== 'number' || !(first >= 0 && first <= last && last < SLOT_COUNT)) {
      throw new ClusterTopologyError(`CLUSTER SLOTS range ${String(first)}-${String(last)} is not within 0-${SLOT_COUNT - 1}`);
    }
    if (!Array.isArray(master) || master.length < 2) throw new ClusterTopologyError('CLUSTER SLOTS master is not [host, port, ...]');
    const hostText = textOf(master[0]);
    const port = master[1];
    if (hostText === undefined || typeof port !== 'number' || !(port > 0 && port < 65_536)) {
      throw new ClusterTopologyError('CLUSTER SLOTS master has no usable host and port');
    }
    const host = hostText === '' || hostText === '?' ? fallbackHost : hostText;
    ranges.push({ first, last, host, port });
  }
  if (ranges.length === 0) throw new ClusterTopologyError('CLUSTER SLOTS lists no slots: the cluster has no master');
  return ranges;
}

export interface MovedRedirect {
  readonly slot: number;
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `MOVED <slot> <host>:<port>`; undefined for any other error. An empty host (Redis 7's
 * "unknown endpoint") means the host of the connection that was redirected, `currentHost`.
 */
export function parseMoved(errorText: string, currentHost: string): MovedRedirect | undefined {
  const match = /^MOVED (\d+) (.*):(\d+)$/.exec(errorText);
  if (match === null) return undefined;
  const slot = Number(match[1]);
  const port = Number(match[3]);
  if (slot >= SLOT_COUNT || port <= 0 || port >= 65_536) return undefined;
  const host = match[2] === '' ? currentHost : (match[2] as string).replace(/^\[(.*)\]$/, '$1');
  return { slot, host, port };
}

/** Which node serves each slot. Nodes are numbered in order of first appearance. */
export class SlotMap {
  /** Node number per slot; NO_NODE where no master is known. */
  private readonly owners = new Int32Array(SLOT_COUNT).fill(-1);
  private readonly addresses: string[] = [];

  static readonly NO_NODE = -1;

  /** The node number of `host:port`, added if new. */
  nodeOf(host: string, port: number): number {
    const address = formatAddress(host, port);
    const known = this.addresses.indexOf(address);
    if (known !== -1) return known;
    this.addresses.push(address);
    return this.addresses.length - 1;
  }

  address(node: number): string {
    const address = this.addresses[node];
    if (address === undefined) throw new Error(`no node ${node} in a slot map of ${this.addresses.length}`);
    return address;
  }

  get nodeCount(): number {
    return this.addresses.length;
  }

  owner(slot: number): number {
    return this.owners[slot] as number;
  }

  assign(slot: number, node: number): void {
    this.owners[slot] = node;
  }

  /** Replaces the whole map by a CLUSTER SLOTS answer; slots it does not list have no owner. */
  replace(ranges: readonly SlotRange[]): void {
    this.owners.fill(SlotMap.NO_NODE);
    for (const range of ranges) {
      const node = this.nodeOf(range.host, range.port);
      this.owners.fill(node, range.first, range.last + 1);
    }
  }
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
}
