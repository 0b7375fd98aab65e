// The storage and state-machine part of a restart, timed step by step on a data directory that
// holds a snapshot (for instance one kept by `bench/snapshot-stall.ts --dir <dir>`). Not a test.
//
//   npx tsx bench/snapshot-install.ts --dir <data dir> [--src path/to/src]
//
// As RaftNode.open and installSnapshotFile do (src/server/node.ts): openStorage (which checks the
// newest snapshot completely and reads the WAL), then openSnapshot → next() → restorer.push until
// the end, then finishRestore. Prints the milliseconds of each step as one JSON line.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as StorageModule from '../src/storage/index.js';
import type * as StateModule from '../src/state/index.js';

const { values: flags } = parseArgs({
  options: {
    dir: { type: 'string' },
    src: { type: 'string', default: path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'src') },
  },
});

async function main(): Promise<void> {
  if (flags.dir === undefined) throw new Error('--dir is required');
  const src = path.resolve(flags.src);
  const { openStorage } = await import(pathToFileURL(path.join(src, 'storage/index.ts')).href) as typeof StorageModule;
  const { StateMachine } = await import(pathToFileURL(path.join(src, 'state/index.ts')).href) as typeof StateModule;
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const started = performance.now();
  const { storage, recovered } = await openStorage(flags.dir, { logger: quiet });
  const opened = performance.now();
  if (recovered.snapshot === undefined) throw new Error(`no snapshot in ${flags.dir}`);
  const reader = await storage.openSnapshot({ index: recovered.snapshot.meta.index, term: recovered.snapshot.meta.term });
  const machine = new StateMachine();
  const restorer = machine.beginRestore();
  let readMs = 0;
  let pushMs = 0;
  for (;;) {
    const before = performance.now();
    const chunk = await reader.next();
    const read = performance.now();
    readMs += read - before;
    if (chunk === undefined) break;
    restorer.push(chunk);
    pushMs += performance.now() - read;
  }
  const finishing = performance.now();
  machine.finishRestore(restorer);
  const done = performance.now();
  await reader.close();
  await storage.close();
  process.stdout.write(`${JSON.stringify({
    src, openStorageMs: Math.round(opened - started), readMs: Math.round(readMs), pushMs: Math.round(pushMs),
    finishRestoreMs: Math.round(done - finishing), totalMs: Math.round(done - started),
  })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
