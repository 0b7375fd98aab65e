// A full disk on a real server: a single-node cluster keeps its data directory on a small tmpfs.
// Filling it makes the WAL's write fail with ENOSPC: the node refuses writes with -MISCONF,
// reports the failure in INFO raft, keeps serving reads, loses nothing it acknowledged, and
// accepts writes again once space is freed. Needs root (to mount tmpfs); skipped otherwise.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInfo, waitFor } from './helpers/cluster.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const canMount = process.getuid?.() === 0;
if (!canMount) console.warn('disk-full.test.ts skipped: needs root to mount a small tmpfs');

describe.skipIf(!canMount)('a full disk', () => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'raftis-full-'));
  const host = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}.1`;
  let child: ReturnType<typeof spawn> | undefined;
  let client: Redis;

  beforeAll(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount]);
    child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'server', '--id', '1', '--host', host,
      '--port', '7001', '--http-port', '0', '--data-dir', path.join(mount, 'n1'), '--tick-ms', '50', '--log-level', 'warn'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    client = new Redis({ host, port: 7001, maxRetriesPerRequest: 0, retryStrategy: () => 100, lazyConnect: true });
    client.on('error', () => undefined);
    await waitFor('the server to start', async () => {
      await client.connect().catch(() => undefined);
      return (await client.set('probe', '1').catch(() => undefined)) === 'OK' || undefined;
    }, 30_000, 100);
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    child?.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      execFileSync('umount', ['-l', mount]);
    } catch {
      // already gone
    }
    fs.rmSync(mount, { recursive: true, force: true });
  });

  it('refuses writes with MISCONF, keeps acknowledged data, and recovers when space is freed', { timeout: 120_000 }, async () => {
    const value = 'v'.repeat(64 * 1024);
    const acknowledged: string[] = [];
    let refusal = '';
    for (let k = 0; k < 200 && refusal === ''; k++) {
      try {
        await client.set(`big:${k}`, value);
        acknowledged.push(`big:${k}`);
      } catch (error) {
        refusal = String(error);
      }
    }
    expect(acknowledged.length).toBeGreaterThan(0);
    // The write that hit the full disk may time out; the ones after it are refused at once.
    await waitFor('writes to be refused with MISCONF', async () =>
      /MISCONF/.test(String(await client.set('after-full', 'x').catch((error: unknown) => error))) || undefined, 20_000, 100);
    const info = parseInfo(await client.info('raft'));
    expect(info.raft_disk_failure ?? '').toMatch(/ENOSPC|no space/i);
    // Linearizable reads need the driver loop, which holds the refused batch: they get an error
    // at once rather than hanging.
    await expect(client.strlen(acknowledged[0] as string)).rejects.toThrow(/TRYAGAIN .*disk/);
    // Make room (grow the filesystem): the node retries the held batch and accepts writes again.
    execFileSync('mount', ['-o', 'remount,size=64m', mount]);
    await waitFor('writes to be accepted again', async () => (await client.set('after-recovery', 'y').catch(() => undefined)) === 'OK' || undefined, 30_000, 200);
    for (const key of acknowledged) expect(await client.strlen(key)).toBe(value.length);
    expect(await client.get('after-recovery')).toBe('y');
  });
});
