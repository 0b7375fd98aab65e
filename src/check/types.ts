// The vocabulary of the linearizability checker: operations (a call and its return, as
// intervals of time), sequential models that say which operation is legal in which state, and
// the verdict. Nothing here knows about files or formats; see ./history.ts for that.

/**
 * One operation of a concurrent history: a client invoked `input` at time `call` and saw
 * `output` at time `return`.
 *
 * An operation whose outcome is unknown (the client timed out, Jepsen's `:info`, or the history
 * simply ends before it completed) has `return === Infinity`: it may take effect at any point
 * after its call, or never (linearizing it after every other operation is the same as never).
 * Its `output` is whatever the model uses to say "unknown"; for the models in ./models.ts that is
 * `{ type: 'unknown' }`.
 *
 * Times are any numbers that order events: nanoseconds, milliseconds, simulator ticks or line
 * numbers. Only their order matters. When a call and a return carry the same time, the call is
 * taken to come first, so the two operations are treated as concurrent (the permissive reading:
 * a tie can never produce a false alarm).
 */
export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  readonly output: O;
  readonly call: number;
  readonly return: number;
}

/** A sub-history that can be checked on its own, with the name it is reported under. */
export interface Partition<I, O> {
  readonly key: string;
  readonly operations: readonly Operation<I, O>[];
}

/**
 * A sequential specification. `step` says whether `input` could have produced `output` in
 * `state`, and what the state is afterwards. It must be a pure function: the search calls it
 * many times with the same arguments and caches what it learns.
 */
export interface Model<S, I, O> {
  readonly name: string;
  init(): S;
  step(state: S, input: I, output: O): [ok: boolean, newState: S];
  /**
   * Splits a history into independent sub-histories (P-compositionality: a history is
   * linearizable if and only if each sub-history is, when the object is a product of
   * independent objects, such as the keys of a key-value store). Without it the whole history
   * is one partition named "".
   */
  partition?(operations: readonly Operation<I, O>[]): Partition<I, O>[];
  /** Defaults to `Object.is`. Must agree with `hash`: equal states have equal hashes. */
  equal?(a: S, b: S): boolean;
  /** A 32-bit hash of a state for the search's cache. Defaults to hashing `JSON.stringify`. */
  hash?(state: S): number;
  /** The state for humans, in counterexamples. Defaults to `JSON.stringify`. */
  describeState?(state: S): string;
}

export interface CheckOptions {
  /** Wall-clock budget for the whole check; past it the verdict is `unknown`. */
  readonly timeoutMs?: number;
  /** Budget in search steps (one step tries or undoes one operation); deterministic. */
  readonly maxSteps?: number;
  /** The clock the budget is measured against, in milliseconds. Defaults to performance.now. */
  readonly now?: () => number;
}

/**
 * Why a partition is not linearizable, as far as the search can tell: the longest sequence of
 * operations it managed to linearize, and the operation whose return it then reached without
 * having found a place for it. This is a hint for a human, not a minimal counterexample.
 */
export interface Counterexample<I, O> {
  /** The deepest linearization the search reached, in linearization order. */
  readonly linearized: readonly Operation<I, O>[];
  /** The model state after `linearized`. */
  readonly state: string;
  /** The operation that returned before it could be placed after `linearized`. */
  readonly stuck: Operation<I, O>;
}

interface CheckStats {
  readonly operationCount: number;
  readonly partitionCount: number;
  /** Search steps over all partitions checked. */
  readonly steps: number;
  readonly elapsedMs: number;
}

export type CheckResult<I, O> =
  | (CheckStats & { readonly result: 'linearizable' })
  | (CheckStats & {
      readonly result: 'not-linearizable';
      /** The partition that has no linearization. */
      readonly key: string;
      readonly counterexample: Counterexample<I, O>;
    })
  | (CheckStats & {
      readonly result: 'unknown';
      /** The partition being searched when the budget ran out. */
      readonly key: string;
      readonly reason: 'timeout' | 'step-budget';
    });
