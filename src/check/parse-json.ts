/**
 * The raftis history format: JSON Lines, one event per line, invocations and completions as
 * separate lines matched by process, as Jepsen records them. A writer appends a line when a
 * client sends a request and another when the answer arrives (or gives up), and never has to
 * hold an operation open in memory.
 *
 *     {"process":0,"type":"invoke","f":"write","key":"a","value":"1","time":1000}
 *     {"process":1,"type":"invoke","f":"read","key":"a","time":1200}
 *     {"process":0,"type":"ok","f":"write","key":"a","value":"1","time":1500}
 *     {"process":1,"type":"ok","f":"read","key":"a","value":"1","time":1700}
 *     {"process":0,"type":"invoke","f":"cas","key":"a","value":["1","2"],"time":1800}
 *     {"process":0,"type":"info","f":"cas","key":"a","time":9800,"error":"timeout"}
 *
 * Fields:
 * - `process` (integer, required): the client. A process has at most one operation open; after
 *   `info` it may invoke again.
 * - `type` (required): `invoke`, then one of `ok` (it happened), `fail` (it did not happen; on
 *   a cas without `error`: the comparison failed), `info` (unknown: it may or may not have taken
 *   effect). An invocation without a completion is unknown, like `info`.
 * - `f` (required): `read`, `write`, `cas` (register and kv models), `get`, `put`, `append`
 *   (kv model). The completion repeats the invocation's `f` and `key`.
 * - `key` (string or number, optional): which register or key; omitted means "" (one register).
 * - `value`: on an invocation, the argument: a string or number for write/put/append,
 *   `[from, to]` for cas (`from` may be null: "if absent"), nothing or null for read/get. On a
 *   read's or get's `ok`, the value read: null when the key is absent (a get may also write "").
 *   Elsewhere it is ignored. Numbers are compared as their decimal strings, as Redis would.
 * - `time` (number, optional): when the event happened, in any unit (ns, ms, ticks): only order
 *   matters, and equal times count as concurrent. Give it on every line or on none; without it
 *   the line order is the time order. Keep times below 2^53 (about 9e15): nanoseconds since the
 *   start of a run are fine, nanoseconds since 1970 lose precision as JSON numbers (rounding
 *   never reorders events, but it turns near ones into ties).
 * - `error` (string, optional, on completions): what went wrong. A `fail` with an `error` is
 *   dropped even for a cas: use it for requests refused before they could take effect.
 *
 * Blank lines are ignored. Any other line that is not such an object is an error.
 */

import { kvFunctions, type KvFunction, type Value } from './models.js';
import { HistoryError, type EventType, type HistoryEvent } from './history.js';

const eventTypes: readonly EventType[] = ['invoke', 'ok', 'fail', 'info'];

export function parseJsonHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  let timedLines = 0;
  let untimedLines = 0;
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    if (raw.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (error) {
      throw new HistoryError('bad-line', line, `not JSON: ${(error as Error).message}`);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new HistoryError('bad-line', line, 'expected a JSON object');
    }
    const fields = record as Record<string, unknown>;
    const { process, type, f, key, time, error } = fields;
    if (!Number.isInteger(process)) throw new HistoryError('bad-field', line, `"process" must be an integer, got ${JSON.stringify(process)}`);
    if (!eventTypes.includes(type as EventType)) throw new HistoryError('bad-field', line, `"type" must be one of ${eventTypes.join(', ')}, got ${JSON.stringify(type)}`);
    if (!kvFunctions.includes(f as KvFunction)) throw new HistoryError('bad-field', line, `"f" must be one of ${kvFunctions.join(', ')}, got ${JSON.stringify(f)}`);
    if (key !== undefined && typeof key !== 'string' && typeof key !== 'number') throw new HistoryError('bad-field', line, `"key" must be a string or number, got ${JSON.stringify(key)}`);
    if (error !== undefined && typeof error !== 'string') throw new HistoryError('bad-field', line, `"error" must be a string, got ${JSON.stringify(error)}`);
    if (time === undefined) {
      untimedLines += 1;
    } else if (typeof time === 'number' && Number.isFinite(time)) {
      timedLines += 1;
    } else {
      throw new HistoryError('bad-field', line, `"time" must be a finite number, got ${JSON.stringify(time)}`);
    }
    if (timedLines > 0 && untimedLines > 0) {
      throw new HistoryError('bad-field', line, '"time" must be on every line or on none');
    }
    events.push({
      process: process as number,
      type: type as EventType,
      f: f as KvFunction,
      key: key === undefined ? '' : String(key),
      value: valueOf(fields.value, line),
      ...(error === undefined ? {} : { error }),
      time: time === undefined ? line : (time as number),
      line,
    });
  }
  return events;
}

function valueOf(value: unknown, line: number): HistoryEvent['value'] {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length !== 2) throw new HistoryError('bad-field', line, `a "value" array must be [from, to], got ${JSON.stringify(value)}`);
    return [scalarOf(value[0], line), scalarOf(value[1], line)];
  }
  return scalarOf(value, line);
}

function scalarOf(value: unknown, line: number): Value {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new HistoryError('bad-field', line, `a value must be a string, number or null, got ${JSON.stringify(value)}`);
}
