// Small files a node keeps beside its log (cluster.json, peers.json): written whole to a
// temporary file, fsynced, then renamed over the old one, so a crash leaves the old or the new
// file, never a torn one.
import fs from 'node:fs/promises';
import path from 'node:path';

/** Replaces `file` by `body` atomically; with `syncDir`, the rename itself is made durable too. */
export async function writeFileAtomic(file: string, body: string, syncDir: boolean): Promise<void> {
  const temporary = `${file}.tmp`;
  const handle = await fs.open(temporary, 'w');
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, file);
  if (!syncDir) return;
  const dir = await fs.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
