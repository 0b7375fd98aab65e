// The nemesis's verdicts can fail: hand-made histories in the format the harness records, each
// with one known defect (a stale read, an acknowledged write missing from the final read, a
// write the server said had failed but that took effect, a torn transaction read), must each be
// caught, and their correct twins must pass. Also pins how error replies are classified, since
// calling an unknown outcome "failed" would hide exactly the bugs the nemesis is for.
import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../../src/check/index.js';
import { checkKeys, FINAL_READ_PROCESS_BASE, phantomWrites, tornReads } from './verify.js';
import { classifyError } from './workload.js';

type Line = [process: number, type: HistoryEvent['type'], f: HistoryEvent['f'], key: string, value: HistoryEvent['value'], time: number, error?: string];

function events(lines: readonly Line[]): HistoryEvent[] {
  return lines.map(([process, type, f, key, value, time, error], at) => ({
    process, type, f, key, value, time, line: at + 1, ...(error === undefined ? {} : { error }),
  }));
}

const FINAL = FINAL_READ_PROCESS_BASE;

describe('nemesis verdicts', () => {
  it('passes a history with unknown writes that took effect late', () => {
    const verdicts = checkKeys(events([
      [0, 'invoke', 'write', 'k0', '0-1', 10],
      [0, 'ok', 'write', 'k0', '0-1', 20],
      [2, 'invoke', 'write', 'k0', '1-2', 30],
      [2, 'info', 'write', 'k0', undefined, 40, 'TIMEOUT the command was not confirmed in time'],
      [0, 'invoke', 'read', 'k0', undefined, 50],
      [0, 'ok', 'read', 'k0', '0-1', 60],
      [FINAL, 'invoke', 'read', 'k0', undefined, 100],
      [FINAL, 'ok', 'read', 'k0', '1-2', 110],
    ]), 5000);
    expect(verdicts.map((v) => v.result)).toEqual(['linearizable']);
  });

  it('catches a stale read', () => {
    const verdicts = checkKeys(events([
      [0, 'invoke', 'write', 'k0', '0-1', 10],
      [0, 'ok', 'write', 'k0', '0-1', 20],
      [0, 'invoke', 'write', 'k0', '0-2', 30],
      [0, 'ok', 'write', 'k0', '0-2', 40],
      [2, 'invoke', 'read', 'k0', undefined, 50],
      [2, 'ok', 'read', 'k0', '0-1', 60],
    ]), 5000);
    expect(verdicts[0]?.result).toBe('not-linearizable');
  });

  it('catches an acknowledged write missing from the final read', () => {
    const verdicts = checkKeys(events([
      [0, 'invoke', 'write', 'k0', '0-1', 10],
      [0, 'ok', 'write', 'k0', '0-1', 20],
      [2, 'invoke', 'write', 'k0', '1-2', 30],
      [2, 'ok', 'write', 'k0', '1-2', 40],
      [FINAL, 'invoke', 'read', 'k0', undefined, 100],
      [FINAL, 'ok', 'read', 'k0', '0-1', 110],
    ]), 5000);
    expect(verdicts[0]?.result).toBe('not-linearizable');
    expect(verdicts[0]?.explanation.join('\n')).toContain('final read');
  });

  it('catches a write reported as not applied that took effect', () => {
    const verdicts = checkKeys(events([
      [0, 'invoke', 'write', 'k0', '0-1', 10],
      [0, 'fail', 'write', 'k0', undefined, 20, 'ERR the command was lost in a leader change; it was not applied'],
      [FINAL, 'invoke', 'read', 'k0', undefined, 100],
      [FINAL, 'ok', 'read', 'k0', '0-1', 110],
    ]), 5000);
    expect(verdicts[0]?.result).toBe('not-linearizable');
  });

  it('names a write reported as not applied whose value was seen, by a read or by a cas', () => {
    const lost = 'ERR the command was lost in a leader change; it was not applied';
    const history = events([
      [0, 'invoke', 'write', 'k0', '0-1', 10],
      [0, 'fail', 'write', 'k0', undefined, 20, lost],
      [2, 'invoke', 'cas', 'k1', ['x', '1-2'], 10],
      [2, 'fail', 'cas', 'k1', undefined, 20, lost],
      [4, 'invoke', 'write', 'k2', '2-3', 10],
      [4, 'fail', 'write', 'k2', undefined, 20, 'CLUSTERDOWN no leader'],
      [6, 'invoke', 'read', 'k0', undefined, 30],
      [6, 'ok', 'read', 'k0', '0-1', 40],
      [8, 'invoke', 'cas', 'k1', ['1-2', '4-5'], 30],
      [8, 'ok', 'cas', 'k1', ['1-2', '4-5'], 40],
      // Seen before the error reply arrived (the reply came late, after a snapshot install).
      [10, 'invoke', 'write', 'k3', '5-6', 50],
      [12, 'invoke', 'read', 'k3', undefined, 60],
      [12, 'ok', 'read', 'k3', '5-6', 70],
      [10, 'fail', 'write', 'k3', undefined, 80, lost],
    ]);
    expect(phantomWrites(history).map((p) => [p.key, p.value, p.seenBy])).toEqual([['k0', '0-1', 6], ['k1', '1-2', 8], ['k3', '5-6', 12]]);
  });

  it('checks each key on its own and names the bad one', () => {
    const verdicts = checkKeys(events([
      [0, 'invoke', 'write', 'k0', '0-1', 10],
      [0, 'ok', 'write', 'k0', '0-1', 20],
      [2, 'invoke', 'read', 'k1', undefined, 30],
      [2, 'ok', 'read', 'k1', '0-1', 40],
    ]), 5000);
    expect(verdicts.map((v) => [v.key, v.result])).toEqual([['k0', 'linearizable'], ['k1', 'not-linearizable']]);
  });

  it('finds transaction reads that saw the two keys of a pair differ', () => {
    const history = events([
      [0, 'invoke', 'write', 't0.a', 't0-1', 10],
      [1, 'invoke', 'write', 't0.b', 't0-1', 10],
      [0, 'ok', 'write', 't0.a', 't0-1', 20],
      [1, 'ok', 'write', 't0.b', 't0-1', 20],
      [2, 'invoke', 'read', 't0.a', undefined, 30],
      [3, 'invoke', 'read', 't0.b', undefined, 30],
      [2, 'ok', 'read', 't0.a', 't0-1', 40],
      [3, 'ok', 'read', 't0.b', 't0-1', 40],
      [4, 'invoke', 'read', 't0.a', undefined, 50],
      [5, 'invoke', 'read', 't0.b', undefined, 50],
      [4, 'ok', 'read', 't0.a', 't0-1', 60],
      [5, 'ok', 'read', 't0.b', null, 60],
    ]);
    expect(tornReads(history)).toEqual([{ pair: 't0', process: 4, time: 60, a: 't0-1', b: null }]);
    expect(tornReads(history.slice(0, 8))).toEqual([]);
  });

  it.each([
    ['TIMEOUT the command was not confirmed in time: it may or may not have been applied', 'info'],
    ['ERR connection to the leader lost: the command may or may not have been applied', 'info'],
    ['Command timed out', 'info'],
    ['Connection is closed.', 'info'],
    ['some error nobody expected', 'info'],
    ['CLUSTERDOWN no leader elected within 2000 ms', 'fail'],
    ['TRYAGAIN this node lost leadership; retry', 'fail'],
    ['ERR the command was lost in a leader change; it was not applied', 'fail'],
    ['TIMEOUT the command was applied, but this node caught up through a snapshot and has no reply for it', 'info'],
    ['TIMEOUT this node caught up through a snapshot: the command may or may not have been applied', 'info'],
    ["Stream isn't writeable and enableOfflineQueue options is false", 'fail'],
  ])('classifies %j as %s', (message, outcome) => {
    expect(classifyError(message)).toBe(outcome);
  });
});
