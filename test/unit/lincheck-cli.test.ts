// `raftis check-history` as a script would use it: a real process (run from source through
// tsx, so no build is needed), its last line of output and its exit code. Histories in the JSON
// format are written to a temporary folder; the Jepsen formats are read from the shared
// conformance folder when it is present.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const conformanceDir = path.resolve(repoRoot, '../shared/conformance/linearizability');
const workDir = mkdtempSync(path.join(tmpdir(), 'raftis-lincheck-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

function runCli(...args: string[]): { status: number | null; stdout: string; stderr: string; lastLine: string } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check-history', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 30_000,
  });
  const lines = child.stdout.trimEnd().split('\n');
  return { status: child.status, stdout: child.stdout, stderr: child.stderr, lastLine: lines[lines.length - 1] ?? '' };
}

function writeHistory(name: string, records: object[]): string {
  const file = path.join(workDir, name);
  writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return file;
}

// Process 1 reads after process 0's write of "1" completed.
const staleRead = (seen: string | null) => [
  { process: 0, type: 'invoke', f: 'write', key: 'x', value: '1', time: 10 },
  { process: 0, type: 'ok', f: 'write', key: 'x', value: '1', time: 20 },
  { process: 1, type: 'invoke', f: 'read', key: 'x', time: 30 },
  { process: 1, type: 'ok', f: 'read', key: 'x', value: seen, time: 40 },
];

describe('raftis check-history', () => {
  it('prints "linearizable" last and exits 0 for a linearizable history', () => {
    const run = runCli('--model', 'register', writeHistory('ok.jsonl', staleRead('1')));
    expect(run.stderr).toBe('');
    expect(run.lastLine).toBe('linearizable');
    expect(run.status).toBe(0);
  });

  it('prints "not linearizable" last, with the key at fault, and exits 1 for a stale read', () => {
    const run = runCli('--model', 'kv', '--format', 'json', writeHistory('bad.jsonl', staleRead(null)));
    expect(run.lastLine).toBe('not linearizable');
    expect(run.stdout).toContain('key "x" has no linearization');
    expect(run.status).toBe(1);
  });

  it('exits 2 with the line at fault for a history it cannot read', () => {
    const file = writeHistory('broken.jsonl', [{ process: 0, type: 'ok', f: 'read', value: null }]);
    const run = runCli('--model', 'register', file);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('line 1: process 0 completes an operation it never invoked');
    expect(run.stdout).not.toMatch(/linearizable/);
  });

  it('exits 2 for a usage error', () => {
    const run = runCli('--model', 'queue', writeHistory('any.jsonl', staleRead('1')));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('model');
  });

  it.skipIf(!existsSync(conformanceDir))('reads the Jepsen formats and reaches their verdicts', () => {
    const good = runCli('--model', 'register', '--format', 'jepsen-register', path.join(conformanceDir, 'jepsen-register/etcd_005.log'));
    expect([good.lastLine, good.status]).toEqual(['linearizable', 0]);
    const bad = runCli('--model', 'kv', '--format', 'jepsen-kv', path.join(conformanceDir, 'kv/c10-bad.txt'));
    expect([bad.lastLine, bad.status]).toEqual(['not linearizable', 1]);
  });

  it.skipIf(!existsSync(conformanceDir))('exits 2 with "unknown" last when the timeout runs out', () => {
    const run = runCli('--model', 'kv', '--format', 'jepsen-kv', '--timeout', '0.000001', path.join(conformanceDir, 'kv/c50-ok.txt'));
    expect(run.lastLine).toBe('unknown');
    expect(run.stderr).toContain('timeout ran out');
    expect(run.status).toBe(2);
  });
});
