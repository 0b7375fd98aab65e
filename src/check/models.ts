// Sequential specifications for the checker: a register (read, write, compare-and-set) and a
// key-value store (get, put, append, and the register operations on each key).
//
// Both are products of independent per-key objects, so both partition the history by key and
// the state the search carries is one key's value. That is exact, not an approximation:
// linearizability is compositional (Herlihy & Wing 1990, "locality"), so a history is
// linearizable if and only if each key's sub-history is.

import { hashString } from './checker.js';
import type { Model, Operation, Partition } from './types.js';

/** A stored value; `null` is "no such key" (a register before its first write). */
export type Value = string | null;

/** The functions of the key-value model; the register model accepts `read`, `write`, `cas`. */
export type KvFunction = 'read' | 'write' | 'cas' | 'get' | 'put' | 'append';
export const registerFunctions: readonly KvFunction[] = ['read', 'write', 'cas'];
export const kvFunctions: readonly KvFunction[] = ['read', 'write', 'cas', 'get', 'put', 'append'];

/**
 * What a client asked for. `key` is "" for a lone register.
 * - `read` sees the value or `null` when the key is absent; `get` sees "" when it is absent.
 * - `write` and `put` both set the value; `append` concatenates to it (to "" when absent).
 * - `cas` sets the value to `to` if it is `from` (`from: null` means "if absent").
 */
export type KvInput =
  | { readonly f: 'read' | 'get'; readonly key: string }
  | { readonly f: 'write' | 'put' | 'append'; readonly key: string; readonly value: string }
  | { readonly f: 'cas'; readonly key: string; readonly from: Value; readonly to: string };

/**
 * What the client saw, named as Jepsen names completions:
 * - `ok`: it happened; for `read` and `get`, `value` is what was read;
 * - `fail`: for `cas` only, the comparison failed (the value was not `from`). Any other failed
 *   operation had no effect at all and does not belong in the history;
 * - `unknown`: no answer (a timeout, Jepsen's `:info`); the operation's return time is Infinity.
 */
export type KvOutput =
  | { readonly type: 'ok'; readonly value?: Value }
  | { readonly type: 'fail' }
  | { readonly type: 'unknown' };

export type KvOperation = Operation<KvInput, KvOutput>;
export type KvModel = Model<Value, KvInput, KvOutput>;

function stepKv(state: Value, input: KvInput, output: KvOutput): [ok: boolean, newState: Value] {
  switch (input.f) {
    case 'read':
      return [output.type === 'unknown' || (output.type === 'ok' && output.value === state), state];
    case 'get':
      return [output.type === 'unknown' || (output.type === 'ok' && output.value === (state ?? '')), state];
    case 'write':
    case 'put':
      return [output.type !== 'fail', input.value];
    case 'append':
      return [output.type !== 'fail', (state ?? '') + input.value];
    case 'cas': {
      const matches = state === input.from;
      const newState = matches ? input.to : state;
      switch (output.type) {
        case 'ok':
          return [matches, newState];
        case 'fail':
          return [!matches, state];
        case 'unknown':
          return [true, newState];
        default:
          return assertNever(output);
      }
    }
    default:
      return assertNever(input);
  }
}

/** Groups operations by `input.key`, keeping each group in the order given. */
export function partitionByKey<I extends { readonly key: string }, O>(
  operations: readonly Operation<I, O>[],
): Partition<I, O>[] {
  const byKey = new Map<string, Operation<I, O>[]>();
  for (const op of operations) {
    const group = byKey.get(op.input.key);
    if (group === undefined) byKey.set(op.input.key, [op]);
    else group.push(op);
  }
  return Array.from(byKey, ([key, group]) => ({ key, operations: group }));
}

export function describeValue(value: Value): string {
  return value === null ? 'nil' : JSON.stringify(value);
}

export function describeKvOperation(input: KvInput, output: KvOutput): string {
  let call: string;
  switch (input.f) {
    case 'read':
    case 'get':
      call = input.f;
      break;
    case 'write':
    case 'put':
    case 'append':
      call = `${input.f} ${describeValue(input.value)}`;
      break;
    case 'cas':
      call = `cas ${describeValue(input.from)} -> ${describeValue(input.to)}`;
      break;
    default:
      return assertNever(input);
  }
  const key = input.key === '' ? '' : ` [key ${JSON.stringify(input.key)}]`;
  switch (output.type) {
    case 'ok':
      return `${call}${key}: ok${output.value === undefined ? '' : ` ${describeValue(output.value)}`}`;
    case 'fail':
      return `${call}${key}: fail`;
    case 'unknown':
      return `${call}${key}: unknown`;
    default:
      return assertNever(output);
  }
}

function hashValue(value: Value): number {
  return value === null ? 0x6e756c6c : hashString(value);
}

/** A register per key (a single register when every key is ""), initially absent. */
export const registerModel: KvModel = {
  name: 'register',
  init: () => null,
  step: stepKv,
  partition: partitionByKey,
  equal: (a, b) => a === b,
  hash: hashValue,
  describeState: describeValue,
};

/** A key-value store of strings; every key starts absent, which `get` reads as "". */
export const kvModel: KvModel = { ...registerModel, name: 'kv' };

export const models = { register: registerModel, kv: kvModel } as const;
export type ModelName = keyof typeof models;

function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
