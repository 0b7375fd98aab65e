// Shared pieces for the storage tests: a logger that records what storage said, and entry makers.
import type { Entry, EntryKind } from '../../../src/raft/types.js';
import type { StorageLogger } from '../../../src/storage/logger.js';

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

export class RecordingLogger implements StorageLogger {
  readonly lines: LogLine[] = [];

  info(fields: object, message: string): void {
    this.lines.push({ level: 'info', message, fields: fields as Record<string, unknown> });
  }

  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', message, fields: fields as Record<string, unknown> });
  }

  error(fields: object, message: string): void {
    this.lines.push({ level: 'error', message, fields: fields as Record<string, unknown> });
  }

  /** Lines at warn or error level. */
  get problems(): LogLine[] {
    return this.lines.filter((line) => line.level !== 'info');
  }

  find(fragment: string): LogLine | undefined {
    return this.lines.find((line) => line.message.includes(fragment));
  }
}

export function entry(index: number, term: number, data: string | Uint8Array = `v${index}`, kind: EntryKind = 'normal'): Entry {
  return { index, term, kind, data: typeof data === 'string' ? Buffer.from(data) : data };
}

export function entries(first: number, last: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = first; index <= last; index++) out.push(entry(index, term));
  return out;
}

/** index:term pairs, for compact and readable assertions. */
export function shape(list: readonly Entry[]): string {
  return list.map((e) => `${e.index}:${e.term}`).join(' ');
}

export function sameEntry(a: Entry, b: Entry): boolean {
  return a.index === b.index && a.term === b.term && a.kind === b.kind && Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) === 0
    && JSON.stringify(a.change === undefined ? null : { ...a.change, context: Buffer.from(a.change.context).toString('hex') })
    === JSON.stringify(b.change === undefined ? null : { ...b.change, context: Buffer.from(b.change.context).toString('hex') });
}
