// Where each member of the cluster can be reached. The core knows members only by id; their
// addresses travel in the context of the membership change that added them (and in snapshot
// metadata), so every node learns them from the log.
//
// Not every address is in the log: the initial members' are in cluster.json of the nodes that
// bootstrapped, and a node that joined learns them only when the members dial it. So each node
// also keeps the addresses it knows in <data-dir>/peers.json (KnownPeersFile), read back at start:
// a node that joined can then dial the members after a restart, which is how it finds out if it was
// removed while it was down (they refuse it).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { NodeId } from '../raft/index.js';
import { writeFileAtomic } from './atomic-file.js';

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

export const KNOWN_PEERS_FILE = 'peers.json';

/** The addresses saved in `<dataDir>/peers.json`; empty when there is no such file or it is unreadable. */
export async function loadKnownPeers(dataDir: string): Promise<Map<NodeId, MemberAddress>> {
  const peers = new Map<NodeId, MemberAddress>();
  let rows: unknown;
  try {
    rows = JSON.parse(await fs.readFile(path.join(dataDir, KNOWN_PEERS_FILE), 'utf8'));
  } catch {
    return peers;
  }
  if (!Array.isArray(rows)) return peers;
  for (const row of rows as Partial<MemberAddress & { id: NodeId }>[]) {
    const { id, host, clientPort, peerPort } = row ?? {};
    if (!Number.isInteger(id) || (id as number) <= 0 || typeof host !== 'string' || host === '') continue;
    if (!Number.isInteger(clientPort) || !Number.isInteger(peerPort) || (peerPort as number) <= 0 || (peerPort as number) > 65535) continue;
    peers.set(id as number, { host, clientPort: clientPort as number, peerPort: peerPort as number });
  }
  return peers;
}

/**
 * Writes `<dataDir>/peers.json` whenever the node's member table changes: one write at a time
 * (temporary file, fsync, rename), the newest table wins, unchanged tables are not written. It is
 * a hint, not state Raft depends on, so a failed write is logged and otherwise ignored.
 */
export class KnownPeersFile {
  private written = '';
  private pending: string | undefined;
  private writing = false;

  constructor(private readonly dataDir: string, private readonly log: { warn(fields: object, message: string): void }) {}

  save(members: ReadonlyMap<NodeId, MemberAddress>): void {
    const body = JSON.stringify([...members].sort(([a], [b]) => a - b).map(([id, address]) => ({ id, ...address })));
    if (body === (this.pending ?? this.written)) return;
    this.pending = body;
    if (!this.writing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.writing = true;
    try {
      for (let body = this.pending; body !== undefined; body = this.pending) {
        this.pending = undefined;
        const file = path.join(this.dataDir, KNOWN_PEERS_FILE);
        try {
          await writeFileAtomic(file, body, false);
          this.written = body;
        } catch (error) {
          this.log.warn({ err: error, file }, 'could not save the known peer addresses');
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
