// A leader whose disk fills up hands over: it can no longer write its log, so it must not keep
// the cluster's leadership while refusing every write. Three real nodes; node 1's data directory
// is moved onto a small tmpfs (needs root to mount; skipped otherwise), node 1 is made leader,
// and its disk is filled through writes. The others must elect a leader that can write, and
// writes sent to the cluster must succeed again, all without freeing node 1's disk.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from './helpers/cluster.js';

const canMount = process.getuid?.() === 0;
if (!canMount) console.warn('disk-full-leader.test.ts skipped: needs root to mount a small tmpfs');

describe.skipIf(!canMount)('a leader whose disk is full', () => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'raftis-full-leader-'));
  let cluster: TestCluster | undefined;

  afterAll(async () => {
    await cluster?.close();
    try {
      execFileSync('umount', ['-l', mount]);
    } catch {
      // not mounted
    }
    fs.rmSync(mount, { recursive: true, force: true });
  });

  it('loses leadership to a node that can write, and the cluster takes writes again', { timeout: 180_000 }, async () => {
    // With --async-writes, where it takes a rule of its own (a failing disk makes every batch
    // synchronous again); with the default synchronous writes the loop holds the batch anyway.
    const live = await TestCluster.start({ nodes: 3, extraArgs: ['--async-writes'] });
    cluster = live;
    await live.waitForLeader();
    // Move node 1's data onto a 3 MiB tmpfs and bring it back there.
    await live.kill(1);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount]);
    const dataDir = live.node(1).dataDir;
    fs.cpSync(dataDir, mount, { recursive: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.symlinkSync(mount, dataDir);
    await live.restart(1);
    // Make node 1 the leader.
    await waitFor('node 1 to lead', async () => {
      const leader = await live.waitForLeader();
      if (leader === 1) return true;
      await live.client(leader).call('CLUSTER', 'FAILOVER', 'TO', '1').catch(() => undefined);
      return undefined;
    }, 30_000, 200);
    // Fill its disk: 64 KiB values until a write is refused.
    const client = live.client(1, { maxRetriesPerRequest: 0 });
    const value = 'v'.repeat(64 * 1024);
    let refused = '';
    for (let k = 0; k < 200 && refused === ''; k++) {
      await client.set(`big:${k}`, value).catch((error: unknown) => { refused = String(error); });
    }
    expect(refused).toMatch(/MISCONF|TIMEOUT/);
    // Another node takes over, with node 1's disk still full.
    const next = await waitFor('a new leader that is not node 1', async () => {
      const leader = await live.waitForLeader([2, 3]).catch(() => undefined);
      return leader !== undefined && leader !== 1 ? leader : undefined;
    }, 30_000, 200);
    const writer = live.client(next);
    await waitFor('a write through the new leader', async () => (await writer.set('after', 'ok').catch(() => undefined)) === 'OK' || undefined, 15_000, 100);
    expect(await writer.get('after')).toBe('ok');
  });
});
