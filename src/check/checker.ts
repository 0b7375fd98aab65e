// The linearizability search of Wing & Gong (1993) with Lowe's memoization (2017), as the
// porcupine checker implements it.
//
// A partition's calls and returns are laid out in time order in a doubly linked list. The search
// walks the list from the front: at a call it tries to linearize that operation next (the model
// must accept it in the current state); if that works the call and its return are lifted out of
// the list, the attempt is pushed on a stack and the walk restarts from the front. Reaching a
// return means the operation that returned there was not linearized before it returned: a dead
// end, so the search pops the last attempt, puts its events back and tries the next call after
// it. The list empties exactly when every operation has been placed.
//
// Lowe's cache makes this usable: the future of the search depends only on which operations are
// linearized and on the model state, so each (linearized set, state) pair is explored once.
// Linearized sets are bitsets; their hash is kept up to date incrementally (Zobrist: the XOR of
// one fixed random word per member), so a cache probe costs one model hash and, on a hash match,
// a word-by-word comparison.

import type { CheckOptions, CheckResult, Counterexample, Model, Operation, Partition } from './types.js';

/** Steps between two looks at the clock: reading it is far dearer than a step. */
const CLOCK_CHECK_INTERVAL_STEPS = 1024;
const NIL = -1;
const HEAD = 0;

/**
 * Decides whether `operations` is linearizable with respect to `model`. Each partition of the
 * model is searched on its own, smallest first, and the first one without a linearization is
 * reported. When the budget in `options` runs out the verdict is `unknown`, never a guess.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  for (const [index, op] of operations.entries()) assertOperation(op, index);
  const now = options.now ?? (() => performance.now());
  const startMs = now();
  const budget: Budget = {
    steps: 0,
    maxSteps: options.maxSteps ?? Infinity,
    deadlineMs: options.timeoutMs === undefined ? Infinity : startMs + options.timeoutMs,
    now,
  };
  const partitions: Partition<I, O>[] = model.partition
    ? model.partition(operations)
    : [{ key: '', operations }];
  // Small partitions first: a violation in a small one is found quickly, and a budget spent on
  // one huge partition does not leave the small ones unchecked.
  const order = [...partitions].sort((a, b) => a.operations.length - b.operations.length);
  const stats = () => ({
    operationCount: operations.length,
    partitionCount: partitions.length,
    steps: budget.steps,
    elapsedMs: now() - startMs,
  });
  for (const partition of order) {
    const outcome = searchPartition(model, partition.operations, budget);
    switch (outcome.kind) {
      case 'linearizable':
        break;
      case 'not-linearizable':
        return { ...stats(), result: 'not-linearizable', key: partition.key, counterexample: outcome.counterexample };
      case 'budget':
        return { ...stats(), result: 'unknown', key: partition.key, reason: outcome.reason };
      default:
        return assertNever(outcome);
    }
  }
  return { ...stats(), result: 'linearizable' };
}

interface Budget {
  steps: number;
  readonly maxSteps: number;
  readonly deadlineMs: number;
  readonly now: () => number;
}

type SearchOutcome<I, O> =
  | { readonly kind: 'linearizable' }
  | { readonly kind: 'not-linearizable'; readonly counterexample: Counterexample<I, O> }
  | { readonly kind: 'budget'; readonly reason: 'timeout' | 'step-budget' };

function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  budget: Budget,
): SearchOutcome<I, O> {
  const opCount = operations.length;
  if (opCount === 0) return { kind: 'linearizable' };
  const equal = model.equal ?? Object.is;
  const hash = model.hash ?? hashJson;

  // Events are list nodes 1..2*opCount; node 0 is the head sentinel.
  const list = buildEventList(operations);
  const { next, prev, nodeOp, returnNodeOf } = list;

  const words = (opCount + 31) >>> 5;
  const zobrist = zobristWords(opCount);
  const linearized = new Uint32Array(words);
  let linearizedHash = 0;
  const cache = new StateCache<S>(words, equal);

  // The stack of attempts: the call node linearized and the state before it.
  const stackNode = new Int32Array(opCount);
  const stackState: S[] = new Array<S>(opCount);
  let depth = 0;

  let state = model.init();
  let deepest: { depth: number; nodes: Int32Array; state: S; stuckOp: number } | undefined;
  let node = next[HEAD]!;

  while (next[HEAD] !== NIL) {
    budget.steps += 1;
    if (budget.steps > budget.maxSteps) return { kind: 'budget', reason: 'step-budget' };
    if (budget.steps % CLOCK_CHECK_INTERVAL_STEPS === 0 && budget.now() > budget.deadlineMs) {
      return { kind: 'budget', reason: 'timeout' };
    }
    const returnNode = returnNodeOf[node]!;
    if (returnNode !== NIL) {
      // A call: try to linearize its operation here.
      const opIndex = nodeOp[node]!;
      const op = operations[opIndex]!;
      const [ok, newState] = model.step(state, op.input, op.output);
      if (!ok) {
        node = next[node]!;
        continue;
      }
      const word = opIndex >>> 5;
      const bit = 1 << (opIndex & 31);
      linearized[word]! |= bit;
      const newHash = linearizedHash ^ zobrist[opIndex]!;
      const key = mixHash(newHash, hash(newState));
      if (cache.has(key, linearized, newState)) {
        // This (set, state) was explored already, and it led nowhere.
        linearized[word]! &= ~bit;
        node = next[node]!;
        continue;
      }
      cache.add(key, linearized, newState);
      stackNode[depth] = node;
      stackState[depth] = state;
      depth += 1;
      state = newState;
      linearizedHash = newHash;
      lift(next, prev, node, returnNode);
      node = next[HEAD]!;
    } else {
      // A return whose operation is not linearized yet: a dead end.
      if (deepest === undefined || depth > deepest.depth) {
        deepest = { depth, nodes: stackNode.slice(0, depth), state, stuckOp: nodeOp[node]! };
      }
      if (depth === 0) {
        const counterexample: Counterexample<I, O> = {
          linearized: Array.from(deepest.nodes, (n) => operations[nodeOp[n]!]!),
          state: model.describeState ? model.describeState(deepest.state) : JSON.stringify(deepest.state),
          stuck: operations[deepest.stuckOp]!,
        };
        return { kind: 'not-linearizable', counterexample };
      }
      depth -= 1;
      node = stackNode[depth]!;
      state = stackState[depth]!;
      const opIndex = nodeOp[node]!;
      linearized[opIndex >>> 5]! &= ~(1 << (opIndex & 31));
      linearizedHash ^= zobrist[opIndex]!;
      unlift(next, prev, node, returnNodeOf[node]!);
      node = next[node]!;
    }
  }
  return { kind: 'linearizable' };
}

interface EventList {
  /** next[node], NIL at the end of the list. */
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** The operation a node is the call or the return of. */
  readonly nodeOp: Int32Array;
  /** For a call node, its return node; NIL for a return node. */
  readonly returnNodeOf: Int32Array;
}

