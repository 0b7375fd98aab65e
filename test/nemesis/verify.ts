// The verdicts a run is judged by, computed from the recorded history alone (so a saved
// history.jsonl can be checked again, exactly as the run checked it):
// - linearizability, key by key, with the project's checker (src/check); the final read of every
//   key is part of the history, so a lost acknowledged write shows up as a final read that no
//   linearization allows;
// - atomicity of transactions: a transactional read of a pair of keys (recorded as two reads
//   with the same invocation time by processes 2i and 2i+1) must see both keys equal, since
//   they are only ever written together with one value.
import {
  checkOperations,
  describeKvOperation,
  eventsToOperations,
  kvModel,
  type HistoryEvent,
  type KvOperation,
} from '../../src/check/index.js';

/** Processes at or above this number are the harness's final reads, after faults stopped. */
export const FINAL_READ_PROCESS_BASE = 1_000_000;

export interface KeyVerdict {
  readonly key: string;
  readonly operations: number;
  readonly result: 'linearizable' | 'not-linearizable' | 'unknown';
  readonly steps: number;
  readonly elapsedMs: number;
  /** For a key without a linearization (or without a verdict): what to read first. */
  readonly explanation: readonly string[];
}

export interface TornRead {
  readonly pair: string;
  readonly process: number;
  readonly time: number;
  readonly a: string | null;
  readonly b: string | null;
}

const seconds = (ns: number): string => (ns === Infinity ? '∞' : `${(ns / 1e9).toFixed(6)}s`);

/** Which node an operation was sent to, by process and invocation time, when the history says. */
export type NodeOf = (process: number, callTime: number) => number | undefined;

/** Reads the `node` field the harness adds to invocation lines (the checker ignores it). */
export function nodesOfHistory(text: string): NodeOf {
  const nodes = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.includes('"node"')) continue;
    const record = JSON.parse(line) as { process: number; type: string; time: number; node?: number };
    if (record.type === 'invoke' && record.node !== undefined) nodes.set(`${record.process}@${record.time}`, record.node);
  }
  return (process, callTime) => nodes.get(`${process}@${callTime}`);
}

function describer(nodeOf: NodeOf): (op: KvOperation) => string {
  return (op) => {
    const who = op.clientId >= FINAL_READ_PROCESS_BASE ? 'final read' : `process ${op.clientId}`;
    const node = nodeOf(op.clientId, op.call);
    const via = node === undefined ? '' : ` via n${node}`;
    const returned = op.return === Infinity ? 'never returned' : `returned ${seconds(op.return)}`;
    return `${who}${via}: ${describeKvOperation(op.input, op.output)} (called ${seconds(op.call)}, ${returned})`;
  };
}

/** Checks each key on its own, with its own time budget; keys in name order. */
export function checkKeys(events: readonly HistoryEvent[], timeoutMsPerKey: number, nodeOf: NodeOf = () => undefined): KeyVerdict[] {
  const describe = describer(nodeOf);
  const byKey = new Map<string, KvOperation[]>();
  for (const op of eventsToOperations(events)) {
    const ops = byKey.get(op.input.key) ?? [];
    ops.push(op);
    byKey.set(op.input.key, ops);
  }
  const verdicts: KeyVerdict[] = [];
  for (const key of [...byKey.keys()].sort()) {
    const ops = byKey.get(key) as KvOperation[];
    const result = checkOperations(kvModel, ops, { timeoutMs: timeoutMsPerKey });
    const base = { key, operations: ops.length, steps: result.steps, elapsedMs: result.elapsedMs };
    switch (result.result) {
      case 'linearizable':
        verdicts.push({ ...base, result: 'linearizable', explanation: [] });
        break;
      case 'not-linearizable': {
        const { linearized, state, stuck } = result.counterexample;
        const shown = linearized.slice(-15);
        verdicts.push({
          ...base,
          result: 'not-linearizable',
          explanation: [
            `key ${JSON.stringify(key)} has no linearization; the deepest the search got was ${linearized.length} operations, ending with:`,
            ...(shown.length < linearized.length ? [`  ... ${linearized.length - shown.length} earlier operations`] : []),
            ...shown.map((op) => `  ${describe(op)}`),
            `  (state then: ${state})`,
            'after which this operation returned before it could be placed:',
            `  ${describe(stuck)}`,
            ...(stuck.clientId >= FINAL_READ_PROCESS_BASE
              ? ['(the final read after healing: an acknowledged write is missing, or a failed one took effect)'] : []),
          ],
        });
        break;
      }
      case 'unknown':
        verdicts.push({
          ...base,
          result: 'unknown',
          explanation: [`key ${JSON.stringify(key)}: no verdict, the ${result.reason} ran out after ${result.steps} steps (${ops.length} operations)`],
        });
        break;
      default:
        return assertNever(result);
    }
  }
  return verdicts;
}

