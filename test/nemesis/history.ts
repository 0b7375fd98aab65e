// What the run records: every client operation as two JSON lines (its invocation, then its
// completion), in the raftis history format that `raftis check-history --format json` reads
// (docs/linearizability.md), and every fault as a line of the nemesis log. Lines are written
// synchronously as they happen, so a harness that dies mid-run still leaves a readable history.
//
// Time is nanoseconds since the run started (process.hrtime), the same clock for both files;
// run.json records the wall-clock start so the node logs' epoch-millisecond times can be lined
// up with it.
import fs from 'node:fs';
import type { EventType, HistoryEvent, KvFunction, Value } from '../../src/check/index.js';

export type Outcome = 'ok' | 'fail' | 'info';
export type RecordedValue = Value | readonly [Value, Value] | undefined;

export class RunClock {
  private readonly startNs = process.hrtime.bigint();
  readonly startWallMs = Date.now();

  /** Nanoseconds since the run started. */
  now(): number {
    return Number(process.hrtime.bigint() - this.startNs);
  }
}

export class HistoryRecorder {
  private readonly fd: number;
  /** Every event so far, as the checker's parser would read them back from the file. */
  readonly events: HistoryEvent[] = [];
  /** The node each invocation went to, by `${process}@${time}` (see verify.ts NodeOf). */
  private readonly nodes = new Map<string, number>();

  constructor(readonly file: string, private readonly clock: RunClock) {
    this.fd = fs.openSync(file, 'w');
  }

  /** `node`: the node the client sent it to (an extra field the checker ignores; for diagnosis). */
  invoke(process: number, f: KvFunction, key: string, value: RecordedValue, node?: number, time = this.clock.now()): number {
    this.write({ process, type: 'invoke', f, key, value, time }, node);
    return time;
  }

  complete(process: number, type: Outcome, f: KvFunction, key: string, value: RecordedValue, error?: string,
    time = this.clock.now()): number {
    this.write({ process, type, f, key, value, time, ...(error === undefined ? {} : { error }) });
    return time;
  }

  private write(event: { process: number; type: EventType; f: KvFunction; key: string; value: RecordedValue; time: number; error?: string },
    node?: number): void {
    const line = this.events.length + 1;
    this.events.push({ ...event, line });
    const record: Record<string, unknown> = { process: event.process, type: event.type, f: event.f, key: event.key };
    if (event.value !== undefined) record.value = event.value;
    record.time = event.time;
    if (event.error !== undefined) record.error = event.error;
    if (node !== undefined) {
      record.node = node;
      this.nodes.set(`${event.process}@${event.time}`, node);
    }
    fs.writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }

  nodeOf(process: number, callTime: number): number | undefined {
    return this.nodes.get(`${process}@${callTime}`);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** The nemesis log: one JSON line per fault started, healed or observed. */
export class EventLog {
  private readonly fd: number;
  readonly entries: Record<string, unknown>[] = [];

  constructor(readonly file: string, private readonly clock: RunClock, private readonly echo: (line: string) => void) {
    this.fd = fs.openSync(file, 'w');
  }

  log(event: string, detail: Record<string, unknown> = {}): void {
    const entry = { time: this.clock.now(), wall: new Date().toISOString(), event, ...detail };
    this.entries.push(entry);
    fs.writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    const seconds = (entry.time / 1e9).toFixed(1).padStart(6);
    const words = Object.entries(detail).map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    this.echo(`[${seconds}s] ${event}${words.length > 0 ? ` ${words.join(' ')}` : ''}`);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
