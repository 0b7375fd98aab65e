// Readers for two histories Jepsen writes (see /work/shared/conformance/linearizability/README.md
// and docs/linearizability.md):
//
// - `jepsen-register`: the log lines jepsen.util prints for a single register,
//       INFO  jepsen.util - 3	:invoke	:cas	[3 0]
//   process, type, function and value separated by tabs or spaces;
// - `jepsen-kv`: one EDN map a line, as in a Jepsen history.edn,
//       {:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y"}
//
// In both, time is the line order, unless every kv line carries a `:time`. A keyword where a
// completion's value would be (`:timed-out`) is the error Jepsen recorded. Lines of the nemesis
// (its process is a keyword, not a number) are skipped: they are not client operations.

import { kvFunctions, type KvFunction, type Value } from './models.js';
import { HistoryError, type EventType, type HistoryEvent } from './history.js';

const eventTypes: readonly EventType[] = ['invoke', 'ok', 'fail', 'info'];

const registerLine = /^INFO\s+jepsen\.util\s+-\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/;

export function parseJepsenRegisterHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = index + 1;
    if (raw.trim() === '') continue;
    const match = registerLine.exec(raw.trim());
    if (match === null) throw new HistoryError('bad-line', line, `not a jepsen.util operation line: ${JSON.stringify(raw)}`);
    const [, processText, typeText, fText, valueText] = match as unknown as [string, string, string, string, string];
    if (processText.startsWith(':')) continue;
    const reader = new EdnReader(`${processText} ${typeText} ${fText} ${valueText}`, line);
    const process = reader.read();
    const type = reader.read();
    const f = reader.read();
    const value = valueText.trim() === '' ? undefined : reader.read();
    reader.expectEnd();
    events.push(toEvent({ process, type, f, key: undefined, value, time: undefined }, line));
  }
  return events;
}

export function parseJepsenKvHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  let timedLines = 0;
  let untimedLines = 0;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = index + 1;
    if (raw.trim() === '') continue;
    const reader = new EdnReader(raw, line);
    const map = reader.read();
    reader.expectEnd();
    if (!(map instanceof Map)) throw new HistoryError('bad-line', line, 'expected an EDN map {:process ..., :type ..., ...}');
    const process = map.get('process');
    if (process instanceof Keyword) continue;
    const time = map.get('time');
    if (time === undefined) untimedLines += 1;
    else timedLines += 1;
    if (timedLines > 0 && untimedLines > 0) throw new HistoryError('bad-field', line, ':time must be on every line or on none');
    events.push(toEvent(
      { process, type: map.get('type'), f: map.get('f'), key: map.get('key'), value: map.get('value'), time },
      line,
    ));
  }
  return events;
}

interface RawEvent {
  readonly process: Edn | undefined;
  readonly type: Edn | undefined;
  readonly f: Edn | undefined;
  readonly key: Edn | undefined;
  readonly value: Edn | undefined;
  readonly time: Edn | undefined;
}

function toEvent(raw: RawEvent, line: number): HistoryEvent {
  const { process, type, f, key, value, time } = raw;
  if (typeof process !== 'number' || !Number.isInteger(process)) throw new HistoryError('bad-field', line, `the process must be an integer, got ${show(process)}`);
  if (!(type instanceof Keyword) || !eventTypes.includes(type.name as EventType)) throw new HistoryError('bad-field', line, `the type must be one of :${eventTypes.join(', :')}, got ${show(type)}`);
  if (!(f instanceof Keyword) || !kvFunctions.includes(f.name as KvFunction)) throw new HistoryError('bad-field', line, `the function must be one of :${kvFunctions.join(', :')}, got ${show(f)}`);
  if (key !== undefined && typeof key !== 'string' && typeof key !== 'number') throw new HistoryError('bad-field', line, `the key must be a string or number, got ${show(key)}`);
  if (time !== undefined && typeof time !== 'number') throw new HistoryError('bad-field', line, `:time must be a number, got ${show(time)}`);
  const isCompletion = type.name !== 'invoke';
  let eventValue: HistoryEvent['value'];
  let error: string | undefined;
  if (value instanceof Keyword && isCompletion) {
    error = value.name;
  } else if (Array.isArray(value)) {
    if (value.length !== 2) throw new HistoryError('bad-field', line, `a vector value must be [from to], got ${show(value)}`);
    eventValue = [scalarOf(value[0], line), scalarOf(value[1], line)];
  } else if (value !== undefined) {
    eventValue = scalarOf(value, line);
  }
  return {
    process,
    type: type.name as EventType,
    f: f.name as KvFunction,
    key: key === undefined ? '' : String(key),
    value: eventValue,
    ...(error === undefined ? {} : { error }),
    time: time === undefined ? line : time,
    line,
  };
}