function buildEventList<I, O>(operations: readonly Operation<I, O>[]): EventList {
  const opCount = operations.length;
  // Event e < opCount is the call of operation e; e >= opCount the return of e - opCount.
  const events = Array.from({ length: 2 * opCount }, (_, e) => e);
  const timeOf = (e: number): number =>
    e < opCount ? operations[e]!.call : operations[e - opCount]!.return;
  events.sort((a, b) => {
    const ta = timeOf(a);
    const tb = timeOf(b);
    if (ta !== tb) return ta < tb ? -1 : 1;
    const aIsCall = a < opCount;
    const bIsCall = b < opCount;
    // At equal times calls come before returns: the operations overlap.
    if (aIsCall !== bIsCall) return aIsCall ? -1 : 1;
    return a - b;
  });
  const nodeCount = 2 * opCount + 1;
  const next = new Int32Array(nodeCount);
  const prev = new Int32Array(nodeCount);
  const nodeOp = new Int32Array(nodeCount).fill(NIL);
  const returnNodeOf = new Int32Array(nodeCount).fill(NIL);
  const nodeOfEvent = new Int32Array(2 * opCount);
  for (const [position, e] of events.entries()) nodeOfEvent[e] = position + 1;
  for (let node = 0; node < nodeCount; node += 1) {
    next[node] = node + 1 < nodeCount ? node + 1 : NIL;
    prev[node] = node - 1;
  }
  for (let op = 0; op < opCount; op += 1) {
    const callNode = nodeOfEvent[op]!;
    const returnNode = nodeOfEvent[op + opCount]!;
    nodeOp[callNode] = op;
    nodeOp[returnNode] = op;
    returnNodeOf[callNode] = returnNode;
  }
  return { next, prev, nodeOp, returnNodeOf };
}

/** Takes a call and its return out of the list; their own links are kept for `unlift`. */
function lift(next: Int32Array, prev: Int32Array, callNode: number, returnNode: number): void {
  next[prev[callNode]!] = next[callNode]!;
  // A call is always followed by at least its own return, so next[callNode] is a node.
  prev[next[callNode]!] = prev[callNode]!;
  next[prev[returnNode]!] = next[returnNode]!;
  if (next[returnNode] !== NIL) prev[next[returnNode]!] = prev[returnNode]!;
}

/** Undoes the matching `lift`; lifts and unlifts nest like a stack, so the links are intact. */
function unlift(next: Int32Array, prev: Int32Array, callNode: number, returnNode: number): void {
  next[prev[returnNode]!] = returnNode;
  if (next[returnNode] !== NIL) prev[next[returnNode]!] = returnNode;
  next[prev[callNode]!] = callNode;
  prev[next[callNode]!] = callNode;
}

