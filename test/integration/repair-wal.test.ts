// `raftis server --repair-wal` on a follower whose WAL is corrupt in the middle, with the same
// leader in charge throughout (issue #3). The repair cuts the follower's log below entries it had
// acknowledged; the leader used to keep its old match index for it and ignore its rejections as
// stale, so it never caught up. Now the repaired node says so in its transport hello and the
// leader probes it from scratch. Real `raftis server` processes (helpers/cluster.ts); every wait
// is a poll with a deadline.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCluster } from './helpers/cluster.js';

const shared = useCluster({ nodes: 3 });

/** Flips one byte inside `marker` in whichever WAL segment of node `id` holds it. */
function corrupt(id: number, marker: string): string {
  const dir = path.join(shared.cluster.node(id).dataDir, 'wal');
  for (const name of fs.readdirSync(dir).filter((file) => file.endsWith('.wal'))) {
    const file = path.join(dir, name);
    const bytes = fs.readFileSync(file);
    const at = bytes.indexOf(marker);
    if (at < 0) continue;
    // Well before the end (99 writes follow it, each its own batch): valid records follow the
    // damage, so this is corruption, not a torn tail.
    expect(bytes.length - at).toBeGreaterThan(2_000);
    bytes[at + 2] = bytes[at + 2]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    return file;
  }
  throw new Error(`no WAL segment of node ${id} holds ${marker}`);
}

describe('--repair-wal on a follower', () => {
  it('cuts its log at the corrupt record, and it catches up from the same leader', async () => {
    const leader = await shared.cluster.waitForLeader();
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const writer = shared.cluster.client(leader);
    // One write at a time, so each is its own WAL batch on the follower.
    for (let at = 0; at < 200; at++) expect(await writer.set(`k${at}`, at === 100 ? 'MARKER-in-the-middle' : `v${at}`)).toBe('OK');
    await shared.cluster.waitForConvergence([1, 2, 3]);
    const termBefore = (await shared.cluster.infoRaft(leader)).raft_current_term;

    expect(await shared.cluster.kill(follower, 'SIGTERM')).toBe(0);
    corrupt(follower, 'MARKER-in-the-middle');

    // Without --repair-wal it refuses to start.
    await shared.cluster.spawn(follower, [], false);
    expect(await shared.cluster.node(follower).exited).toBe(1);
    expect(shared.cluster.logs(follower)).toMatch(/storage corruption in .*\.wal at byte \d+: checksum mismatch/);

    await shared.cluster.spawn(follower, ['--repair-wal']);
    expect(shared.cluster.logs(follower)).toMatch(/repair: cutting the WAL at the first bad record/);
    // The log as the repair left it, from the node's own 'storage recovered' line: by the time an
    // INFO answers, the leader may already have sent the cut entries again (under load it did).
    const recovered = shared.cluster.logs(follower).split('\n').filter((line) => line.includes('"storage recovered"'));
    expect(recovered.length).toBeGreaterThan(0);
    expect((JSON.parse(recovered.at(-1)!) as { lastIndex: number }).lastIndex).toBeLessThan(105);

    for (let at = 200; at < 250; at++) expect(await writer.set(`k${at}`, `v${at}`)).toBe('OK');
    const digest = await shared.cluster.waitForConvergence([leader, follower], 20_000);
    expect(Number(digest.split(':')[0])).toBeGreaterThan(250);
    // The same leader, in the same term, all along: no election helped.
    const after = await shared.cluster.infoRaft(leader);
    expect(after.raft_role).toBe('leader');
    expect(after.raft_current_term).toBe(termBefore);
    expect(shared.cluster.logs(leader)).toMatch(/peer says its log lost entries it had acknowledged/);
  });
});
