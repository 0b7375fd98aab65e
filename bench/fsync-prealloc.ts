// The file system alone: what an append plus fdatasync costs at the end of a growing file, against
// the same write into a file zero-filled ahead of it (as a preallocated WAL segment would be). Not
// a test: numbers depend on the machine. Run with
//
//   npx tsx bench/fsync-prealloc.ts [--dir <directory on the disk to measure>] [--writes 3000]
//                                   [--bytes 2048] [--prealloc-mib <size of the zero fill>] [--rounds 3]
//
// On ext4 without a journal (the development machine), an fdatasync after an append also writes
// the inode for the new size; into zero-filled space it writes the data only. Prints, per round and
// variant, the wall time and the process's CPU time (user + system) per write and fdatasync.
// Synchronous calls on purpose: this measures the kernel's share, not libuv's thread pool.
// docs/performance.md has the figures: the twelfth session's, when a scratch build that zero-filled
// whole segments did not pay, and the fifteenth's, when the WAL began to preallocate in steps.
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    dir: { type: 'string', default: tmpdir() },
    writes: { type: 'string', default: '3000' },
    bytes: { type: 'string', default: '2048' },
    'prealloc-mib': { type: 'string' },
    rounds: { type: 'string', default: '3' },
  },
});

const writes = Number(flags.writes);
const bytes = Number(flags.bytes);
const preallocMib = flags['prealloc-mib'] === undefined ? Math.ceil((writes * bytes) / (1 << 20)) : Number(flags['prealloc-mib']);
const dir = mkdtempSync(join(flags.dir, 'fsync-prealloc-'));
const block = Buffer.alloc(bytes, 7);

function run(variant: 'append' | 'prealloc'): string {
  const path = join(dir, `${variant}.wal`);
  const fd = openSync(path, 'w+');
  try {
    if (variant === 'prealloc') {
      const zeros = Buffer.alloc(1 << 20);
      for (let mib = 0; mib < preallocMib; mib++) writeSync(fd, zeros, 0, zeros.length, mib << 20);
      fsyncSync(fd);
    }
    const cpuBefore = process.cpuUsage();
    const startMs = performance.now();
    for (let k = 0; k < writes; k++) {
      writeSync(fd, block, 0, bytes, k * bytes);
      fdatasyncSync(fd);
    }
    const wallUs = ((performance.now() - startMs) * 1000) / writes;
    const cpu = process.cpuUsage(cpuBefore);
    return `${variant.padEnd(8)} ${wallUs.toFixed(0)} µs wall, ${((cpu.user + cpu.system) / writes).toFixed(0)} µs CPU (system ${(cpu.system / writes).toFixed(0)}) per write and fdatasync`;
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

try {
  console.log(`${writes} writes of ${bytes} bytes, each followed by an fdatasync; zero fill ${preallocMib} MiB; in ${dir}`);
  for (let round = 1; round <= Number(flags.rounds); round++) {
    console.log(`round ${round}: ${run('append')}`);
    console.log(`round ${round}: ${run('prealloc')}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
