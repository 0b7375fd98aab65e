// Proves the simulated disk behaves as the storage tests assume: synced data and synced directory
// operations survive a crash; unsynced ones survive only as a prefix, the last one possibly torn
// at a PRNG-chosen byte, reproducibly for a seed; a full disk writes what fits and then fails
// with ENOSPC; a failed sync loses the pending writes for good; files from before a reboot are
// stale. If the simulator lied, every crash test built on it would prove nothing.
import { describe, expect, it } from 'vitest';
import { SimDisk } from '../../../src/storage/sim-fs.js';

async function writeFile(disk: SimDisk, path: string, text: string, sync: boolean): Promise<void> {
  const fs = disk.mount();
  const file = await fs.open(path, 'create');
  await file.write(Buffer.from(text), 0);
  if (sync) await file.sync();
  await file.close();
}

describe('SimDisk', () => {
  it('keeps synced data and synced names across a crash', async () => {
    const disk = new SimDisk(1);
    const fs = disk.mount();
    await fs.mkdir('/d');
    await writeFile(disk, '/d/a', 'hello', true);
    await fs.fsyncDir('/d');
    disk.crash();
    disk.reboot();
    expect(disk.contents('/d/a')?.toString()).toBe('hello');
  });

  it('loses a file whose creation was never made durable, even if its data was synced', async () => {
    // Try seeds until the reboot keeps none of the pending directory operations.
    for (let seed = 0; seed < 50; seed++) {
      const disk = new SimDisk(seed);
      await disk.mount().mkdir('/d');
      await writeFile(disk, '/d/a', 'hello', true);
      disk.crash();
      const report = disk.reboot();
      if (report.dirs[0]?.keptOps === 0) {
        expect(disk.contents('/d/a')).toBeUndefined();
        return;
      }
      expect(disk.contents('/d/a')?.toString()).toBe('hello');
    }
    throw new Error('no seed lost the creation');
  });

  it('keeps a prefix of unsynced writes, tearing the last kept one, and is reproducible per seed', async () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      const run = async (): Promise<string> => {
        const disk = new SimDisk(seed);
        const fs = disk.mount();
        await fs.mkdir('/d');
        const file = await fs.open('/d/log', 'create');
        await file.write(Buffer.from('AAAA'), 0);
        await file.sync();
        await fs.fsyncDir('/d');
        await file.write(Buffer.from('BBBB'), 4);
        await file.write(Buffer.from('CCCC'), 8);
        disk.crash();
        disk.reboot();
        return disk.contents('/d/log')!.toString();
      };
      const first = await run();
      expect(await run()).toBe(first);
      expect(first.startsWith('AAAA')).toBe(true);
      expect('AAAABBBBCCCC'.startsWith(first)).toBe(true);
      outcomes.add(first);
    }
    // Every cut point happens: nothing kept, torn inside B, B whole, torn inside C, everything.
    expect(outcomes).toContain('AAAA');
    expect(outcomes).toContain('AAAABB');
    expect(outcomes).toContain('AAAABBBB');
    expect(outcomes).toContain('AAAABBBBCC');
    expect(outcomes).toContain('AAAABBBBCCCC');
  });

  it('fails every call after a scheduled crash, and makes old files stale after reboot', async () => {
    const disk = new SimDisk(3);
    const fs = disk.mount();
    await fs.mkdir('/d');
    const file = await fs.open('/d/x', 'create');
    disk.crashAfterOps(1);
    await file.write(Buffer.from('1'), 0);
    await expect(file.sync()).rejects.toMatchObject({ code: 'ECRASH' });
    await expect(fs.readdir('/d')).rejects.toMatchObject({ code: 'ECRASH' });
    disk.reboot();
    await expect(file.write(Buffer.from('2'), 0)).rejects.toMatchObject({ code: 'ESTALE' });
    await expect(fs.readdir('/d')).rejects.toMatchObject({ code: 'ESTALE' });
    await expect(disk.mount().readdir('/d')).resolves.toBeDefined();
  });

  it('writes what fits on a full disk, then fails with ENOSPC', async () => {
    const disk = new SimDisk(4);
    const fs = disk.mount();
    await fs.mkdir('/d');
    disk.capacityBytes = 10;
    const file = await fs.open('/d/x', 'create');
    await file.write(Buffer.from('123456'), 0);
    await expect(file.write(Buffer.from('abcdef'), 6)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(disk.contents('/d/x')?.toString()).toBe('123456abcd');
    // Overwriting in place needs no space.
    await file.write(Buffer.from('XY'), 0);
    await file.truncate(6);
    disk.capacityBytes = 100;
    await file.write(Buffer.from('abcdef'), 6);
    expect(disk.contents('/d/x')?.toString()).toBe('XY3456abcdef');
  });

  it('forgets pending writes after a failed sync, even if a later sync succeeds', async () => {
    const disk = new SimDisk(5);
    const fs = disk.mount();
    await fs.mkdir('/d');
    const file = await fs.open('/d/x', 'create');
    await file.write(Buffer.from('durable'), 0);
    await file.sync();
    await fs.fsyncDir('/d');
    await file.write(Buffer.from('-lost'), 7);
    disk.injectFault({ op: 'sync', code: 'EIO' });
    await expect(file.sync()).rejects.toMatchObject({ code: 'EIO' });
    expect(disk.contents('/d/x')?.toString()).toBe('durable-lost');
    await file.sync();
    disk.crash();
    disk.reboot();
    expect(disk.contents('/d/x')?.toString()).toBe('durable');
  });

  it('injects faults only on matching calls, as many times as asked', async () => {
    const disk = new SimDisk(6);
    const fs = disk.mount();
    await fs.mkdir('/d');
    disk.injectFault({ op: 'create', code: 'EIO', pathIncludes: 'b', count: 2 });
    await expect(fs.open('/d/a', 'create')).resolves.toBeDefined();
    await expect(fs.open('/d/b', 'create')).rejects.toMatchObject({ code: 'EIO' });
    await expect(fs.open('/d/b', 'create')).rejects.toMatchObject({ code: 'EIO' });
    await expect(fs.open('/d/b', 'create')).resolves.toBeDefined();
  });
});