/** A write the server said did not happen, whose value someone later saw. */
export interface PhantomWrite {
  readonly key: string;
  readonly value: string;
  readonly process: number;
  readonly call: number;
  readonly failedAt: number;
  readonly error: string;
  /** The first operation that saw the value: a read of it, or a cas that compared equal to it. */
  readonly seenBy: number;
  readonly seenAt: number;
}

/**
 * Writes and cas that completed `fail` with an error (the server said they were not applied)
 * but whose value was later read, or matched by a successful cas. Values are never written
 * twice, so any such sighting proves the write took effect: the error reply was wrong. The
 * linearizability check fails such a history too; this names the cause.
 */
export function phantomWrites(events: readonly HistoryEvent[]): PhantomWrite[] {
  // Pair each completion with its invocation once; the sighting may come before the error reply.
  const completed: { call: HistoryEvent; done: HistoryEvent }[] = [];
  const invoked = new Map<number, HistoryEvent>();
  for (const event of events) {
    if (event.type === 'invoke') {
      invoked.set(event.process, event);
      continue;
    }
    const call = invoked.get(event.process);
    invoked.delete(event.process);
    if (call) completed.push({ call, done: event });
  }
  const failed = new Map<string, Omit<PhantomWrite, 'seenBy' | 'seenAt'>>();
  for (const { call, done } of completed) {
    const written = call.f === 'write' ? call.value : call.f === 'cas' && Array.isArray(call.value) ? call.value[1] : undefined;
    if (done.type === 'fail' && done.error !== undefined && typeof written === 'string') {
      failed.set(`${call.key}\u0000${written}`, { key: call.key, value: written, process: call.process, call: call.time, failedAt: done.time, error: done.error });
    }
  }
  const found: PhantomWrite[] = [];
  for (const { call, done } of completed) {
    if (done.type !== 'ok') continue;
    const seen = call.f === 'read' ? done.value : call.f === 'cas' && Array.isArray(call.value) ? call.value[0] : undefined;
    if (typeof seen !== 'string') continue;
    const phantom = failed.get(`${call.key}\u0000${seen}`);
    if (!phantom) continue;
    failed.delete(`${call.key}\u0000${seen}`);
    found.push({ ...phantom, seenBy: call.process, seenAt: done.time });
  }
  return found;
}

/** Transactional reads of a pair that saw its two keys differ. */
export function tornReads(events: readonly HistoryEvent[]): TornRead[] {
  // An ok read of "<pair>.a" by process 2i and one of "<pair>.b" by process 2i+1 invoked at the
  // same instant are the two halves of one MULTI GET GET EXEC.
  const invoked = new Map<number, HistoryEvent>();
  const halves = new Map<string, { a?: HistoryEvent; b?: HistoryEvent }>();
  for (const event of events) {
    if (event.type === 'invoke') {
      invoked.set(event.process, event);
      continue;
    }
    const call = invoked.get(event.process);
    invoked.delete(event.process);
    if (!call || event.type !== 'ok' || event.f !== 'read') continue;
    const match = /^(.*)\.(a|b)$/.exec(event.key);
    if (!match) continue;
    const pair = match[1] as string;
    const side = match[2] as 'a' | 'b';
    if ((side === 'a') !== (event.process % 2 === 0)) continue;
    const id = `${pair}|${Math.floor(event.process / 2)}|${call.time}`;
    const entry = halves.get(id) ?? {};
    entry[side] = event;
    halves.set(id, entry);
  }
  const torn: TornRead[] = [];
  for (const [id, { a, b }] of halves) {
    if (!a || !b) continue;
    const valueA = (a.value ?? null) as string | null;
    const valueB = (b.value ?? null) as string | null;
    if (valueA !== valueB) torn.push({ pair: id.split('|')[0] as string, process: a.process, time: a.time, a: valueA, b: valueB });
  }
  return torn;
}

function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
