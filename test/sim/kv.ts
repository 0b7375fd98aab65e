// The simulator's state machine: a handful of string keys with write and compare-and-set, the
// operations the linearizability checker's kv model knows. Commands travel through the Raft log
// as JSON; every command carries the id of the client operation that proposed it, so a client
// can tell its own entry from another one that took its index, and the checks can tell that no
// operation took effect twice.

import { Digest } from './hash.js';

export type Value = string | null;

export type KvCommand =
  | { readonly f: 'write'; readonly key: string; readonly value: string; readonly opId: number }
  | { readonly f: 'cas'; readonly key: string; readonly from: Value; readonly to: string; readonly opId: number };

export interface ApplyResult {
  readonly opId: number;
  /** For cas: whether the comparison held. Always true for a write. */
  readonly ok: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

const decoded = new WeakMap<Uint8Array, KvCommand>();

/** Decodes a command; the result is cached per buffer (nodes in one process share entries). */
export function decodeCommand(data: Uint8Array): KvCommand {
  const cached = decoded.get(data);
  if (cached !== undefined) return cached;
  const parsed = JSON.parse(decoder.decode(data)) as KvCommand;
  if (parsed.f !== 'write' && parsed.f !== 'cas') throw new Error(`not a kv command: ${decoder.decode(data)}`);
  decoded.set(data, parsed);
  return parsed;
}

export class KvStateMachine {
  private values = new Map<string, string>();
  /** The digest of `values`, or undefined after a change. */
  private cachedDigest: number | undefined;

  get(key: string): Value {
    return this.values.get(key) ?? null;
  }

  apply(command: KvCommand): ApplyResult {
    switch (command.f) {
      case 'write':
        this.values.set(command.key, command.value);
        this.cachedDigest = undefined;
        return { opId: command.opId, ok: true };
      case 'cas': {
        const ok = this.get(command.key) === command.from;
        if (ok) {
          this.values.set(command.key, command.to);
          this.cachedDigest = undefined;
        }
        return { opId: command.opId, ok };
      }
      default:
        throw new Error(`unknown kv command ${JSON.stringify(command satisfies never)}`);
    }
  }

  /** The whole state as bytes: sorted [key, value] pairs in JSON. */
  image(): Uint8Array {
    return encoder.encode(JSON.stringify(this.sortedPairs()));
  }

  static fromImage(data: Uint8Array): KvStateMachine {
    const machine = new KvStateMachine();
    if (data.length === 0) return machine;
    const pairs = JSON.parse(decoder.decode(data)) as [string, string][];
    for (const [key, value] of pairs) machine.values.set(key, value);
    return machine;
  }

  /** A digest of the state, equal on two machines exactly when they hold the same pairs. */
  digest(): number {
    if (this.cachedDigest !== undefined) return this.cachedDigest;
    const digest = new Digest(7);
    for (const [key, value] of this.sortedPairs()) digest.string(key).string(value);
    this.cachedDigest = digest.value();
    return this.cachedDigest;
  }

  describe(): string {
    return this.sortedPairs().map(([key, value]) => `${key}=${value}`).join(' ');
  }

  private sortedPairs(): [string, string][] {
    return [...this.values].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}
