// The peer handshake's pure parts: who may connect, and the HMAC proofs (docs/transport.md).
//
// The dialer sends `hello` (cluster id, its id, the id it means to reach, the lane, a nonce). The
// listener checks it, then answers `challenge` with its own nonce and a proof that it knows the
// secret; the dialer checks that proof and answers `auth` with its own; the listener checks it and
// sends `accept`. Either side that finds something wrong sends `refuse` with a reason, so both
// ends log the same cause. The secret itself never crosses the wire. With no secret configured the
// key is empty: the proofs still bind the transcript, and a node with a secret refuses one without.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';
import { encodeFrame, NONCE_BYTES, type HelloFrame, type RefusalReason } from './codec.js';

export interface Refusal {
  readonly reason: RefusalReason;
  readonly detail: string;
}

export type HandshakeRole = 'listener' | 'dialer';

/** What a listener knows about itself when it judges a hello. */
export interface ListenerIdentity {
  readonly id: NodeId;
  readonly clusterId: string;
  /** Ids removed from the cluster (Raft never reuses them); they may not connect. */
  readonly removed: ReadonlySet<NodeId>;
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** Why a listener must refuse `hello`, or undefined when the dialer may go on to authenticate. */
export function checkHello(hello: HelloFrame, self: ListenerIdentity): Refusal | undefined {
  if (hello.clusterId !== self.clusterId) {
    return {
      reason: 'cluster-mismatch',
      detail: `node ${self.id} belongs to cluster ${JSON.stringify(self.clusterId)}, not ${JSON.stringify(hello.clusterId)}`,
    };
  }
  if (hello.to !== self.id) {
    return { reason: 'wrong-target', detail: `this address is node ${self.id}, not node ${hello.to}` };
  }
  if (hello.from === 0 || hello.from === self.id) {
    return { reason: 'protocol', detail: `a peer cannot claim id ${hello.from}` };
  }
  if (self.removed.has(hello.from)) {
    return { reason: 'removed', detail: `node ${hello.from} was removed from the cluster` };
  }
  return undefined;
}

/**
 * Proof that `role` knows the secret, bound to one connection: HMAC-SHA256 keyed by the secret
 * over a role label, the whole hello frame (cluster, both ids, lane, the dialer's nonce, the
 * protocol version) and the listener's nonce. The label keeps one side's proof from being replayed
 * as the other's; the two nonces keep a recorded proof from being replayed on a new connection.
 */
export function handshakeProof(secret: Buffer, role: HandshakeRole, hello: HelloFrame, listenerNonce: Buffer): Buffer {
  return createHmac('sha256', secret).update(`raftis-peer-${role}\0`).update(encodeFrame(hello)).update(listenerNonce).digest();
}

/** Constant-time comparison, so a forger learns nothing from how long a refusal takes. */
export function proofMatches(expected: Buffer, actual: Buffer): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