/**
 * The set of (linearized bitset, state) pairs already explored: a chained hash table in typed
 * arrays. Entry i keeps its key in `keys[i]`, its bitset at `bits[i * words]`, its state in
 * `states[i]` and the next entry of its bucket in `chain[i]`, so an entry costs a few words
 * rather than an object, and there is no Map with its limit of 2^24 entries. It grows by at most
 * one entry per search step, so the step and time budgets bound its memory too.
 */
class StateCache<S> {
  private buckets: Int32Array;
  private keys: Int32Array;
  private chain: Int32Array;
  private bits: Uint32Array;
  private readonly states: S[] = [];
  /** Invariant: size <= buckets.length (a load factor of at most one). */
  size = 0;

  constructor(
    private readonly words: number,
    private readonly equal: (a: S, b: S) => boolean,
  ) {
    const capacity = 1024;
    this.buckets = new Int32Array(capacity).fill(NIL);
    this.keys = new Int32Array(capacity);
    this.chain = new Int32Array(capacity);
    this.bits = new Uint32Array(capacity * words);
  }

  has(key: number, linearized: Uint32Array, state: S): boolean {
    let entry = this.buckets[key & (this.buckets.length - 1)]!;
    while (entry !== NIL) {
      if (this.keys[entry] === key && this.bitsEqual(entry, linearized) && this.equal(this.states[entry]!, state)) {
        return true;
      }
      entry = this.chain[entry]!;
    }
    return false;
  }

  add(key: number, linearized: Uint32Array, state: S): void {
    if (this.size === this.buckets.length) this.grow();
    const entry = this.size;
    const bucket = key & (this.buckets.length - 1);
    this.keys[entry] = key;
    this.bits.set(linearized, entry * this.words);
    this.states.push(state);
    this.chain[entry] = this.buckets[bucket]!;
    this.buckets[bucket] = entry;
    this.size += 1;
  }

  private grow(): void {
    const capacity = this.buckets.length * 2;
    const keys = new Int32Array(capacity);
    keys.set(this.keys);
    this.keys = keys;
    const bits = new Uint32Array(capacity * this.words);
    bits.set(this.bits);
    this.bits = bits;
    this.chain = new Int32Array(capacity);
    this.buckets = new Int32Array(capacity).fill(NIL);
    for (let entry = 0; entry < this.size; entry += 1) {
      const bucket = this.keys[entry]! & (capacity - 1);
      this.chain[entry] = this.buckets[bucket]!;
      this.buckets[bucket] = entry;
    }
  }

  private bitsEqual(entry: number, linearized: Uint32Array): boolean {
    const base = entry * this.words;
    for (let w = 0; w < this.words; w += 1) {
      if (this.bits[base + w] !== linearized[w]) return false;
    }
    return true;
  }
}

/** One pseudo-random word per operation, from a fixed seed so that runs are reproducible. */
function zobristWords(count: number): Int32Array {
  const words = new Int32Array(count);
  let seed = 0x9e3779b9;
  for (let i = 0; i < count; i += 1) {
    // splitmix32
    seed = (seed + 0x9e3779b9) | 0;
    let z = seed;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    words[i] = z ^ (z >>> 16);
  }
  return words;
}

/** Combines the two hashes; the cache takes its bucket from the low bits. */
function mixHash(linearizedHash: number, stateHash: number): number {
  const h = Math.imul(stateHash ^ (stateHash >>> 15), 0x2c1b3c6d);
  return (linearizedHash ^ h ^ (h >>> 12)) | 0;
}

/**
 * A cheap 32-bit hash of a string: its length and at most 48 characters from its ends. Values
 * built by appends share long prefixes and differ at the end, so the tail is where the entropy
 * is. Equal strings hash equally, which is all the cache needs; collisions only cost a compare.
 */
export function hashString(text: string): number {
  let h = Math.imul(text.length, 0x9e3779b1) ^ 0x811c9dc5;
  const headEnd = Math.min(text.length, 16);
  for (let i = 0; i < headEnd; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  const tailStart = Math.max(headEnd, text.length - 32);
  for (let i = tailStart; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h | 0;
}

function hashJson(state: unknown): number {
  return hashString(JSON.stringify(state) ?? 'undefined');
}

function assertOperation<I, O>(op: Operation<I, O>, index: number): void {
  if (!Number.isFinite(op.call)) {
    throw new Error(`operation ${index}: call time must be a finite number, got ${op.call}`);
  }
  if (Number.isNaN(op.return)) throw new Error(`operation ${index}: return time is NaN`);
  if (op.return < op.call) {
    throw new Error(`operation ${index}: returns at ${op.return}, before its call at ${op.call}`);
  }
}

function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
