// From a recorded history (invocations and completions as separate events, matched by process,
// the way Jepsen records them) to the operations the checker works on. The parsers in this
// folder only turn text into events; every rule about what an event means lives here, once.

import { kvFunctions, type KvFunction, type KvInput, type KvOperation, type KvOutput, type Value } from './models.js';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

/** One line of a history, whatever its format. */
export interface HistoryEvent {
  /** The client that performed the operation; one operation at a time per process. */
  readonly process: number;
  readonly type: EventType;
  readonly f: KvFunction;
  /** "" for a lone register. */
  readonly key: string;
  /**
   * The argument on an invocation (a value for write/put/append, `[from, to]` for cas, nothing
   * for read/get), the value read on a read's or get's `ok`. Numbers are already strings.
   */
  readonly value: Value | readonly [Value, Value] | undefined;
  /**
   * Set on a completion that reports an error instead of a result (Jepsen's `:timed-out`, the
   * JSON format's `error`). A `fail` with an error means "did not happen" even for a cas.
   */
  readonly error?: string;
  /** Orders events; see Operation in ./types.ts. */
  readonly time: number;
  /** 1-based line of the source, for messages. */
  readonly line: number;
}

export type HistoryErrorCode =
  | 'bad-line'
  | 'bad-field'
  | 'unsupported-function'
  | 'unmatched-completion'
  | 'overlapping-invocation'
  | 'mismatched-completion'
  | 'time-reversed';

/** A history that cannot be read as written: an operating error, reported with its line. */
export class HistoryError extends Error {
  constructor(
    readonly code: HistoryErrorCode,
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'HistoryError';
  }
}

/**
 * Pairs each invocation with its process's next completion and turns the pair into an
 * operation:
 * - `ok` is a definite result;
 * - `fail` on a cas without an error is a definite result too: the comparison failed;
 * - any other `fail` means the operation did not take effect, and it is dropped;
 * - a read or get with an unknown outcome is dropped too: it changed nothing and observed
 *   nothing, so it could always be linearized last; keeping it would only slow the search;
 * - `info`, or no completion at all before the history ends, is an unknown outcome: the
 *   operation returns at Infinity. After `info` the process may invoke again (Jepsen gives it a
 *   new number; a harness that reuses the number is fine too), since the two can overlap.
 */
export function eventsToOperations(
  events: readonly HistoryEvent[],
  functions: readonly KvFunction[] = kvFunctions,
): KvOperation[] {
  const operations: KvOperation[] = [];
  const pending = new Map<number, { event: HistoryEvent; input: KvInput }>();
  for (const event of events) {
    if (!functions.includes(event.f)) {
      throw new HistoryError('unsupported-function', event.line, `this model has no "${event.f}" (it has ${functions.join(', ')})`);
    }
    if (event.type === 'invoke') {
      const open = pending.get(event.process);
      if (open !== undefined) {
        throw new HistoryError('overlapping-invocation', event.line,
          `process ${event.process} invokes again while its invocation on line ${open.event.line} has no completion`);
      }
      pending.set(event.process, { event, input: inputOf(event) });
      continue;
    }
    const open = pending.get(event.process);
    if (open === undefined) {
      throw new HistoryError('unmatched-completion', event.line, `process ${event.process} completes an operation it never invoked`);
    }
    pending.delete(event.process);
    const invoke = open.event;
    if (invoke.f !== event.f || invoke.key !== event.key) {
      throw new HistoryError('mismatched-completion', event.line,
        `completion ${event.f} [key ${JSON.stringify(event.key)}] does not match the invocation on line ${invoke.line}: ${invoke.f} [key ${JSON.stringify(invoke.key)}]`);
    }
    if (event.time < invoke.time) {
      throw new HistoryError('time-reversed', event.line, `completes at ${event.time}, before its invocation at ${invoke.time} (line ${invoke.line})`);
    }
    const output = outputOf(event);
    if (output === 'dropped') continue;
    const returnTime = output.type === 'unknown' ? Infinity : event.time;
    operations.push({ clientId: event.process, input: open.input, output, call: invoke.time, return: returnTime });
  }
  for (const { event, input } of pending.values()) {
    if (isRead(event.f)) continue;
    operations.push({ clientId: event.process, input, output: { type: 'unknown' }, call: event.time, return: Infinity });
  }
  return operations;
}

function inputOf(event: HistoryEvent): KvInput {
  const { f, key, value } = event;
  switch (f) {
    case 'read':
    case 'get':
      return { f, key };
    case 'write':
    case 'put':
    case 'append':
      if (typeof value !== 'string') {
        throw new HistoryError('bad-field', event.line, `${f} needs a string or number value, got ${JSON.stringify(value)}`);
      }
      return { f, key, value };
    case 'cas': {
      if (!Array.isArray(value) || value.length !== 2 || typeof value[1] !== 'string') {
        throw new HistoryError('bad-field', event.line, `cas needs a value [from, to] with a non-nil "to", got ${JSON.stringify(value)}`);
      }
      const [from, to] = value as readonly [Value, string];
      return { f, key, from, to };
    }
    default:
      return assertNever(f);
  }
}

function outputOf(event: HistoryEvent): KvOutput | 'dropped' {
  switch (event.type) {
    case 'ok':
      if (isRead(event.f)) return { type: 'ok', value: readValue(event) };
      return { type: 'ok' };
    case 'fail':
      return event.f === 'cas' && event.error === undefined ? { type: 'fail' } : 'dropped';
    case 'info':
      return isRead(event.f) ? 'dropped' : { type: 'unknown' };
    case 'invoke':
      throw new Error(`unreachable: an invocation is not a completion (line ${event.line})`);
    default:
      return assertNever(event.type);
  }
}

function isRead(f: KvFunction): boolean {
  return f === 'read' || f === 'get';
}

function readValue(event: HistoryEvent): Value {
  const { value } = event;
  if (value === undefined || Array.isArray(value)) {
    throw new HistoryError('bad-field', event.line, `an ok ${event.f} needs the value read, got ${JSON.stringify(value)}`);
  }
  // A get never sees "absent": a missing key reads as the empty string.
  if (event.f === 'get' && value === null) return '';
  return value as Value;
}

function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
