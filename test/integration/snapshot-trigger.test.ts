// The automatic snapshot rules (issue 3: "once the log passes a configurable size or entry
// count"), on a real 3-node cluster. The entry rule is set out of reach, so only the size rule
// can fire: a node snapshots once the entries logged since its last snapshot take at least
// --snapshot-log-bytes and at least as many bytes as that snapshot. Writes are large (8 KiB)
// and counted, so where each threshold falls is known; INFO raft's raft_snapshot_last_idx shows
// when a node snapshotted.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { useCluster, waitFor } from './helpers/cluster.js';

const VALUE = 'v'.repeat(8192);
const LOG_BYTES = 200_000;
const IDS = [1, 2, 3];

const shared = useCluster({ nodes: 3, extraArgs: ['--snapshot-entries', '1000000', '--snapshot-log-bytes', String(LOG_BYTES)] });
let client: Redis;

beforeAll(() => {
  client = shared.cluster.client(shared.leader);
});

async function snapshotIndex(id: number): Promise<number> {
  return Number((await shared.cluster.infoRaft(id)).raft_snapshot_last_idx);
}

async function writeKeys(count: number, round: number): Promise<void> {
  for (let k = 0; k < count; k++) expect(await client.set(`key:${k}`, `${round}:${VALUE}`)).toBe('OK');
}

describe('snapshots by log size', () => {
  it('are not taken below the size, then taken by every node once the log passes it', async () => {
    await writeKeys(20, 0); // about 165 KB logged: below the size
    // Every node has applied these writes (the leader acknowledged them; wait for the others)
    // and checks the rules after each batch, so none may have snapshotted.
    await shared.cluster.waitForConvergence(IDS);
    for (const id of IDS) expect(await snapshotIndex(id)).toBe(0);
    await writeKeys(10, 1); // about 247 KB: past it (the snapshot comes at about 200 KB, with the 20 keys)
    for (const id of IDS) await waitFor(`node ${id} to snapshot`, async () => (await snapshotIndex(id)) > 0);
  });

  it('waits for the log to grow as large as the last snapshot before the next one', async () => {
    const before = await Promise.all(IDS.map(snapshotIndex));
    // A 1 MiB value: the log passes the size at once, and the next snapshot holds it.
    expect(await client.set('ballast', 'b'.repeat(1 << 20))).toBe('OK');
    for (const [k, id] of IDS.entries()) {
      await waitFor(`node ${id} to snapshot the ballast`, async () => {
        const info = await shared.cluster.infoRaft(id);
        return Number(info.raft_snapshot_last_idx) > (before[k] as number) && Number(info.raft_snapshot_size) > (1 << 20);
      });
    }
    const withBallast = await Promise.all(IDS.map(snapshotIndex));
    await writeKeys(60, 2); // about 500 KB logged since: past the size, short of the snapshot
    await shared.cluster.waitForConvergence(IDS);
    expect(await Promise.all(IDS.map(snapshotIndex))).toEqual(withBallast);
    await writeKeys(100, 3); // about 1.3 MB: past both
    for (const [k, id] of IDS.entries()) {
      await waitFor(`node ${id} to snapshot again`, async () => (await snapshotIndex(id)) > (withBallast[k] as number));
    }
  });
});
