// Partitions need root and nft. Without them the nemesis refuses a fault list that includes
// "partition", saying why, before it starts anything: no output folder, no nftables table, no
// node. In-process with process.getuid and PATH faked (so it runs as root or not), and once
// through the command line as an unprivileged user (uid 65534 when the test runs as root): exit 2
// and the message on stderr.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { partitionsUnavailable } from './net.js';
import { defaultRunOptions, refusal, runNemesis } from './run.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const NOBODY = 65534;

describe('nemesis without root or nft', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('refuses partitions without root, with the reason, and starts nothing', async () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    expect(partitionsUnavailable()).toMatch(/partitions need root/);
    expect(refusal({ faults: ['kill', 'partition'] })).toMatch(/partitions need root to add nftables rules; run as root, or leave "partition" out of --faults/);
    expect(refusal({ faults: ['kill', 'pause', 'member', 'transfer'] })).toBeUndefined();
    const out = path.join(os.tmpdir(), `nemesis-refusal-${process.pid}-${Date.now()}`);
    await expect(runNemesis({ ...defaultRunOptions, faults: ['partition'], seed: 1, out, echo: () => undefined }))
      .rejects.toThrow(/partitions need root/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses partitions as root when the nft command is missing', () => {
    vi.spyOn(process, 'getuid').mockReturnValue(0);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'nemesis-empty-path-'));
    try {
      vi.stubEnv('PATH', empty);
      expect(refusal({ faults: ['partition'] })).toMatch(/partitions need the nft command \(apt-get install nftables\)/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('the command line exits 2 with the message when not run as root', async () => {
    const out = path.join(os.tmpdir(), `nemesis-refusal-cli-${process.pid}-${Date.now()}`);
    const asRoot = process.getuid?.() === 0;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'main.ts'), '--faults', 'kill,partition', '--time', '1', '--out', out], {
      cwd: path.join(HERE, '../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
      // HOME: tsx and npm must not try to write into root's home as nobody.
      ...(asRoot ? { uid: NOBODY, gid: NOBODY, env: { ...process.env, HOME: os.tmpdir() } } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, stderr: stderr.trim(), stdout }).toEqual({
      code: 2,
      stderr: 'nemesis: refusing to run: partitions need root to add nftables rules; run as root, or leave "partition" out of --faults',
      stdout: '',
    });
    expect(fs.existsSync(out)).toBe(false);
  }, 60_000);
});
