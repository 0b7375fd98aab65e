// Where each member of the cluster can be reached. The core knows members only by id; their
// addresses travel in the context of the membership change that added them (and in snapshot
// metadata), so every node learns them from the log.
import type { NodeId } from '../raft/index.js';

export interface MemberAddress {
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeMemberAddress(address: MemberAddress): Uint8Array {
  return encoder.encode(JSON.stringify(address));
}

export function decodeMemberAddress(bytes: Uint8Array): MemberAddress | undefined {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as Partial<MemberAddress>;
    if (typeof value.host !== 'string' || !Number.isInteger(value.clientPort) || !Number.isInteger(value.peerPort)) return undefined;
    return { host: value.host, clientPort: value.clientPort as number, peerPort: value.peerPort as number };
  } catch {
    return undefined;
  }
}

export function encodeMemberTable(members: ReadonlyMap<NodeId, MemberAddress>): Uint8Array {
  return encoder.encode(JSON.stringify([...members].map(([id, address]) => ({ id, ...address }))));
}

export function decodeMemberTable(bytes: Uint8Array): Map<NodeId, MemberAddress> {
  const members = new Map<NodeId, MemberAddress>();
  if (bytes.length === 0) return members;
  const rows = JSON.parse(decoder.decode(bytes)) as (MemberAddress & { id: NodeId })[];
  for (const { id, host, clientPort, peerPort } of rows) members.set(id, { host, clientPort, peerPort });
  return members;
}

/** Parses `1@host:port,2@host:port` (client ports; peer port = client port + 10000 unless given as host:client:peer). */
export function parsePeerList(spec: string, peerPortOffset = 10_000): Map<NodeId, MemberAddress> {
  const members = new Map<NodeId, MemberAddress>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const match = /^(\d+)@([^:]+):(\d+)(?::(\d+))?$/.exec(part);
    if (!match) throw new Error(`bad peer "${part}": expected id@host:port or id@host:client-port:peer-port`);
    const id = Number(match[1]);
    const clientPort = Number(match[3]);
    const peerPort = match[4] !== undefined ? Number(match[4]) : clientPort + peerPortOffset;
    if (id <= 0) throw new Error(`bad peer "${part}": node ids are positive integers`);
    if (members.has(id)) throw new Error(`peer id ${id} listed twice`);
    members.set(id, { host: match[2] as string, clientPort, peerPort });
  }
  return members;
}