function scalarOf(value: Edn | undefined, line: number): Value {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new HistoryError('bad-field', line, `a value must be a string, number or nil, got ${show(value)}`);
}

function show(value: Edn | undefined): string {
  if (value === undefined) return 'nothing';
  if (value instanceof Keyword) return `:${value.name}`;
  if (value instanceof Map) return '{...}';
  return JSON.stringify(value);
}

// A reader for the part of EDN that Jepsen histories use: maps with keyword keys, vectors,
// strings, integers, nil, booleans and keywords. Commas are whitespace, as in Clojure.

class Keyword {
  constructor(readonly name: string) {}
}

type Edn = string | number | boolean | null | Keyword | Edn[] | Map<string, Edn>;

class EdnReader {
  private position = 0;

  constructor(
    private readonly text: string,
    private readonly line: number,
  ) {}

  read(): Edn {
    this.skipSpace();
    const c = this.text[this.position];
    if (c === undefined) this.fail('unexpected end of line');
    if (c === '{') return this.readMap();
    if (c === '[' || c === '(') return this.readVector(c === '[' ? ']' : ')');
    if (c === '"') return this.readString();
    if (c === ':') return new Keyword(this.readToken().slice(1));
    const token = this.readToken();
    if (token === 'nil') return null;
    if (token === 'true') return true;
    if (token === 'false') return false;
    if (/^[-+]?\d+(\.\d+)?$/.test(token)) return Number(token);
    return this.fail(`unexpected ${JSON.stringify(token)}`);
  }

  expectEnd(): void {
    this.skipSpace();
    if (this.position < this.text.length) this.fail(`unexpected ${JSON.stringify(this.text.slice(this.position))}`);
  }

  private readMap(): Map<string, Edn> {
    this.position += 1;
    const map = new Map<string, Edn>();
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === '}') {
        this.position += 1;
        return map;
      }
      const key = this.read();
      if (!(key instanceof Keyword)) this.fail(`map keys must be keywords, got ${show(key)}`);
      map.set(key.name, this.read());
    }
  }

  private readVector(close: string): Edn[] {
    this.position += 1;
    const items: Edn[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === close) {
        this.position += 1;
        return items;
      }
      items.push(this.read());
    }
  }

  private readString(): string {
    let result = '';
    this.position += 1;
    for (;;) {
      const c = this.text[this.position];
      if (c === undefined) this.fail('unterminated string');
      this.position += 1;
      if (c === '"') return result;
      if (c !== '\\') {
        result += c;
        continue;
      }
      const escaped = this.text[this.position];
      this.position += 1;
      switch (escaped) {
        case 'n': result += '\n'; break;
        case 't': result += '\t'; break;
        case 'r': result += '\r'; break;
        case '"': result += '"'; break;
        case '\\': result += '\\'; break;
        default: this.fail(`unsupported escape \\${escaped ?? ''}`);
      }
    }
  }

  private readToken(): string {
    const start = this.position;
    while (this.position < this.text.length && !/[\s,{}[\]()"]/.test(this.text[this.position]!)) this.position += 1;
    if (this.position === start) this.fail(`unexpected ${JSON.stringify(this.text[start])}`);
    return this.text.slice(start, this.position);
  }

  private skipSpace(): void {
    while (this.position < this.text.length && /[\s,]/.test(this.text[this.position]!)) this.position += 1;
  }

  private fail(message: string): never {
    throw new HistoryError('bad-line', this.line, `${message} (column ${this.position + 1})`);
  }
}
